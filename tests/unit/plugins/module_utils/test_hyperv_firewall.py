# -*- coding: utf-8 -*-
"""The Hyper-V firewall script of a WSL2 host, from the plan's openings.

The golden files tests/fixtures/hyperv/<host>.ps1 hold the scripts for the
production plan. The test derives the expected ports and peers on its own,
from inventory/production's YAML (who connects to which agent on the other
host, and the peers' ai_lan_address), not from the plan or the function.
Regenerate after an intended change with AI_SYSTEM_UPDATE_GOLDEN=1. The
scripts were not run on Windows by these tests.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.host import hyperv_firewall as hv
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PRODUCTION = os.path.join(REPO, "inventory", "production")
GOLDEN = os.path.join(REPO, "tests", "fixtures", "hyperv")
PATH = "/etc/ai-system/hyperv-firewall.ps1"
NEW_RULE = re.compile(
    r"^New-NetFirewallHyperVRule -Name '(?P<name>[^']+)' -DisplayName '[^']+' -Direction Inbound "
    r"-VMCreatorId \$VMCreatorId -Protocol (?P<proto>TCP|UDP) -LocalPorts (?P<port>\d+) "
    r"-RemoteAddresses (?P<sources>'[^']+'(?:, '[^']+')*) -Action Allow \| Out-Null$", re.M)


def host_yaml(host, name):
    with open(os.path.join(PRODUCTION, "host_vars", host, name)) as handle:
        return yaml.safe_load(handle)


def expected_openings():
    """host -> {(proto, port): {peer addresses}}: every agent of a host that a
    group of another host connects to, open to that host's address."""
    hosts = sorted(os.listdir(os.path.join(PRODUCTION, "host_vars")))
    groups = {h: host_yaml(h, "groups.yml")["ai_groups"] for h in hosts}
    address = {h: host_yaml(h, "host.yml")["ai_lan_address"] for h in hosts}
    ports = {h: {agent: spec["port"] for group in groups[h].values()
                 for agent, spec in (group.get("agents") or {}).items()} for h in hosts}
    out = {h: {} for h in hosts}
    for consumer in hosts:
        for group in groups[consumer].values():
            for entry in group.get("connects_to") or []:
                # An entry is a name or {agent: name, localhost: ...};
                # "pc2/AuthenticationAgent" names the host; a bare name is the
                # consumer's own agent where it has one, else the other host's.
                name = entry["agent"] if isinstance(entry, dict) else entry
                owner, _sep, agent = name.rpartition("/")
                if not owner:
                    owner = consumer if agent in ports[consumer] else next(
                        h for h in hosts if agent in ports[h])
                if owner != consumer:
                    out[owner].setdefault(("TCP", ports[owner][agent]), set()).add(address[consumer])
    return out


@pytest.fixture(scope="module")
def plan():
    result = build_plan(load_inventory_dir(PRODUCTION))
    assert result["errors"] == [], result["errors"]
    return result["hosts"]


@pytest.mark.parametrize("host", ["mainpc", "pc2"])
def test_golden_script_opens_exactly_the_cross_host_ports_to_exactly_the_peers(plan, host):
    text = hv.hyperv_script(host, plan[host]["firewall"], PATH)
    golden = os.path.join(GOLDEN, "%s.ps1" % host)
    if os.environ.get("AI_SYSTEM_UPDATE_GOLDEN") == "1":
        with open(golden, "w") as handle:
            handle.write(text)
    with open(golden) as handle:
        assert text == handle.read(), "the script differs from %s" % golden
    found = {(m["proto"], int(m["port"])): set(re.findall(r"'([^']+)'", m["sources"]))
             for m in NEW_RULE.finditer(text)}
    assert found == expected_openings()[host]
    assert len(NEW_RULE.findall(text)) == len(found), "one rule per port"
    names = [m["name"] for m in NEW_RULE.finditer(text)]
    assert all(n.startswith("ai-system-%s-" % host) for n in names)
    assert "$Planned = @(%s)" % ", ".join("'%s'" % n for n in names) in text
    assert "Remove-NetFirewallHyperVRule -Name $_.Name" in text
    assert "#Requires -RunAsAdministrator" in text
    assert "'{40E0AC32-46A5-438A-A0B2-2B479E8F2E90}'" in text


def test_the_production_mainpc_opens_only_the_twin_port_to_pc2():
    # The one cross-host port of MainPC, written out as a reader checks it.
    assert expected_openings()["mainpc"] == {("TCP", 7120): {"192.168.100.17"}}


def test_two_peers_on_one_port_share_one_rule_and_no_opening_removes_every_rule():
    openings = [{"port": 7120, "source": "10.0.0.17", "agent": "Twin", "group": "core"},
                {"port": 7120, "proto": "tcp", "source": "10.0.0.9", "agent": "Twin", "group": "core"},
                {"port": 9000, "proto": "udp", "source": "10.0.0.17"}]
    rules = hv.hyperv_rules("mainpc", openings)
    assert [(r["name"], r["sources"]) for r in rules] == [
        ("ai-system-mainpc-tcp-7120", ["10.0.0.9", "10.0.0.17"]),
        ("ai-system-mainpc-udp-9000", ["10.0.0.17"])]
    empty = hv.hyperv_script("mainpc", [])
    assert "$Planned = @()" in empty and "New-NetFirewallHyperVRule" not in empty


@pytest.mark.parametrize("host, openings, message", [
    ("main pc", [], "cannot be part of a Hyper-V firewall rule name"),
    ("mainpc", [{"port": 70000, "source": "10.0.0.1"}], "port 70000 is not a TCP/UDP port"),
    ("mainpc", [{"port": 7120, "source": "pc2.lan"}], "does not appear to be an IPv4 or IPv6 address"),
    ("mainpc", [{"port": 7120, "proto": "sctp", "source": "10.0.0.1"}], "neither tcp nor udp"),
])
def test_bad_input_is_refused(host, openings, message):
    with pytest.raises(ValueError, match=message):
        hv.hyperv_script(host, openings)


def test_quotes_in_names_are_escaped_for_powershell():
    text = hv.hyperv_script("mainpc", [{"port": 1, "source": "10.0.0.1", "agent": "O'Brien", "group": "g"}])
    code = [line for line in text.splitlines() if not line.startswith("#")]
    assert any("O''Brien" in line for line in code)
    assert not any("O'Brien" in line for line in code)


class FakeModule:
    def __init__(self, params, check_mode=False, diff=True):
        self.params, self.check_mode, self._diff = params, check_mode, diff


def test_the_module_writes_only_when_the_text_differs_and_never_in_check_mode(tmp_path):
    path = str(tmp_path / "etc" / "hyperv-firewall.ps1")
    params = {"host": "mainpc", "path": path,
              "openings": [{"port": 7120, "proto": "tcp", "source": "10.0.0.17", "agent": "Twin", "group": "core"}]}
    checked = hv.run(FakeModule(params, check_mode=True))
    assert checked["changed"] and not os.path.exists(path)
    assert "New-NetFirewallHyperVRule" in checked["diff"]["after"]
    first = hv.run(FakeModule(params))
    assert first["changed"] and first["rules"][0]["name"] == "ai-system-mainpc-tcp-7120"
    with open(path) as handle:
        assert handle.read() == hv.hyperv_script("mainpc", params["openings"], path)
    assert hv.run(FakeModule(params))["changed"] is False
    bad = hv.run(FakeModule(dict(params, openings=[{"port": 7120, "source": "nowhere"}])))
    assert bad["failed"] and "hyperv_firewall:" in bad["msg"]
