# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the package_versions module: main() with real module arguments.

The package manager commands are answered by a fake ``run_command`` with
real output; where this machine has apt, one test also asks the real one.
"""

from __future__ import annotations

import shutil

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.modules import package_versions
from support.package_samples import TRIXIE_PINNED, only

# LANG=C apt-cache policy podman python3-zmq python3-pynvml nosuchpkg (apt
# prints nothing for nosuchpkg)
APT_POLICY = only(TRIXIE_PINNED, ["podman", "python3-zmq", "python3-pynvml"])

RPM_QUERY = "package podman is not installed\npython3-zmq 25.1.2\n"
DNF_REPOQUERY = "podman 5.4.0\n\npython3-zmq 25.1.2\n\n"


@pytest.fixture
def host(monkeypatch):
    """A host with the given commands; records every command line and its environment."""

    class Host(object):
        tools = ()
        answers = {}
        calls = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return "/usr/bin/" + name if name in Host.tools else None

    def run_command(self, args, environ_update=None, **kwargs):
        Host.calls.append((args, environ_update))
        return Host.answers[args[0].rsplit("/", 1)[-1]]

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    Host.calls = []
    return Host


@pytest.mark.parametrize("check", [False, True])
def test_apt(run_module, host, check):
    host.tools = ("apt-cache",)
    host.answers = {"apt-cache": (0, APT_POLICY, "")}
    names = ["podman", "python3-zmq", "python3-pynvml", "nosuchpkg"]
    result, failed = run_module(package_versions.main, {"names": names}, check=check)
    assert not failed
    assert result["changed"] is False
    assert result["manager"] == "apt"
    assert result["missing"] == ["python3-pynvml", "nosuchpkg"]
    assert result["packages"]["podman"] == {
        "installed": "5.4.2+ds1-2+b2", "candidate": "5.4.2+ds1-2+b2",
        "installed_version": "5.4.2", "candidate_version": "5.4.2",
        "newest_version": "5.4.2", "available": True}
    assert result["packages"]["python3-zmq"]["newest_version"] == "24.0.1"
    assert host.calls == [(["/usr/bin/apt-cache", "policy"] + names,
                           {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"})]


def test_dnf(run_module, host):
    host.tools = ("rpm", "dnf")
    host.answers = {"rpm": (1, RPM_QUERY, ""), "dnf": (0, DNF_REPOQUERY, "")}
    result, failed = run_module(package_versions.main, {"names": ["podman", "python3-zmq"], "manager": "dnf"})
    assert not failed
    assert result["manager"] == "dnf"
    assert result["missing"] == []
    assert result["packages"]["podman"]["installed"] is None
    assert result["packages"]["podman"]["newest_version"] == "5.4.0"
    assert result["packages"]["python3-zmq"]["installed_version"] == "25.1.2"
    assert [argv[:3] for argv, env in host.calls] == [
        ["/usr/bin/rpm", "--query", "--queryformat"], ["/usr/bin/dnf", "--quiet", "repoquery"]]


def test_a_failing_command_fails_the_module(run_module, host):
    host.tools = ("rpm", "dnf")
    host.answers = {"rpm": (0, "podman 5.2.2\n", ""),
                    "dnf": (1, "", "Error: Failed to download metadata for repo 'epel'\n")}
    result, failed = run_module(package_versions.main, {"names": ["podman"], "manager": "dnf"})
    assert failed
    assert result["msg"] == ("dnf repoquery failed with exit status 1: "
                             "Error: Failed to download metadata for repo 'epel'")
    assert result["manager"] == "dnf"
    assert result["packages"] == {} and result["missing"] == []


def test_a_host_without_the_package_manager_fails_the_module(run_module, host):
    host.tools = ()
    result, failed = run_module(package_versions.main, {"names": ["podman"]})
    assert failed
    assert result["msg"] == "manager=auto found neither apt-cache nor rpm on this host's PATH"


def test_an_option_among_the_names_fails_the_module(run_module, host):
    host.tools = ("apt-cache",)
    result, failed = run_module(package_versions.main, {"names": ["podman", "--all-versions"]})
    assert failed
    assert result["msg"] == "not package names: '--all-versions'"
    assert host.calls == []


def test_an_unknown_manager_is_refused(run_module, host):
    result, failed = run_module(package_versions.main, {"names": ["podman"], "manager": "zypper"})
    assert failed
    assert "value of manager must be one of: auto, apt, dnf" in result["msg"]


@pytest.mark.skipif(not shutil.which("apt-cache"), reason="this machine has no apt")
def test_the_real_apt(run_module):
    result, failed = run_module(package_versions.main,
                                {"names": ["apt", "ai-system-no-such-package"], "manager": "apt"})
    assert not failed, result
    assert result["missing"] == ["ai-system-no-such-package"]
    assert result["packages"]["apt"]["installed"]
    assert result["packages"]["apt"]["installed_version"]
