# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's declared shape: typed, frozen, and exactly the dict the playbooks
and modules read."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from support.inventory import load_inventory_dir

from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    Checks, FirewallOpening, GpuPlan, HealthCheck, HostPlan, ImageUse, LinkCheck, NetworkPlan,
    Published, UnitPlan, ZmqEndpoint, ZmqTarget, summary_lines, zmq_targets,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import (
    build_plan, plan_stack,
)
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (
    HealthPolicy, normalize_endpoint, normalize_policy,
)
from ansible_collections.ai_system.containers.plugins.modules.unit_health import (
    ARGUMENT_SPEC as UNIT_HEALTH_SPEC,
)
from ansible_collections.ai_system.containers.plugins.modules.zmq_check import (
    ARGUMENT_SPEC as ZMQ_CHECK_SPEC,
)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def keys(cls):
    """The keys of a part of the plan: its dataclass's fields (plan_contract)."""
    return {f.name for f in dataclasses.fields(cls)}


# The keys the roles, playbooks and modules read, by part of the plan.
HOST_KEYS = keys(HostPlan) | set(HostPlan._DERIVED)
UNIT_KEYS = keys(UnitPlan)
LINK_KEYS = keys(LinkCheck)
HEALTH_KEYS = keys(HealthCheck)
PART_KEYS = {"network": keys(NetworkPlan), "gpu": keys(GpuPlan), "checks": keys(Checks)}
LIST_KEYS = {"published": keys(Published), "firewall": keys(FirewallOpening), "images": keys(ImageUse)}

POLICY = HealthPolicy(healthy=("healthy",), required_keys=("status", "service"))


@pytest.fixture(params=["production", "lab", "small"])
def any_plan(request):
    if request.param == "small":
        inventory = request.getfixturevalue("inventory")
    else:
        inventory = load_inventory_dir(os.path.join(REPO, "inventory", request.param))
    plan = plan_stack(inventory)
    assert plan.ok, [str(p) for p in plan.problems]
    return plan


def assert_declared(value, data, where="plan"):
    """``data`` is ``value`` as plain data: a dataclass's declared fields as
    keys, tuples as lists, mapping views as dicts, policies as their dict."""
    if dataclasses.is_dataclass(value):
        omitted = {f.name for f in dataclasses.fields(value)
                   if getattr(value, f.name) is None and f.name in value._OMIT_NONE}
        declared = [f.name for f in dataclasses.fields(value) if f.name not in omitted]
        assert isinstance(data, dict) and [k for k in data if k != "summary"] == declared, where
        for name in declared:
            assert_declared(getattr(value, name), data[name], "%s.%s" % (where, name))
    elif isinstance(value, HealthPolicy):
        assert data == value.as_dict(), where
    elif isinstance(value, Mapping):
        assert isinstance(data, dict) and list(data) == list(value), where
        for key in value:
            assert_declared(value[key], data[key], "%s[%r]" % (where, key))
    elif isinstance(value, tuple):
        assert isinstance(data, list) and len(data) == len(value), where
        for index, (item, plain) in enumerate(zip(value, data)):
            assert_declared(item, plain, "%s[%d]" % (where, index))
    else:
        assert type(data) is type(value) and data == value, where


def test_as_dict_is_json_and_carries_every_declared_field(any_plan):
    for name, host in any_plan.hosts.items():
        data = host.as_dict()
        assert json.loads(json.dumps(data)) == data
        assert_declared(host, data, name)
    assert any_plan.as_dict()["hosts"] == {n: h.as_dict() for n, h in any_plan.hosts.items()}


def test_the_dict_has_exactly_the_keys_its_readers_use(any_plan):
    result = any_plan.as_dict()
    assert set(result) == {"ok", "errors", "problems", "warnings", "hosts"}
    for host in result["hosts"].values():
        assert set(host) == HOST_KEYS
        for part, keys in PART_KEYS.items():
            assert set(host[part]) == keys, part
        for part, keys in LIST_KEYS.items():
            assert all(set(entry) == keys for entry in host[part]), part
        assert all(set(unit) == UNIT_KEYS for unit in host["units"])
        assert all(set(link) == LINK_KEYS for link in host["checks"]["links"])
        assert all(set(check) == HEALTH_KEYS for check in host["checks"]["health"])
        assert all(isinstance(c, str) for c in host["checks"]["cuda"])
        services = {unit["service"] for unit in host["units"]}
        assert all(set(unit["depends_on"]) <= services for unit in host["units"])


