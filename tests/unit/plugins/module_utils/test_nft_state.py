# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack's nftables table: its rules, its file, reading it back, and the attacks it stops.

The attack tests load the rendered table into a host namespace that forwards
to a container namespace behind a DNAT, as Podman's network does, and connect
from a peer and from an outsider that both route the container subnet through
the host (``support.nft_netns``).  They need root, ``ip`` and ``nft`` and are
skipped, with the reason, where those are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import time

import jinja2
import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host import nft_state as ns
from support import nft_netns as net

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))

MEMORY = {"port": 7140, "proto": "tcp", "source": net.PEER, "source_host": "mainpc",
          "group": "pc2-memory-system", "agent": "MemoryOrchestratorService"}
# A port another host (not the peer of the tests) consumes.
OTHER = {"port": 7150, "proto": "tcp", "source": "10.9.0.50", "source_host": "pc3",
         "group": "pc2-user-services", "agent": "UnifiedWebAgent"}
OPENINGS = [MEMORY, OTHER]


def table(openings=None, lan=net.LAN, subnet=net.SUBNET):
    return ns.wanted_table("ai_system", lan, subnet, OPENINGS if openings is None else openings)


def rules_of(wanted, chain):
    return [r.text for r in wanted.rules if r.chain == chain]


# --------------------------------------------------------------------------
# The wanted rules
# --------------------------------------------------------------------------

def test_a_published_port_on_the_lan_address_drops_every_source_but_its_peers():
    assert rules_of(table(), "prerouting") == [
        "ip daddr 10.9.0.17 tcp dport 7140 ip saddr != 10.9.0.16 drop",
        "ip daddr 10.9.0.17 tcp dport 7150 ip saddr != 10.9.0.50 drop",
    ]


def test_a_port_two_peers_consume_admits_both_in_one_rule_sorted_as_nft_lists_them():
    third = dict(MEMORY, source="10.9.0.100", source_host="pc3")
    wanted = table([third, MEMORY, dict(MEMORY)])
    assert rules_of(wanted, "prerouting") == [
        "ip daddr 10.9.0.17 tcp dport 7140 ip saddr != { 10.9.0.16, 10.9.0.100 } drop"]
    assert "ip saddr { 10.9.0.16, 10.9.0.100 } ct status dnat" in rules_of(wanted, "forward")[2]


def test_forwarded_traffic_into_the_subnet_is_admitted_only_after_dnat_from_a_peer_then_dropped():
    assert rules_of(table(), "forward") == [
        "ct state established,related accept",
        "ip saddr 172.29.0.0/24 fib saddr . iif oif exists accept",
        "ip saddr 10.9.0.16 ct status dnat ct original ip daddr 10.9.0.17 meta l4proto tcp "
        "ct original proto-dst 7140 accept",
        "ip saddr 10.9.0.50 ct status dnat ct original ip daddr 10.9.0.17 meta l4proto tcp "
        "ct original proto-dst 7150 accept",
        "ip daddr 172.29.0.0/24 drop",
    ]


def test_a_host_without_openings_still_drops_everything_routed_into_its_containers():
    wanted = table([])
    assert rules_of(wanted, "prerouting") == []
    assert rules_of(wanted, "forward")[-1] == "ip daddr 172.29.0.0/24 drop"


def test_the_filter_runs_before_podmans_dnat_and_beside_every_forward_chain():
    prerouting, forward = table().chains
    assert (prerouting.hook, prerouting.priority_number) == ("prerouting", -110)
    assert (forward.hook, forward.priority_number) == ("forward", -10)
    assert prerouting.policy == forward.policy == "accept"


def test_the_file_replaces_the_table_in_one_transaction():
    text = ns.render(table(), ["a header"])
    lines = [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]
    # Create (so that the delete cannot fail), delete and define again, in one file:
    # nft applies a file as one transaction, so the old table holds until the new one does.
    assert lines[:3] == ["table inet ai_system", "delete table inet ai_system", "table inet ai_system {"]
    assert text.startswith("# a header\n")
    assert "flush ruleset" not in text


def test_a_name_with_a_newline_cannot_leave_its_comment_line():
    hostile = dict(MEMORY, agent="Agent\nflush ruleset", group="g\r\ntable ip evil { }")
    text = ns.render(table([hostile]))
    assert "\nflush ruleset" not in text and "\ntable ip evil" not in text
    assert "# g??table ip evil { }/Agent?flush ruleset <- mainpc" in text


