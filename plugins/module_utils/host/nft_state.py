# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack's nftables table: what it must hold, its file, and how the loaded one compares.

Pure Python, no Ansible imports.  From the host's plan (LAN address,
container subnet, firewall openings) :func:`wanted_table` makes the table;
:func:`render` writes it as one ``nft -f`` file that replaces the table in a
single transaction; :func:`loaded_table` reads ``nft -j list table`` back
into the same form, and :func:`compare` says whether the kernel holds exactly
the plan's rules.

Two base chains:

* ``prerouting`` (priority ``dstnat - 10``, before Podman's DNAT): a packet
  for a published port on the LAN address from anyone but the port's peers
  is dropped.
* ``forward`` (priority ``filter - 10``): traffic into the container subnet
  is accepted only when it belongs to a known connection, was DNAT'd from an
  admitted published port (its original destination is the LAN address and
  port, its source a peer), or comes from the subnet itself on its own
  interface; everything else into the subnet is dropped.  A drop in any base
  chain is final, so neither Podman's chains nor firewalld's can admit what
  this chain drops.

Rules are compared as text in nft's own listing syntax: the wanted rules are
written that way, and the loaded ones are printed that way from nft's JSON
(single-element sets as values, set elements sorted as nft sorts them).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

FAMILY = "inet"
# nft's named priorities, as numbers (filter 0, dstnat -100).
PRIORITY = {"filter": 0, "dstnat": -100}
PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True)
class Chain:
    """A base chain: its name, hook and priority (``dstnat - 10``)."""

    name: str
    hook: str
    priority: str
    type: str = "filter"
    policy: str = "accept"

    @property
    def priority_number(self) -> int:
        base, sep, offset = self.priority.partition(" ")
        value = PRIORITY[base]
        if sep:
            sign, number = offset.split()
            value += int(number) if sign == "+" else -int(number)
        return value

    def key(self) -> str:
        """The chain as :func:`loaded_table` reads it."""
        return "chain %s: type %s hook %s priority %d policy %s" % (
            self.name, self.type, self.hook, self.priority_number, self.policy)


@dataclass(frozen=True)
class Rule:
    """One rule of a chain, in nft's listing syntax, with the comment the file gives it."""

    chain: str
    text: str
    comment: str = ""

    def key(self) -> str:
        return "%s: %s" % (self.chain, self.text)


@dataclass(frozen=True)
class Table:
    """A table: its chains in order, and its rules in order."""

    name: str
    chains: Tuple[Chain, ...]
    rules: Tuple[Rule, ...]

    def keys(self) -> List[str]:
        """Chains and rules as comparable lines, chain by chain, rules in order."""
        lines = []
        for chain in self.chains:
            lines.append(chain.key())
            lines.extend(r.key() for r in self.rules if r.chain == chain.name)
        return lines


@dataclass(frozen=True)
class LoadedTable:
    """What :func:`loaded_table` read: the table's lines, or none when it is absent."""

    name: str
    present: bool
    lines: Tuple[str, ...]


# --------------------------------------------------------------------------
# The wanted table
# --------------------------------------------------------------------------

PREROUTING = Chain("prerouting", "prerouting", "dstnat - 10")
FORWARD = Chain("forward", "forward", "filter - 10")


def _address_key(value: Any) -> Tuple[int, Any]:
    """Sort key of a set element: addresses by number, as nft sorts them."""
    try:
        return (0, int(ipaddress.ip_address(str(value))))
    except ValueError:
        pass
    if isinstance(value, int):
        return (1, value)
    return (2, str(value))


def value_text(values: Iterable[Any]) -> str:
    """A value or an anonymous set, as nft lists it: ``a`` or ``{ a, b }``."""
    items = sorted(set(values), key=_address_key)
    if len(items) == 1:
        return str(items[0])
    return "{ %s }" % ", ".join(str(v) for v in items)


