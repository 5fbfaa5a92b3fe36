# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nft_table: brings the loaded table and its file to the plan, reports changed only when it did.

Most tests run the module against real nft in a network namespace of its own
(an ``nft`` on PATH that runs there); they are skipped, with the reason, where
namespaces cannot be made.  The failure paths use a stand-in for the command.
"""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.module_utils.host import nft_run, nft_state
from ansible_collections.ai_system.containers.plugins.modules import nft_table
from support import nft_netns as net

LAN, SUBNET = "10.0.0.17", "172.21.0.0/16"
MEMORY = {"port": 7140, "proto": "tcp", "source": "10.0.0.16", "source_host": "mainpc",
          "group": "store", "agent": "Memory"}

NETNS_MISSING = net.available()
needs_netns = pytest.mark.skipif(NETNS_MISSING is not None, reason=str(NETNS_MISSING))


def args(path, openings=(MEMORY,), **more):
    values = {"lan_address": LAN, "subnet": SUBNET, "openings": list(openings), "path": str(path)}
    values.update(more)
    return values


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A namespace of its own whose nft the module finds first on PATH."""
    space = net.Netns("nfttable%d" % os.getpid())
    space.create()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", space.fake_nft(str(bindir)) + os.pathsep + os.environ["PATH"])
    yield space
    space.delete()


def tables(space):
    return space.nft("list", "tables").stdout.split()


# --------------------------------------------------------------------------
# Against nft
# --------------------------------------------------------------------------

@needs_netns
def test_first_run_writes_the_file_and_loads_the_table(kernel, tmp_path, run_module):
    path = tmp_path / "etc" / "firewall.nft"
    result, failed = run_module(nft_table.main, args(path))
    assert not failed, result
    assert result["changed"] is True and result["file_written"] is True and result["loaded"] is True
    assert result["matches"] is False and result["present"] is False
    assert result["reason"] == "table inet ai_system is not loaded"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert path.read_text().startswith("# The AI system's firewall table")
    assert "ai_system" in tables(kernel)