@pytest.mark.parametrize("name, lan, subnet, openings, message", [
    ("ai system", net.LAN, net.SUBNET, [], "table name 'ai system' is not a plain nft name"),
    ("ai_system", "mainpc", net.SUBNET, [], "LAN address 'mainpc' is not an IPv4 address"),
    ("ai_system", net.LAN, "fd00::/64", [], "subnet 'fd00::/64' is not an IPv4 network"),
    ("ai_system", net.LAN, net.SUBNET, [dict(MEMORY, source="10.9.0.16; flush ruleset")],
     "opening 1: source '10.9.0.16; flush ruleset' is not an IPv4 address"),
    ("ai_system", net.LAN, net.SUBNET, [MEMORY, dict(MEMORY, port=70000)],
     "opening 2: port 70000 is not a port number"),
    ("ai_system", net.LAN, net.SUBNET, [dict(MEMORY, proto="sctp")],
     "opening 1: protocol 'sctp' is not one of tcp, udp"),
])
def test_what_cannot_be_a_rule_is_refused_naming_it(name, lan, subnet, openings, message):
    with pytest.raises(ValueError) as err:
        ns.wanted_table(name, lan, subnet, openings)
    assert str(err.value).startswith(message)


# --------------------------------------------------------------------------
# Reading the loaded table back (nft -j, as nft 1.1 prints it)
# --------------------------------------------------------------------------

def _match(left, right, op="=="):
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(protocol, field):
    return {"payload": {"protocol": protocol, "field": field}}


def listing(openings=None):
    """What ``nft -j list table inet ai_system`` prints for the wanted table."""
    entries = [{"metainfo": {"version": "1.1.3", "json_schema_version": 1}},
               {"table": {"family": "inet", "name": "ai_system", "handle": 3}},
               {"chain": {"family": "inet", "table": "ai_system", "name": "prerouting", "handle": 1,
                          "type": "filter", "hook": "prerouting", "prio": -110, "policy": "accept"}},
               {"chain": {"family": "inet", "table": "ai_system", "name": "forward", "handle": 2,
                          "type": "filter", "hook": "forward", "prio": -10, "policy": "accept"}}]
    openings = OPENINGS if openings is None else openings

    def rule(chain, exprs):
        entries.append({"rule": {"family": "inet", "table": "ai_system", "chain": chain,
                                 "handle": len(entries), "expr": exprs}})

    def peers(port):
        found = sorted({o["source"] for o in openings if o["port"] == port})
        return found[0] if len(found) == 1 else {"set": found}

    ports = sorted({o["port"] for o in openings})
    for port in ports:
        rule("prerouting", [_match(_payload("ip", "daddr"), net.LAN), _match(_payload("tcp", "dport"), port),
                            _match(_payload("ip", "saddr"), peers(port), "!="), {"drop": None}])
    prefix = {"prefix": {"addr": "172.29.0.0", "len": 24}}
    rule("forward", [_match({"ct": {"key": "state"}}, ["established", "related"], "in"), {"accept": None}])
    rule("forward", [_match(_payload("ip", "saddr"), prefix),
                     _match({"fib": {"result": "oif", "flags": ["saddr", "iif"]}}, True), {"accept": None}])
    for port in ports:
        rule("forward", [_match(_payload("ip", "saddr"), peers(port)),
                         _match({"ct": {"key": "status"}}, "dnat", "in"),
                         _match({"ct": {"key": "ip daddr", "dir": "original"}}, net.LAN),
                         _match({"meta": {"key": "l4proto"}}, "tcp"),
                         _match({"ct": {"key": "proto-dst", "dir": "original"}}, port), {"accept": None}])
    rule("forward", [_match(_payload("ip", "daddr"), prefix), {"drop": None}])
    return {"nftables": entries}


def test_the_table_nft_prints_for_the_plan_matches_it():
    result = ns.compare(table(), ns.loaded_table(listing(), "ai_system"))
    assert result == {"matches": True, "present": True, "missing": [], "extra": [],
                      "reason": "table inet ai_system is loaded as planned (2 chains, 7 rules)"}


