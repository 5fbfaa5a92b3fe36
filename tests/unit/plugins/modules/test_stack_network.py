# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""stack_network and nft_table's network check, against real Podman networks.

``systemctl`` is a stand-in on PATH that logs its calls and, for the
network's service, does what Quadlet's network unit does: ``podman network
create --ignore`` with the unit's subnet. Podman itself is real."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.ai_system.containers.plugins.modules import nft_table, stack_network

needs_podman = pytest.mark.skipif(shutil.which("podman") is None, reason="Podman is absent")
pytestmark = [pytest.mark.podman, needs_podman]

PLAN = "10.213.9.0/24"
OTHER = "10.213.10.0/24"


@pytest.fixture
def network(tmp_path, monkeypatch):
    name = "ai-nettest-%d" % os.getpid()
    log = tmp_path / "systemctl.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "systemctl"
    script.write_text(
        "#!/bin/sh\n"
        "echo \"$*\" >> %s\n"
        "if [ \"$1\" = restart ] && [ \"$2\" = %s-network.service ]; then\n"
        "  exec podman network create --ignore --subnet %s %s >/dev/null\n"
        "fi\n" % (log, name, PLAN, name))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ["PATH"])
    yield name, log
    subprocess.run(["podman", "network", "rm", "-f", name], capture_output=True, timeout=60, check=False)


def create(name, subnet):
    subprocess.run(["podman", "network", "create", "--subnet", subnet, name], check=True,
                   capture_output=True, timeout=60)


def args(name, **more):
    return dict({"name": name, "subnet": PLAN, "network_service": "%s-network.service" % name,
                 "services": ["ai-core.service"]}, **more)


def test_an_absent_network_is_left_to_quadlet(network, run_module):
    name, log = network
    result, failed = run_module(stack_network.main, args(name))
    assert not failed and not result["changed"] and result["subnets_before"] is None
    assert not log.exists()


def test_a_network_with_the_plans_subnet_is_left_alone(network, run_module):
    name, log = network
    create(name, PLAN)
    result, failed = run_module(stack_network.main, args(name))
    assert not failed and not result["changed"] and result["subnets"] == [PLAN]
    assert not log.exists()


def test_a_network_of_another_range_is_recreated_with_the_plans(network, run_module):
    name, log = network
    create(name, OTHER)
    preview, failed = run_module(stack_network.main, args(name), check=True)
    assert not failed and preview["changed"] and preview["subnets_before"] == [OTHER]
    assert not log.exists(), "check mode runs nothing"
    result, failed = run_module(stack_network.main, args(name))
    assert not failed, result["msg"]
    assert result["changed"] and result["subnets_before"] == [OTHER] and result["subnets"] == [PLAN]
    assert log.read_text().splitlines() == ["daemon-reload", "restart %s-network.service" % name]
    again, failed = run_module(stack_network.main, args(name))
    assert not failed and not again["changed"]


def test_the_firewall_refuses_to_guard_a_subnet_the_network_does_not_have(network, run_module,
                                                                          tmp_path):
    name, dummy = network
    create(name, OTHER)
    result, failed = run_module(nft_table.main, {
        "lan_address": "10.0.0.17", "subnet": PLAN, "openings": [], "network": name,
        "path": str(tmp_path / "firewall.nft")}, check=True)
    assert failed
    assert "has %s on this host, but the table guards %s" % (OTHER, PLAN) in result["msg"]
    assert result["network_subnets"] == [OTHER]