@needs_netns
def test_second_run_changes_nothing(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    run_module(nft_table.main, args(path))
    result, failed = run_module(nft_table.main, args(path))
    assert not failed and result["changed"] is False
    assert result["matches"] is True and result["file_matches"] is True
    assert result["loaded"] is False and result["file_written"] is False
    assert result["missing"] == [] and result["extra"] == []


@needs_netns
def test_a_flushed_ruleset_is_loaded_again_though_the_file_did_not_change(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    run_module(nft_table.main, args(path))
    kernel.nft("flush", "ruleset")
    result, failed = run_module(nft_table.main, args(path))
    assert not failed and result["changed"] is True
    assert result["file_written"] is False and result["loaded"] is True and result["present"] is False
    again, dummy = run_module(nft_table.main, args(path))
    assert again["changed"] is False and again["matches"] is True


@needs_netns
def test_a_rule_added_by_hand_is_removed(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    run_module(nft_table.main, args(path))
    kernel.nft("insert", "rule", "inet", "ai_system", "forward", "ip", "saddr", "10.0.0.99", "accept")
    result, failed = run_module(nft_table.main, args(path))
    assert not failed and result["changed"] is True and result["loaded"] is True
    assert result["extra"] == ["forward: ip saddr 10.0.0.99 accept"]
    assert "10.0.0.99" not in kernel.nft("list", "ruleset").stdout


@needs_netns
def test_a_changed_plan_rewrites_the_file_and_replaces_the_table(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    run_module(nft_table.main, args(path))
    moved = dict(MEMORY, source="10.0.0.18", source_host="pc3")
    result, failed = run_module(nft_table.main, args(path, [moved]))
    assert not failed and result["file_written"] is True and result["loaded"] is True
    listed = kernel.nft("list", "ruleset").stdout
    assert "10.0.0.18" in listed and "10.0.0.16" not in listed


@needs_netns
def test_check_mode_reports_a_missing_table_and_changes_nothing(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    result, failed = run_module(nft_table.main, args(path), check=True)
    assert not failed and result["changed"] is True
    assert result["matches"] is False and result["file_matches"] is False
    assert result["missing"] == result["rules"] and len(result["rules"]) == 7
    assert result["file_written"] is False and result["loaded"] is False
    assert not path.exists() and "ai_system" not in tables(kernel)


@needs_netns
def test_check_mode_on_a_table_as_planned_reports_no_change(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    run_module(nft_table.main, args(path))
    result, failed = run_module(nft_table.main, args(path), check=True)
    assert not failed and result["changed"] is False and result["matches"] is True


@needs_netns
def test_check_mode_sees_a_file_that_differs_from_the_plan(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    run_module(nft_table.main, args(path))
    path.write_text(path.read_text().replace("10.0.0.16", "10.0.0.99"))
    result, failed = run_module(nft_table.main, args(path), check=True)
    assert not failed and result["matches"] is True and result["file_matches"] is False
    assert result["changed"] is True


@needs_netns
def test_diff_shows_the_file_and_the_loaded_rules(kernel, tmp_path, run_module):
    path = tmp_path / "firewall.nft"
    result, failed = run_module(nft_table.main, args(path), check=True, diff=True)
    assert not failed
    file_diff, table_diff = result["diff"]
    assert file_diff["before"] == "" and "table inet ai_system {" in file_diff["after"]
    assert table_diff["before"] == "" and table_diff["after"].splitlines() == result["rules"]


# --------------------------------------------------------------------------
# Failures, with a stand-in for nft
# --------------------------------------------------------------------------

class FakeNft:
    """Answers the module's nft calls: {first argument: (rc, out, err)}."""

    def __init__(self, monkeypatch, answers, found=True):
        self.calls = []
        self.answers = answers
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                            lambda module, name, *a, **k: "/usr/sbin/nft" if found else None)
        monkeypatch.setattr(basic.AnsibleModule, "run_command", self.run)

    def run(self, argv, **kwargs):
        self.calls.append(argv[1:])
        assert kwargs.get("environ_update", {}).get("LANG") == "C"
        answer = self.answers.get(argv[1])
        if callable(answer):
            return answer(argv)
        return answer or (0, "", "")


def absent(argv):
    return 1, "", "Error: No such file or directory\nlist table inet ai_system\n"


def test_without_nft_check_mode_reports_it_and_a_run_fails(tmp_path, monkeypatch, run_module):
    FakeNft(monkeypatch, {}, found=False)
    result, failed = run_module(nft_table.main, args(tmp_path / "f.nft"), check=True)
    assert not failed and result["matches"] is False
    assert result["reason"] == "nft is not installed (package nftables)"
    result, failed = run_module(nft_table.main, args(tmp_path / "f.nft"))
    assert failed and result["msg"] == "nft is not installed: install the nftables package"


def test_a_listing_nft_refuses_fails_with_its_message(tmp_path, monkeypatch, run_module):
    FakeNft(monkeypatch, {"-j": (1, "", "Error: Operation not permitted\n")})
    result, failed = run_module(nft_table.main, args(tmp_path / "f.nft"), check=True)
    assert failed
    assert result["msg"] == "nft -j list table inet ai_system failed (rc=1): Error: Operation not permitted"


def test_a_listing_that_is_not_json_fails(tmp_path, monkeypatch, run_module):
    FakeNft(monkeypatch, {"-j": (0, "table inet ai_system {", "")})
    result, failed = run_module(nft_table.main, args(tmp_path / "f.nft"), check=True)
    assert failed and result["msg"].startswith("nft -j list table inet ai_system printed no table: ")


def test_a_file_nft_refuses_is_not_written_and_the_old_one_stays(tmp_path, monkeypatch, run_module):
    path = tmp_path / "f.nft"
    path.write_text("old\n")
    fake = FakeNft(monkeypatch, {"-j": absent, "-c": (1, "", "Error: syntax error\n")})
    result, failed = run_module(nft_table.main, args(path))
    assert failed
    assert result["msg"] == "nft refused the table for %s (rc=1): Error: syntax error" % path
    assert path.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["f.nft"]
    assert ["-f", str(path)] not in fake.calls


def test_a_load_nft_refuses_fails_with_its_message(tmp_path, monkeypatch, run_module):
    FakeNft(monkeypatch, {"-j": absent, "-f": (1, "", "Error: Could not process rule: No such file\n")})
    result, failed = run_module(nft_table.main, args(tmp_path / "f.nft"))
    assert failed
    assert result["msg"] == ("nft -f %s failed (rc=1): Error: Could not process rule: No such file"
                             % (tmp_path / "f.nft"))


def test_a_load_that_leaves_the_table_different_fails_instead_of_changing_every_run(
        tmp_path, monkeypatch, run_module):
    FakeNft(monkeypatch, {"-j": absent})
    result, failed = run_module(nft_table.main, args(tmp_path / "f.nft"))
    assert failed
    assert result["msg"].startswith("loaded %s, but the kernel's table still differs from the plan: "
                                    "table inet ai_system is not loaded (missing [" % (tmp_path / "f.nft"))


def test_a_listing_that_matches_loads_nothing(tmp_path, monkeypatch, run_module):
    wanted = nft_state.wanted_table("ai_system", LAN, SUBNET, [MEMORY])
    path = tmp_path / "f.nft"
    path.write_text(nft_state.render(wanted, nft_run.HEADER))
    listing = {"nftables": [{"table": {"family": "inet", "name": "ai_system"}}]}
    fake = FakeNft(monkeypatch, {"-j": (0, json.dumps(listing), "")})
    monkeypatch.setattr(nft_run, "loaded_table", lambda doc, name: nft_state.LoadedTable(
        name, True, tuple(wanted.keys())))
    result, failed = run_module(nft_table.main, args(path))
    assert not failed and result["changed"] is False
    assert fake.calls == [["-j", "list", "table", "inet", "ai_system"]]


@pytest.mark.parametrize("change, message", [
    ({"lan_address": "pc2"}, "cannot build the firewall table: LAN address 'pc2' is not an IPv4 address"),
    ({"subnet": "172.21.0.0/33"}, "cannot build the firewall table: subnet '172.21.0.0/33' is not an IPv4 network"),
    ({"table": "ai-system"}, "cannot build the firewall table: table name 'ai-system' is not a plain nft name"),
    ({"openings": [dict(MEMORY, source="mainpc")]},
     "cannot build the firewall table: opening 1: source 'mainpc' is not an IPv4 address"),
])
def test_an_input_that_cannot_be_a_rule_fails_naming_it(tmp_path, monkeypatch, run_module, change, message):
    FakeNft(monkeypatch, {})
    result, failed = run_module(nft_table.main, dict(args(tmp_path / "f.nft"), **change))
    assert failed and result["msg"].startswith(message)