def test_a_table_that_is_not_loaded_misses_every_line():
    result = ns.compare(table(), ns.loaded_table(None, "ai_system"))
    assert result["matches"] is False and result["present"] is False
    assert result["missing"] == table().keys() and result["extra"] == []
    assert result["reason"] == "table inet ai_system is not loaded"


def test_a_flushed_table_keeps_its_chains_but_misses_every_rule():
    document = listing()
    document["nftables"] = [e for e in document["nftables"] if "rule" not in e]
    result = ns.compare(table(), ns.loaded_table(document, "ai_system"))
    assert result["matches"] is False
    assert len(result["missing"]) == 7 and all(not m.startswith("chain ") for m in result["missing"])
    assert result["reason"] == "table inet ai_system differs from the plan: 7 planned lines missing"


def test_a_rule_inserted_by_hand_is_extra():
    document = listing()
    document["nftables"].insert(4, {"rule": {"family": "inet", "table": "ai_system", "chain": "prerouting",
                                             "handle": 99, "expr": [_match(_payload("tcp", "dport"), 7140),
                                                                    {"counter": {"packets": 3, "bytes": 180}},
                                                                    {"drop": None}]}})
    result = ns.compare(table(), ns.loaded_table(document, "ai_system"))
    assert result["matches"] is False and result["missing"] == []
    assert result["extra"] == ["prerouting: tcp dport 7140 counter drop"]
    assert result["reason"] == "table inet ai_system differs from the plan: 1 line not planned"


def test_a_peer_replaced_in_a_rule_is_one_line_missing_and_one_extra():
    moved = [dict(MEMORY, source="10.9.0.18"), OTHER]
    result = ns.compare(table(), ns.loaded_table(listing(moved), "ai_system"))
    assert result["missing"] == [
        "prerouting: ip daddr 10.9.0.17 tcp dport 7140 ip saddr != 10.9.0.16 drop",
        "forward: ip saddr 10.9.0.16 ct status dnat ct original ip daddr 10.9.0.17 meta l4proto tcp "
        "ct original proto-dst 7140 accept"]
    assert [line.replace("10.9.0.18", "10.9.0.16") for line in result["extra"]] == result["missing"]


def test_the_final_drop_moved_before_an_accept_is_out_of_order():
    document = listing()
    entries = document["nftables"]
    drop = entries.pop()
    entries.insert(len(entries) - 2, drop)
    result = ns.compare(table(), ns.loaded_table(document, "ai_system"))
    assert result["matches"] is False and result["missing"] == [] and result["extra"] == []
    assert result["reason"] == "table inet ai_system holds the planned rules in another order"


def test_a_chain_with_another_priority_or_policy_differs():
    document = listing()
    document["nftables"][3]["chain"].update(prio=10, policy="drop")
    result = ns.compare(table(), ns.loaded_table(document, "ai_system"))
    assert result["missing"] == ["chain forward: type filter hook forward priority -10 policy accept"]
    assert result["extra"] == ["chain forward: type filter hook forward priority 10 policy drop"]


def test_chains_sets_and_statements_the_table_never_has_are_extra():
    document = listing()
    document["nftables"] += [
        {"chain": {"family": "inet", "table": "ai_system", "name": "mine", "handle": 40}},
        {"rule": {"family": "inet", "table": "ai_system", "chain": "mine", "handle": 41,
                  "expr": [{"jump": {"target": "other"}}, {"log": {"prefix": "x"}}]}},
        {"set": {"family": "inet", "table": "ai_system", "name": "allowed", "type": "ipv4_addr"}},
    ]
    result = ns.compare(table(), ns.loaded_table(document, "ai_system"))
    assert result["extra"] == ["chain mine: regular", 'mine: jump other {"log": {"prefix": "x"}}',
                               "set allowed"]


def test_output_that_is_not_a_listing_is_refused():
    with pytest.raises(ValueError):
        ns.loaded_table({"tables": []}, "ai_system")


# --------------------------------------------------------------------------
# With nft itself
# --------------------------------------------------------------------------

NETNS_MISSING = net.available()
needs_netns = pytest.mark.skipif(NETNS_MISSING is not None, reason=str(NETNS_MISSING))


@pytest.fixture
def netns():
    space = net.Netns("nftunit%d" % os.getpid())
    space.create()
    yield space
    space.delete()


