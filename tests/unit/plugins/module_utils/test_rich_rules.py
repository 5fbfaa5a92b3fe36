# -*- coding: utf-8 -*-
"""rich_rules: exact rich rules, and rules closed by exact rule, not by port."""

from __future__ import annotations

import json

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host.rich_rules import (
    firewall_diff, parse_state, rich_rule, rule_label, state_text,
)

LAN = "10.0.0.17"
MEMORY = {"port": 7140, "proto": "tcp", "source": "10.0.0.16", "source_host": "mainpc",
          "group": "store", "agent": "Memory"}
REDIS = {"port": 6379, "proto": "tcp", "source": "10.0.0.16", "source_host": "mainpc",
         "group": "redis", "agent": "redis"}
RULE_MEMORY = ('rule family="ipv4" source address="10.0.0.16" destination address="10.0.0.17" '
               'port port="7140" protocol="tcp" accept')


def test_rich_rule_is_the_text_the_role_always_applied():
    assert rich_rule(MEMORY, LAN) == RULE_MEMORY
    assert rich_rule(dict(MEMORY, proto=None), LAN) == RULE_MEMORY


def test_labels_name_port_peer_and_agent():
    assert rule_label(MEMORY) == "7140 <- mainpc (Memory)"
    assert rule_label({"port": 7140, "source": "10.0.0.16"}) == "7140 <- 10.0.0.16"


def test_first_run_opens_every_rule_and_closes_none():
    diff = firewall_diff([MEMORY, REDIS], LAN, [])
    assert diff["open"] == [{"rule": RULE_MEMORY, "label": "7140 <- mainpc (Memory)"},
                            {"rule": rich_rule(REDIS, LAN), "label": "6379 <- mainpc (redis)"}]
    assert diff["close"] == []
    assert diff["added"] == [RULE_MEMORY, rich_rule(REDIS, LAN)]
    assert diff["state"][0] == dict(MEMORY, rule=RULE_MEMORY)


def test_unchanged_plan_adds_and_closes_nothing():
    first = firewall_diff([MEMORY, REDIS], LAN, [])
    again = firewall_diff([MEMORY, REDIS], LAN, first["state"])
    assert again["close"] == [] and again["added"] == []
    assert [r["rule"] for r in again["open"]] == [r["rule"] for r in first["open"]]


def test_a_port_whose_consumer_changed_closes_its_old_rule():
    before = firewall_diff([MEMORY], LAN, [])["state"]
    moved = dict(MEMORY, source="10.0.0.18", source_host="pc3")
    diff = firewall_diff([moved], LAN, before)
    new_rule = rich_rule(moved, LAN)
    assert diff["open"] == [{"rule": new_rule, "label": "7140 <- pc3 (Memory)"}]
    assert diff["added"] == [new_rule]
    assert diff["close"] == [{"rule": RULE_MEMORY, "label": "7140 <- mainpc (Memory)"}]
    assert diff["state"] == [dict(moved, rule=new_rule)]


def test_a_second_consumer_on_the_same_port_keeps_the_first():
    before = firewall_diff([MEMORY], LAN, [])["state"]
    other = dict(MEMORY, source="10.0.0.18", source_host="pc3")
    diff = firewall_diff([MEMORY, other], LAN, before)
    assert diff["close"] == [] and diff["added"] == [rich_rule(other, LAN)]


def test_a_port_no_longer_published_is_closed():
    before = firewall_diff([MEMORY, REDIS], LAN, [])["state"]
    diff = firewall_diff([MEMORY], LAN, before)
    assert [c["rule"] for c in diff["close"]] == [rich_rule(REDIS, LAN)]


def test_a_changed_lan_address_closes_the_rules_of_the_old_one():
    before = firewall_diff([MEMORY], "10.0.0.99", [])["state"]
    entries, fmt = parse_state(state_text(before), LAN)
    diff = firewall_diff([MEMORY], LAN, entries)
    assert fmt == "rules"
    assert [c["rule"] for c in diff["close"]] == [rich_rule(MEMORY, "10.0.0.99")]
    assert diff["added"] == [RULE_MEMORY]


def test_duplicate_openings_are_one_rule():
    diff = firewall_diff([MEMORY, dict(MEMORY)], LAN, [])
    assert len(diff["open"]) == 1 and len(diff["state"]) == 1


def test_the_state_text_reads_back_as_the_same_entries():
    state = firewall_diff([MEMORY, REDIS], LAN, [])["state"]
    text = state_text(state)
    assert text.endswith("}\n]\n") and json.loads(text) == state
    assert parse_state(text, LAN) == (state, "rules")


def test_the_older_state_format_gets_its_rules_rendered():
    old = json.dumps([MEMORY, REDIS], indent=4, sort_keys=True) + "\n"
    entries, fmt = parse_state(old, LAN)
    assert fmt == "openings"
    assert [e["rule"] for e in entries] == [RULE_MEMORY, rich_rule(REDIS, LAN)]
    # Upgrading with the same plan closes nothing; with a new consumer the old rule goes.
    assert firewall_diff([MEMORY, REDIS], LAN, entries)["close"] == []
    moved = dict(MEMORY, source="10.0.0.18", source_host="pc3")
    assert [c["rule"] for c in firewall_diff([moved, REDIS], LAN, entries)["close"]] == [
        RULE_MEMORY]


def test_an_empty_list_is_the_new_format():
    assert parse_state("[]\n", LAN) == ([], "rules")


@pytest.mark.parametrize("text, message", [
    ("{not json", "it is not JSON ("),
    ('{"port": 1}', "it holds a dict, not a list of rules"),
    ("[1]", "entry 1 is a int, not a rule"),
    ('[{"rule": "x"}, {"port": 7140}]', "entry 2 has neither a rule nor a port and a source"),
])
def test_a_state_file_that_is_not_one_is_refused(text, message):
    with pytest.raises(ValueError) as err:
        parse_state(text, LAN)
    assert str(err.value).startswith(message)