def _ipv4(value: Any, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise ValueError("%s %r is not an IPv4 address" % (what, value))


def _by_port(openings: Sequence[Mapping[str, Any]]) -> List[Tuple[int, str, List[Dict[str, Any]]]]:
    """(port, proto, openings) per published port, in port order; ValueError
    naming the opening when a port, protocol or source is not one."""
    ports: Dict[Tuple[int, str], List[Dict[str, Any]]] = {}
    for index, opening in enumerate(openings, 1):
        port, proto = opening.get("port"), opening.get("proto") or "tcp"
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("opening %d: port %r is not a port number" % (index, port))
        if proto not in PROTOCOLS:
            raise ValueError("opening %d: protocol %r is not one of %s" % (index, proto, ", ".join(PROTOCOLS)))
        entry = dict(opening, source=_ipv4(opening.get("source"), "opening %d: source" % index))
        ports.setdefault((port, proto), []).append(entry)
    return [(port, proto, ports[(port, proto)]) for port, proto in sorted(ports)]


def _comment(text: str) -> str:
    """Text safe on one comment line: control characters become '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _about(openings: Sequence[Mapping[str, Any]]) -> str:
    """``group/Agent <- peer, peer``: whom a port's rules are for."""
    names = sorted({"%s/%s" % (o.get("group") or "?", o.get("agent") or "?") for o in openings})
    peers = sorted({str(o.get("source_host") or o["source"]) for o in openings})
    return _comment("%s <- %s" % (", ".join(names), ", ".join(peers)))


def wanted_table(name: str, lan_address: str, subnet: str,
                 openings: Sequence[Mapping[str, Any]]) -> Table:
    """The table the plan wants: each opening admitted from its peers only, on
    the LAN address and after DNAT, and nothing else into the container subnet.
    ValueError when a name, address or opening cannot be one."""
    if not isinstance(name, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,31}\Z", name):
        raise ValueError("table name %r is not a plain nft name (a letter, then letters, "
                         "digits and '_')" % (name,))
    try:
        subnet = str(ipaddress.IPv4Network(str(subnet), strict=False))
    except ValueError:
        raise ValueError("subnet %r is not an IPv4 network" % (subnet,))
    lan = _ipv4(lan_address, "LAN address")
    ports = _by_port(openings)
    rules: List[Rule] = []
    for port, proto, mine in ports:
        peers = value_text(o["source"] for o in mine)
        rules.append(Rule(PREROUTING.name, "ip daddr %s %s dport %d ip saddr != %s drop"
                          % (lan, proto, port, peers), _about(mine)))
    rules.append(Rule(FORWARD.name, "ct state established,related accept",
                      "replies and related traffic of admitted connections"))
    rules.append(Rule(FORWARD.name, "ip saddr %s fib saddr . iif oif exists accept" % subnet,
                      "the containers themselves, on their own interface"))
    for port, proto, mine in ports:
        peers = value_text(o["source"] for o in mine)
        rules.append(Rule(FORWARD.name, "ip saddr %s ct status dnat ct original ip daddr %s meta l4proto %s "
                          "ct original proto-dst %d accept" % (peers, lan, proto, port), _about(mine)))
    rules.append(Rule(FORWARD.name, "ip daddr %s drop" % subnet,
                      "anything else into the container subnet, routed or DNAT'd"))
    return Table(name, (PREROUTING, FORWARD), tuple(rules))


def render(table: Table, header: Sequence[str] = ()) -> str:
    """The file that replaces the table in one ``nft -f`` transaction.

    ``table`` + ``delete table`` + the definition: the first line makes sure
    there is a table to delete, and nft applies the whole file atomically, so
    the old rules hold until the new ones do and no packet sees neither.
    """
    lines = ["# %s" % line if line else "#" for line in header]
    lines += [
        "table %s %s" % (FAMILY, table.name),
        "delete table %s %s" % (FAMILY, table.name),
        "",
        "table %s %s {" % (FAMILY, table.name),
    ]
    for index, chain in enumerate(table.chains):
        if index:
            lines.append("")
        lines.append("    chain %s {" % chain.name)
        lines.append("        type %s hook %s priority %s; policy %s;"
                     % (chain.type, chain.hook, chain.priority, chain.policy))
        for rule in table.rules:
            if rule.chain != chain.name:
                continue
            if rule.comment:
                lines.append("        # %s" % rule.comment)
            lines.append("        %s" % rule.text)
        lines.append("    }")
    lines.append("}")
    return seal("\n".join(lines) + "\n")


# The table file's last line: the SHA-256 of every byte before it. The loader
# (ai-system-firewall-check before `nft -f`) refuses a file whose last line is
# not this one or whose checksum differs: an empty or truncated file (a power
# cut between the rename and the data reaching the disk) never loads as "no
# rules" -- `nft -f` of an empty file succeeds and loads nothing.
SEAL_PREFIX = "# ai-system-firewall-end sha256 "


def seal(text: str) -> str:
    """``text`` (ending in a newline) with the checksum line the loader wants."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return "%s%s%s\n" % (text, SEAL_PREFIX, digest)


def seal_problem(text: str) -> Optional[str]:
    """Why the loader would refuse ``text`` as a table file, or None when it is whole.

    The same test as roles/stack/files/ai-system-firewall-check, in Python.
    """
    if not text:
        return "the file is empty"
    if not text.endswith("\n"):
        return "the file is truncated: its last line is incomplete"
    body, newline, last = text[:-1].rpartition("\n")
    body += newline
    if not last.startswith(SEAL_PREFIX):
        return "the file is truncated or not written by nft_table: its last line is not the checksum line"
    want = last[len(SEAL_PREFIX):]
    have = hashlib.sha256(body.encode("utf-8")).hexdigest()
    if want != have:
        return "the file's checksum line does not match its text (sha256 %s, the line says %s)" % (have, want)
    return None


# --------------------------------------------------------------------------
# The loaded table, from `nft -j list table inet NAME`
# --------------------------------------------------------------------------

def _left_text(left: Any) -> str:
    if isinstance(left, Mapping):
        if "payload" in left:
            payload = left["payload"]
            return "%s %s" % (payload.get("protocol"), payload.get("field"))
        if "meta" in left:
            return "meta %s" % left["meta"].get("key")
        if "ct" in left:
            ct = left["ct"]
            return " ".join(str(p) for p in ("ct", ct.get("dir"), ct.get("key")) if p)
        if "fib" in left:
            fib = left["fib"]
            return "fib %s %s" % (" . ".join(fib.get("flags") or []), fib.get("result"))
    return json.dumps(left, sort_keys=True)


def _right_text(right: Any) -> str:
    if isinstance(right, bool):
        return "exists" if right else "missing"
    if isinstance(right, (str, int)):
        return str(right)
    if isinstance(right, list):
        return ",".join(sorted(str(v) for v in right))
    if isinstance(right, Mapping):
        if "set" in right and isinstance(right["set"], list):
            return value_text(_right_text(v) for v in right["set"])
        if "prefix" in right:
            return "%s/%s" % (right["prefix"].get("addr"), right["prefix"].get("len"))
        if "range" in right and isinstance(right["range"], list):
            return "-".join(_right_text(v) for v in right["range"])
    return json.dumps(right, sort_keys=True)


def expression_text(expr: Mapping[str, Any]) -> str:
    """One statement of a rule in nft's listing syntax; anything this table
    never holds is kept as its JSON, so it can only differ."""
    if "match" in expr and isinstance(expr["match"], Mapping):
        match = expr["match"]
        op = match.get("op", "==")
        text = _left_text(match.get("left"))
        if op not in ("==", "in"):
            text += " %s" % op
        return "%s %s" % (text, _right_text(match.get("right")))
    if len(expr) == 1:
        (key, value), = expr.items()
        if key in ("accept", "drop", "return", "continue") and value is None:
            return key
        if key in ("jump", "goto") and isinstance(value, Mapping):
            return "%s %s" % (key, value.get("target"))
        if key == "counter":
            return "counter"
    return json.dumps(expr, sort_keys=True)


def rule_text(exprs: Sequence[Mapping[str, Any]]) -> str:
    return " ".join(expression_text(e) for e in exprs if isinstance(e, Mapping))


def loaded_table(document: Optional[Mapping[str, Any]], name: str) -> LoadedTable:
    """The table as ``nft -j list table inet NAME`` printed it (``None``: nft
    said there is no such table)."""
    if document is None:
        return LoadedTable(name, False, ())
    entries = document.get("nftables") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("nft printed no 'nftables' list")
    chains: List[str] = []
    rules: Dict[str, List[str]] = {}
    present = False
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        if "table" in entry:
            present = present or entry["table"].get("name") == name
        elif "chain" in entry:
            chain = entry["chain"]
            chains.append(chain.get("name"))
            if "hook" in chain:
                line = "chain %s: type %s hook %s priority %s policy %s" % (
                    chain.get("name"), chain.get("type"), chain.get("hook"), chain.get("prio"),
                    chain.get("policy", "accept"))
            else:
                line = "chain %s: regular" % chain.get("name")
            rules.setdefault(chain.get("name"), []).insert(0, line)
        elif "rule" in entry:
            rule = entry["rule"]
            rules.setdefault(rule.get("chain"), []).append(
                "%s: %s" % (rule.get("chain"), rule_text(rule.get("expr") or [])))
        elif set(entry) - {"metainfo"}:
            # Sets, maps, counters, flowtables...: this table has none.
            kind = next(k for k in entry if k != "metainfo")
            value = entry[kind]
            label = value.get("name") if isinstance(value, Mapping) else value
            rules.setdefault("", []).append("%s %s" % (kind, label))
    lines: List[str] = []
    for chain in chains:
        lines.extend(rules.pop(chain, []))
    for rest in rules.values():
        lines.extend(rest)
    return LoadedTable(name, present, tuple(lines))


# --------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------

def _minus(left: Sequence[str], right: Sequence[str]) -> List[str]:
    """``left`` without the lines of ``right`` (as multisets), in ``left``'s order."""
    pool: Dict[str, int] = {}
    for line in right:
        pool[line] = pool.get(line, 0) + 1
    out = []
    for line in left:
        if pool.get(line):
            pool[line] -= 1
        else:
            out.append(line)
    return out


def compare(wanted: Table, loaded: LoadedTable) -> Dict[str, Any]:
    """``{matches, missing, extra, reason}``: whether the loaded table is the
    wanted one, rule for rule and in order; the wanted lines it lacks, the
    lines it has beyond them, and one sentence saying so."""
    want = wanted.keys()
    have = list(loaded.lines)
    missing = _minus(want, have)
    extra = _minus(have, want)
    matches = loaded.present and want == have
    label = "table %s %s" % (FAMILY, wanted.name)
    if not loaded.present:
        reason = "%s is not loaded" % label
    elif matches:
        reason = "%s is loaded as planned (%d chains, %d rules)" % (
            label, len(wanted.chains), len(wanted.rules))
    elif not missing and not extra:
        reason = "%s holds the planned rules in another order" % label
    else:
        parts = []
        if missing:
            parts.append("%d planned line%s missing" % (len(missing), "" if len(missing) == 1 else "s"))
        if extra:
            parts.append("%d line%s not planned" % (len(extra), "" if len(extra) == 1 else "s"))
        reason = "%s differs from the plan: %s" % (label, ", ".join(parts))
    return {"matches": matches, "present": loaded.present, "missing": missing, "extra": extra,
            "reason": reason}
