# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewalld rich rules of a host's cross-host ports, and what to close.

Pure Python, no Ansible imports. An opening of the plan (port, proto, source,
source_host, group, agent) becomes one exact rich rule; a rule is closed when
the last run opened it and the plan no longer wants it, whatever its port.

The state file lists the openings applied last, each with its exact ``rule``.
Files written before rules were stored hold the openings alone; their rules
are rendered again with the host's current LAN address.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Sequence, Tuple

Opening = Mapping[str, Any]

# The keys of an opening kept in the state file, besides its rule.
OPENING_KEYS = ("port", "proto", "source", "source_host", "group", "agent")


def rich_rule(opening: Opening, lan_address: str) -> str:
    """The firewalld rich rule that admits `opening` from its source only."""
    return ('rule family="ipv4" source address="%s" destination address="%s" '
            'port port="%s" protocol="%s" accept'
            % (opening["source"], lan_address, opening["port"], opening.get("proto") or "tcp"))


def rule_label(entry: Opening) -> str:
    """Short name of a rule for the task output: `7140 <- mainpc (Agent)`."""
    if entry.get("source_host") and entry.get("agent"):
        return "%s <- %s (%s)" % (entry["port"], entry["source_host"], entry["agent"])
    return "%s <- %s" % (entry["port"], entry["source"])


def state_entry(opening: Opening, lan_address: str) -> Dict[str, Any]:
    """An opening as the state file keeps it: its plan keys and its exact rule."""
    entry = {key: opening[key] for key in OPENING_KEYS if opening.get(key) is not None}
    entry["proto"] = entry.get("proto") or "tcp"
    entry["rule"] = rich_rule(opening, lan_address)
    return entry


def parse_state(text: str, lan_address: str) -> Tuple[List[Dict[str, Any]], str]:
    """(entries, format) of a state file's text; ValueError when it is not one.

    Each entry gets its rule: entries without one (format ``openings``, the
    older one) get the rule their opening renders to with `lan_address`;
    a file whose entries all carry their rule is format ``rules``.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("it is not JSON (%s)" % exc)
    if not isinstance(data, list):
        raise ValueError("it holds a %s, not a list of rules" % type(data).__name__)
    entries = []
    fmt = "rules"
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError("entry %d is a %s, not a rule" % (index + 1, type(item).__name__))
        if isinstance(item.get("rule"), str) and item["rule"]:
            entries.append(dict(item))
        elif item.get("port") is not None and item.get("source"):
            entries.append(dict(item, rule=rich_rule(item, lan_address)))
            fmt = "openings"
        else:
            raise ValueError("entry %d has neither a rule nor a port and a source" % (index + 1))
    return entries, fmt


def firewall_diff(openings: Sequence[Opening], lan_address: str,
                  previous: Sequence[Mapping[str, Any]]) -> Dict[str, List[Any]]:
    """{open, close, added, state}: every wanted rule, the previous rules no longer
    wanted, the wanted rules not in `previous`, and the entries the state file
    keeps from now on.

    `open` holds every wanted rule, not only new ones, so that a rule removed by
    hand is added again; `close` holds, by exact rule, those of `previous` that
    are not wanted, so a port whose consumer changed loses its old rule.
    """
    state: List[Dict[str, Any]] = []
    wanted = set()
    for opening in openings:
        entry = state_entry(opening, lan_address)
        if entry["rule"] not in wanted:
            wanted.add(entry["rule"])
            state.append(entry)
    close = []
    closing = set()
    before = {entry["rule"] for entry in previous}
    for entry in previous:
        if entry["rule"] not in wanted and entry["rule"] not in closing:
            closing.add(entry["rule"])
            close.append(entry)
    return {
        "open": [{"rule": e["rule"], "label": rule_label(e)} for e in state],
        "close": [{"rule": e["rule"], "label": rule_label(e)} for e in close],
        "added": [e["rule"] for e in state if e["rule"] not in before],
        "state": state,
    }


def state_text(state: Sequence[Mapping[str, Any]]) -> str:
    """The state file's text: the entries as indented JSON, keys sorted."""
    return json.dumps(list(state), indent=4, sort_keys=True, separators=(",", ": ")) + "\n"