@needs_netns
def test_nft_accepts_the_rendered_file(netns, tmp_path):
    path = tmp_path / "firewall.nft"
    path.write_text(ns.render(table(), ["header"]))
    netns.nft("-c", "-f", str(path))


@needs_netns
def test_the_loaded_table_reads_back_as_the_plan_and_loading_again_replaces_it(netns, tmp_path):
    path = tmp_path / "firewall.nft"
    path.write_text(ns.render(table()))
    for dummy in range(2):
        netns.nft("-f", str(path))
        document = json.loads(netns.nft("-j", "list", "table", "inet", "ai_system").stdout)
        assert ns.compare(table(), ns.loaded_table(document, "ai_system"))["matches"] is True
    # A changed plan replaces the table whole: the old peer's rules are gone.
    path.write_text(ns.render(table([dict(MEMORY, source="10.9.0.18")])))
    netns.nft("-f", str(path))
    document = json.loads(netns.nft("-j", "list", "table", "inet", "ai_system").stdout)
    result = ns.compare(table([dict(MEMORY, source="10.9.0.18")]), ns.loaded_table(document, "ai_system"))
    assert result["matches"] is True
    assert "10.9.0.16" not in netns.nft("list", "ruleset").stdout


# --------------------------------------------------------------------------
# The attacks, on a routed LAN
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lan(tmp_path_factory):
    if NETNS_MISSING is not None:
        pytest.skip(NETNS_MISSING)
    routed = net.RoutedLan(str(os.getpid() % 100000))
    try:
        routed.up()
        path = tmp_path_factory.mktemp("nft") / "firewall.nft"
        path.write_text(ns.render(table()))
        routed.table_file = str(path)
        yield routed
    finally:
        routed.down()


@pytest.fixture
def guarded(lan):
    """The host with the stack's table loaded (and Podman's DNAT in place)."""
    lan.host.nft("flush", "ruleset")
    lan.publish()
    lan.host.nft("-f", lan.table_file)
    return lan


def test_without_the_table_a_routed_outsider_reaches_every_container_port(lan):
    """The ground the other tests stand on: this network is open without the table."""
    lan.host.nft("flush", "ruleset")
    lan.publish()
    for port in net.PUBLISHED + net.UNPUBLISHED:
        assert lan.probe(lan.outsider, net.CONTAINER, port) == "open", port
    assert lan.probe(lan.outsider, net.LAN, 7140) == "open"


def test_routed_packet_to_container_ip_from_non_peer_is_dropped(guarded):
    for port in net.PUBLISHED + net.UNPUBLISHED:
        assert guarded.probe(guarded.outsider, net.CONTAINER, port) == "timeout", port


def test_routed_packet_to_container_ip_from_the_peer_is_dropped_too(guarded):
    # The peer is admitted to its published port on the LAN address, not to the
    # container's own address, nor to any port that is not published for it.
    for port in net.PUBLISHED + net.UNPUBLISHED:
        assert guarded.probe(guarded.peer, net.CONTAINER, port) == "timeout", port


def test_published_port_on_the_lan_address_from_non_peer_is_dropped(guarded):
    for port in net.PUBLISHED:
        assert guarded.probe(guarded.outsider, net.LAN, port) == "timeout", port


def test_peer_reaches_its_published_port_through_the_dnat(guarded):
    assert guarded.probe(guarded.peer, net.LAN, 7140) == "open"


def test_peer_is_dropped_on_a_port_published_for_another_peer(guarded):
    assert guarded.probe(guarded.peer, net.LAN, 7150) == "timeout"


def test_dnat_into_the_subnet_for_a_port_without_opening_is_dropped(guarded):
    # A publication the plan does not know (here 8140 DNAT'd by hand) is not admitted.
    guarded.host.nft("add", "rule", "ip", "publish", "prerouting", "ip", "daddr", net.LAN, "tcp", "dport",
                     "8140", "dnat", "to", net.CONTAINER)
    assert guarded.probe(guarded.peer, net.LAN, 8140) == "timeout"
    assert guarded.probe(guarded.outsider, net.LAN, 8140) == "timeout"


def test_containers_still_connect_out_and_get_their_replies(guarded):
    assert guarded.probe(guarded.container, net.PEER, net.PEER_SERVICE) == "open"


def test_the_host_itself_still_reaches_its_containers(guarded):
    assert guarded.probe(guarded.host, net.CONTAINER, 8140) == "open"