def test_summary_reads_the_typed_plan(any_plan):
    for host in any_plan.hosts.values():
        assert host.as_dict()["summary"] == summary_lines(host)
        # The AFTER column names the groups behind depends_on's services.
        rows = [line.split(None, 4) for line in summary_lines(host)[2:2 + len(host.units)]]
        group_of = {u.service: u.group for u in host.units}
        assert [(row[0], row[4]) for row in rows] == [
            (u.group, ", ".join(group_of[s] for s in u.depends_on) or "-") for u in host.units]


def test_the_plan_is_frozen(inventory):
    host = plan_stack(inventory).hosts["mainpc"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.host = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.units[0].depends_on = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.checks.zmq[0].endpoints[0].port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        host.quadlet["ai-core.container"] = ""  # type: ignore[index]
    with pytest.raises(TypeError):
        host.gpu.vram_budgets["models"] = 1  # type: ignore[index]
    assert isinstance(host.units, tuple) and isinstance(host.checks.links, tuple)
    # What as_dict hands out is a copy: changing it leaves the plan as it was.
    data = host.as_dict()
    data["units"][0]["depends_on"].append("x.service")
    data["quadlet"].clear()
    assert "x.service" not in host.units[0].depends_on and host.quadlet


def test_the_request_of_a_link_is_frozen_and_plain_in_the_dict(inventory):
    inventory["mainpc"]["ai_groups"]["models"]["connects_to"] = [
        {"agent": "Memory", "request": {"action": "ping", "args": ["a"]}}]
    host = plan_stack(inventory).hosts["mainpc"]
    [link] = host.checks.links
    with pytest.raises(TypeError):
        link.request["action"] = "x"  # type: ignore[index]
    assert link.request["args"] == ("a",)
    assert host.as_dict()["checks"]["links"][0]["request"] == {"action": "ping", "args": ["a"]}


# -- checks.units: the unit_health module's units option -----------------------

def test_checks_units_is_the_unit_health_units_option(any_plan):
    spec = UNIT_HEALTH_SPEC["units"]["options"]
    required = {name for name, option in spec.items() if option.get("required")}
    validator = ArgumentSpecValidator(UNIT_HEALTH_SPEC)
    for host in any_plan.as_dict()["hosts"].values():
        units = host["checks"]["units"]
        assert units == [{"service": u["service"], "container": u["container"],
                          "healthcheck": u["healthcheck"]} for u in host["units"]]
        assert all(required <= set(unit) <= set(spec) for unit in units)
        validation = validator.validate({"units": units})
        assert validation.error_messages == []
        assert validation.validated_parameters["units"] == units


# -- checks.zmq: one zmq_check run per container ---------------------------------

def grouped(checks):
    """The links and health checks grouped as zmq_check takes them: by
    container in first-seen order, each (container, name, address, port, kind)
    once, links named by "to_host/to_group", health sockets by their group,
    policy, strict and request only when set."""
    groups, seen = {}, set()
    for entry in checks:
        group = ("%s/%s" % (entry["to_host"], entry["to_group"]) if entry.get("to_group")
                 else entry["group"])
        endpoint = {"name": entry["name"], "address": entry["address"], "port": entry["port"],
                    "kind": entry["kind"], "group": group}
        for key in ("policy", "strict", "request"):
            if entry.get(key) is not None:
                endpoint[key] = entry[key]
        key = (entry["container"], entry["name"], entry["address"], entry["port"], entry["kind"])
        if key not in seen:
            seen.add(key)
            groups.setdefault(entry["container"], []).append(endpoint)
    return [{"container": c, "endpoints": e} for c, e in groups.items()]


def test_checks_zmq_groups_the_links_and_health_checks(any_plan):
    for host in any_plan.as_dict()["hosts"].values():
        checks = host["checks"]["links"] + host["checks"]["health"]
        assert host["checks"]["zmq"] == grouped(checks)
        assert sum(len(t["endpoints"]) for t in host["checks"]["zmq"]) == len(checks)


def link(name, container, port, **more):
    fields = dict(name=name, from_group=container, container=container, to_host="mainpc",
                  to_group="core", address="10.0.0.16", port=port, kind="main", cross_host=True,
                  policy=POLICY, strict=False, request=None)
    fields.update(more)
    return LinkCheck(**fields)


def health(name, container, port):
    return HealthCheck(name=name, group=container, container=container, address="127.0.0.1",
                       port=port, kind="health", policy=POLICY)


def test_zmq_targets_order_dedupe_and_optional_keys():
    links = [link("Twin", "store", 7120, strict=True, request={"action": "ping"}),
             link("Bus", "models", 7150, kind="greeting", to_host="pc2", to_group="infra"),
             link("Twin", "store", 7120)]  # the same endpoint again: checked once
    targets = zmq_targets(links, [health("Memory", "store", 7141), health("Model", "redis", 6570)])
    assert all(isinstance(t, ZmqTarget) for t in targets)
    assert [t.as_dict() for t in targets] == [
        {"container": "store", "endpoints": [
            {"name": "Twin", "address": "10.0.0.16", "port": 7120, "kind": "main",
             "group": "mainpc/core", "policy": POLICY.as_dict(), "strict": True,
             "request": {"action": "ping"}},
            {"name": "Memory", "address": "127.0.0.1", "port": 7141, "kind": "health",
             "group": "store", "policy": POLICY.as_dict()}]},
        {"container": "models", "endpoints": [
            {"name": "Bus", "address": "10.0.0.16", "port": 7150, "kind": "greeting",
             "group": "pc2/infra", "policy": POLICY.as_dict(), "strict": False}]},
        {"container": "redis", "endpoints": [
            {"name": "Model", "address": "127.0.0.1", "port": 6570, "kind": "health",
             "group": "redis", "policy": POLICY.as_dict()}]},
    ]
    assert zmq_targets([], []) == ()
    bare = ZmqEndpoint(name="A", address="a", port=1, kind="main")
    assert bare.as_dict() == {"name": "A", "address": "a", "port": 1, "kind": "main"}


def test_checks_zmq_passes_zmq_check_with_the_plans_policies(any_plan):
    """Each target is zmq_check's container and endpoints options: it passes
    the argument spec and endpoint validation with the plan's policy,
    strictness and request unchanged."""
    assert set(ZMQ_CHECK_SPEC["endpoints"]["options"]["policy"]["options"]) == \
        set(POLICY.as_dict())
    validator = ArgumentSpecValidator(ZMQ_CHECK_SPEC)
    for host in any_plan.as_dict()["hosts"].values():
        checks = host["checks"]["links"] + host["checks"]["health"]
        containers = [t["container"] for t in host["checks"]["zmq"]]
        assert len(containers) == len(set(containers))
        for target in host["checks"]["zmq"]:
            validation = validator.validate(target)
            assert validation.error_messages == []
            for raw, validated in zip(target["endpoints"],
                                      validation.validated_parameters["endpoints"]):
                entry = next(c for c in checks if c["container"] == target["container"]
                             and c["port"] == raw["port"] and c["address"] == raw["address"]
                             and c["kind"] == raw["kind"])
                endpoint = normalize_endpoint(validated)
                assert endpoint.policy == normalize_policy(entry["policy"])
                assert endpoint.strict is (bool(entry.get("strict")) or entry["kind"] == "health")
                assert endpoint.request == entry.get("request")


def test_build_plan_is_plan_stack_as_dict(production):
    plan = plan_stack(production)
    assert all(isinstance(h, HostPlan) for h in plan.hosts.values())
    assert build_plan(production) == plan.as_dict()
    assert list(plan.hosts) == sorted(plan.hosts)
