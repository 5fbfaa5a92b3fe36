# -*- coding: utf-8 -*-
"""firewall_rules: reads the state file, decides open and close, changes nothing."""

from __future__ import annotations

import json

from ansible_collections.ai_system.containers.plugins.modules import firewall_rules

LAN = "10.0.0.17"
MEMORY = {"port": 7140, "proto": "tcp", "source": "10.0.0.16", "source_host": "mainpc",
          "group": "store", "agent": "Memory"}
MOVED = dict(MEMORY, source="10.0.0.18", source_host="pc3")


def rule(source, port=7140):
    return ('rule family="ipv4" source address="%s" destination address="%s" '
            'port port="%s" protocol="tcp" accept' % (source, LAN, port))


def args(state_file, openings):
    return {"openings": openings, "lan_address": LAN, "state_file": str(state_file)}


def test_first_run_opens_every_rule(tmp_path, run_module):
    result, failed = run_module(firewall_rules.main, args(tmp_path / "rules.json", [MEMORY]))
    assert not failed and result["changed"] is False
    assert result["open"] == [{"rule": rule("10.0.0.16"), "label": "7140 <- mainpc (Memory)"}]
    assert result["close"] == [] and result["added"] == [rule("10.0.0.16")]
    assert result["state_file_format"] == "none"
    assert json.loads(result["state_text"]) == [dict(MEMORY, rule=rule("10.0.0.16"))]
    assert not (tmp_path / "rules.json").exists()


def test_consumer_changed_on_the_same_port_closes_the_old_rule(tmp_path, run_module):
    state = tmp_path / "rules.json"
    first, dummy = run_module(firewall_rules.main, args(state, [MEMORY]))
    state.write_text(first["state_text"])
    result, failed = run_module(firewall_rules.main, args(state, [MOVED]))
    assert not failed and result["state_file_format"] == "rules"
    assert [r["rule"] for r in result["open"]] == [rule("10.0.0.18")]
    assert result["close"] == [{"rule": rule("10.0.0.16"), "label": "7140 <- mainpc (Memory)"}]
    assert result["state"] == [dict(MOVED, rule=rule("10.0.0.18"))]


def test_a_second_run_with_the_same_plan_closes_and_adds_nothing(tmp_path, run_module):
    state = tmp_path / "rules.json"
    first, dummy = run_module(firewall_rules.main, args(state, [MEMORY]))
    state.write_text(first["state_text"])
    again, dummy = run_module(firewall_rules.main, args(state, [MEMORY]))
    assert again["close"] == [] and again["added"] == []
    assert again["state_text"] == state.read_text()


def test_the_older_state_file_of_openings_is_read(tmp_path, run_module):
    state = tmp_path / "rules.json"
    state.write_text(json.dumps([MEMORY], indent=4, sort_keys=True) + "\n")
    same, failed = run_module(firewall_rules.main, args(state, [MEMORY]))
    assert not failed and same["state_file_format"] == "openings"
    assert same["close"] == [] and same["added"] == []
    # It is rewritten with the rules, once.
    assert same["state_text"] != state.read_text()
    moved, dummy = run_module(firewall_rules.main, args(state, [MOVED]))
    assert [c["rule"] for c in moved["close"]] == [rule("10.0.0.16")]


def test_check_mode_decides_the_same_and_writes_nothing(tmp_path, run_module):
    state = tmp_path / "rules.json"
    first, dummy = run_module(firewall_rules.main, args(state, [MEMORY]))
    state.write_text(first["state_text"])
    before = state.read_text()
    result, failed = run_module(firewall_rules.main, args(state, [MOVED]), check=True)
    assert not failed and result["changed"] is False
    assert [c["rule"] for c in result["close"]] == [rule("10.0.0.16")]
    assert state.read_text() == before


def test_a_broken_state_file_fails_naming_it(tmp_path, run_module):
    state = tmp_path / "rules.json"
    state.write_text('{"port": 7140}')
    result, failed = run_module(firewall_rules.main, args(state, [MEMORY]))
    assert failed
    assert result["msg"] == (
        "firewall state file %s cannot be read: it holds a dict, not a list of rules; it lists "
        "the rich rules the last run opened: repair or remove it (and close those rules by hand)"
        % state)


def test_an_unreadable_state_file_fails_naming_it(tmp_path, run_module):
    state = tmp_path / "rules.json"
    state.mkdir()
    result, failed = run_module(firewall_rules.main, args(state, [MEMORY]))
    assert failed and result["msg"].startswith("firewall state file %s cannot be read: " % state)


def test_an_opening_without_a_port_is_refused(tmp_path, run_module):
    bad = {k: v for k, v in MEMORY.items() if k != "port"}
    result, failed = run_module(firewall_rules.main, args(tmp_path / "rules.json", [bad]))
    assert failed and "port" in result["msg"]