def test_an_accept_in_another_forward_chain_does_not_undo_the_drop(guarded):
    # Podman's and firewalld's forward chains accept container traffic; a drop
    # in any base chain is final whatever the others accept, before or after.
    guarded.host.nft("-f", "-", data="""
table inet other {
    chain early { type filter hook forward priority -300; policy accept; ip daddr %s accept; }
    chain late { type filter hook forward priority 100; policy accept; ip daddr %s accept; }
}
""" % (net.SUBNET, net.SUBNET))
    assert guarded.probe(guarded.outsider, net.CONTAINER, 8140) == "timeout"
    assert guarded.probe(guarded.peer, net.LAN, 7140) == "open"


def test_reloading_the_table_never_lets_a_non_peer_through(guarded):
    targets = ["%s:%d" % (net.CONTAINER, p) for p in net.PUBLISHED + net.UNPUBLISHED] + \
              ["%s:%d" % (net.LAN, p) for p in net.PUBLISHED]
    loop = guarded.probe_loop(guarded.outsider, targets)
    reloads = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        guarded.host.nft("-f", guarded.table_file)
        reloads += 1
    result = guarded.loop_result(loop)
    print("\n%d reloads, %d connection attempts from the outsider, %d opened"
          % (reloads, result["attempts"], result["opens"]))
    assert reloads > 20 and result["attempts"] > 20
    assert result["opens"] == 0, result["opened"]


# --------------------------------------------------------------------------
# nftables.service's commands, as the role's drop-in makes them
# --------------------------------------------------------------------------

def dropin_commands(table_file, conf):
    """ExecStart/ExecReload/ExecStop of the role's nftables.service drop-in, as argv lists."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "# " + text
    with open(os.path.join(REPO, "roles", "stack", "templates", "nftables-service-dropin.conf.j2")) as handle:
        text = env.from_string(handle.read()).render(
            ansible_managed="managed", __stack_nft_file=table_file, __stack_nftables_conf=conf,
            __stack_nft_command="nft")
    commands = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("ExecStart", "ExecReload", "ExecStop"):
            if value:
                commands[key] = shlex.split(value)
            else:
                assert key not in commands, "%s reset after it was set" % key
    return commands


def test_the_dropin_runs_each_nftables_service_command_as_one_nft_call():
    commands = dropin_commands("/etc/ai-system/firewall.nft", "/etc/nftables.conf")
    assert commands == {
        "ExecStart": ["nft", 'include "/etc/nftables.conf"; include "/etc/ai-system/firewall.nft"'],
        "ExecReload": ["nft", 'flush ruleset; include "/etc/nftables.conf"; '
                              'include "/etc/ai-system/firewall.nft"'],
        "ExecStop": ["nft", 'flush ruleset; include "/etc/ai-system/firewall.nft"'],
    }


def test_restarting_nftables_service_never_lets_a_non_peer_through(guarded, tmp_path):
    # Debian's /etc/nftables.conf: it starts by flushing the whole ruleset.
    conf = tmp_path / "nftables.conf"
    conf.write_text("#!/usr/sbin/nft -f\nflush ruleset\n\ntable inet filter {\n"
                    "    chain input { type filter hook input priority filter; }\n}\n")
    commands = dropin_commands(guarded.table_file, str(conf))
    restart = [commands["ExecStop"], commands["ExecStart"], commands["ExecReload"]]
    targets = ["%s:%d" % (net.CONTAINER, p) for p in net.PUBLISHED + net.UNPUBLISHED] + \
              ["%s:%d" % (net.LAN, p) for p in net.PUBLISHED]
    loop = guarded.probe_loop(guarded.outsider, targets)
    cycles = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for argv in restart:
            guarded.host.run(*argv)
        cycles += 1
    result = guarded.loop_result(loop)
    print("\n%d stop/start/reload cycles, %d connection attempts from the outsider, %d opened"
          % (cycles, result["attempts"], result["opens"]))
    assert cycles > 5 and result["opens"] == 0, result["opened"]
    tables = guarded.host.nft("list", "tables").stdout.split()
    assert "ai_system" in tables and "filter" in tables


def test_a_reload_in_two_steps_would_have_let_the_outsider_through(guarded):
    """The loop above does see a window when there is one: delete, then load."""
    targets = ["%s:%d" % (net.CONTAINER, p) for p in net.UNPUBLISHED]
    loop = guarded.probe_loop(guarded.outsider, targets)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        guarded.host.nft("delete", "table", "inet", "ai_system")
        guarded.host.nft("-f", guarded.table_file)
    result = guarded.loop_result(loop)
    print("\ntwo-step reloads: %d connection attempts, %d opened" % (result["attempts"], result["opens"]))
    assert result["opens"] > 0


def test_the_stock_restart_would_have_opened_the_containers(guarded):
    """Why the drop-in exists: `nft flush ruleset` alone (the stock ExecStop) leaves them open."""
    guarded.host.nft("flush", "ruleset")
    assert guarded.probe(guarded.outsider, net.CONTAINER, 8140) == "open"


# --------------------------------------------------------------------------
# The table file's checksum line, and the check the firewall unit runs first
# --------------------------------------------------------------------------

CHECK = os.path.join(REPO, "roles", "stack", "files", "ai-system-firewall-check")


def run_check(path):
    return subprocess.run(["sh", CHECK, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env={"PATH": os.environ["PATH"], "LC_ALL": "C"},
                          check=False)


def damaged_files(text):
    """What a power cut or an editor can leave of the table file ``text``."""
    data = text.encode("utf-8")
    return {
        "empty": (b"", "the file is empty"),
        "cut mid-line": (data[:len(data) // 2], "its last line is incomplete"),
        "cut at a line": (data[:data.index(b"\n", len(data) // 2) + 1], "not the checksum line"),
        "no checksum line": (data[:data.rindex(b"# ai-system-firewall-end")], "not the checksum line"),
        "zeroed tail": (data[:-100] + b"\0" * 100, "its last line is incomplete"),
        "a rule removed": (data.replace(b"        ip daddr", b"        # ip daddr", 1), "does not match"),
    }


def test_the_rendered_file_ends_with_the_checksum_of_everything_before_it():
    text = ns.render(table(), ["header"])
    body, last = text[:-1].rsplit("\n", 1)
    assert last == ns.SEAL_PREFIX + hashlib.sha256((body + "\n").encode()).hexdigest()
    assert ns.seal_problem(text) is None


@pytest.mark.parametrize("damage", ["empty", "cut mid-line", "cut at a line", "no checksum line",
                                    "zeroed tail", "a rule removed"])
def test_an_empty_truncated_or_altered_file_is_refused_by_python_and_by_the_check(tmp_path, damage):
    data, reason = damaged_files(ns.render(table(), ["header"]))[damage]
    path = tmp_path / "firewall.nft"
    path.write_bytes(data)
    problem = ns.seal_problem(data.decode("utf-8", "replace"))
    assert problem is not None and reason in problem
    result = run_check(path)
    assert result.returncode == 1
    assert result.stderr.startswith("ai-system-firewall: refusing to load %s: " % path)
    assert reason in result.stderr and "run the stack role again" in result.stderr


def test_the_check_passes_the_written_file_and_refuses_a_missing_one(tmp_path):
    path = tmp_path / "firewall.nft"
    path.write_text(ns.render(table(), ["header"]))
    result = run_check(path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    missing = run_check(tmp_path / "absent.nft")
    assert missing.returncode == 1 and "there is no such file" in missing.stderr


def test_the_firewall_unit_checks_the_file_before_each_load():
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "# " + text
    with open(os.path.join(REPO, "roles", "stack", "templates", "ai-system-firewall.service.j2")) as handle:
        text = env.from_string(handle.read()).render(
            ansible_managed="managed", __stack_nft_file="/etc/ai-system/firewall.nft",
            __stack_nft_table="ai_system", __stack_nft_command="/usr/sbin/nft",
            __stack_nft_check="/usr/local/libexec/ai-system-firewall-check")
    commands = [tuple(line.split("=", 1)) for line in text.splitlines()
                if line.split("=", 1)[0] in ("ExecStartPre", "ExecStart", "ExecReload")]
    check = "/usr/local/libexec/ai-system-firewall-check /etc/ai-system/firewall.nft"
    load = "/usr/sbin/nft -f /etc/ai-system/firewall.nft"
    # systemd runs ExecStartPre first and the ExecReload lines in order, stopping at the first failure.
    assert commands == [("ExecStartPre", check), ("ExecStart", load), ("ExecReload", check), ("ExecReload", load)]
