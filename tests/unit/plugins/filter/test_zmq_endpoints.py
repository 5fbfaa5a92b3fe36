# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The zmq_endpoints filter, on hand-made entries and on the production plan."""

from __future__ import annotations

import importlib.util
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ai_system.containers.plugins.filter.zmq_endpoints import (
    FilterModule, zmq_endpoints,
)
from ansible_collections.ai_system.containers.plugins.module_utils.stack_plan import build_plan
from ansible_collections.ai_system.containers.plugins.module_utils.zmq_health import (
    normalize_endpoint, normalize_policy,
)
from ansible_collections.ai_system.containers.plugins.modules.zmq_check import ARGUMENT_SPEC

HERE = os.path.dirname(__file__)
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


def _inventory_loader():
    """The production inventory loader the plan tests use (module_utils/conftest.py)."""
    path = os.path.join(HERE, "..", "module_utils", "conftest.py")
    spec = importlib.util.spec_from_file_location("plan_test_inventory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_inventory_dir


@pytest.fixture
def production():
    return _inventory_loader()(os.path.join(REPO, "inventory", "production"))


LINK = {"name": "SystemDigitalTwin", "from_group": "pc2-memory-system", "container": "pc2-memory-system",
        "to_host": "mainpc", "to_group": "core-services", "address": "192.168.100.16", "port": 7120,
        "kind": "main", "cross_host": True}
HEALTH = {"name": "CacheManager", "group": "pc2-memory-system", "container": "pc2-memory-system",
          "address": "127.0.0.1", "port": 8102, "kind": "health"}
OTHER = {"name": "ErrorBusService", "from_group": "memory-system", "container": "memory-system",
         "to_host": "pc2", "to_group": "pc2-core-infrastructure", "address": "192.168.100.17",
         "port": 7150, "kind": "greeting", "cross_host": True}


def test_groups_by_container_in_first_seen_order_and_keeps_only_zmq_check_keys():
    assert zmq_endpoints([LINK, OTHER, HEALTH]) == [
        {"container": "pc2-memory-system", "endpoints": [
            {"name": "SystemDigitalTwin", "address": "192.168.100.16", "port": 7120, "kind": "main",
             "group": "mainpc/core-services"},
            {"name": "CacheManager", "address": "127.0.0.1", "port": 8102, "kind": "health",
             "group": "pc2-memory-system"}]},
        {"container": "memory-system", "endpoints": [
            {"name": "ErrorBusService", "address": "192.168.100.17", "port": 7150, "kind": "greeting",
             "group": "pc2/pc2-core-infrastructure"}]},
    ]


def test_defaults_duplicates_and_empty_input():
    bare = {"container": "c", "address": "10.0.0.1", "port": "7000"}
    assert zmq_endpoints([bare, dict(bare)]) == [
        {"container": "c", "endpoints": [{"name": "10.0.0.1:7000", "address": "10.0.0.1", "port": 7000,
                                          "kind": "main"}]}]
    assert zmq_endpoints([dict(bare, to_group="g")])[0]["endpoints"][0]["group"] == "g"
    assert zmq_endpoints([]) == [] and zmq_endpoints(None) == []


POLICY = {"request": {"action": "health_check"}, "healthy": ["healthy"], "degraded": ["degraded"],
          "required_keys": ["status", "service"]}


def test_policy_strict_and_request_pass_through_when_present():
    health = dict(HEALTH, name="KnowledgeBase", port=6715, policy=POLICY)
    link = dict(LINK, name="UnifiedWebAgent", port=7126, strict=True, request={"command": "health_check"},
                policy=POLICY)
    lenient = dict(LINK, strict=False)  # false is passed through too; only None/absent is dropped
    unset = dict(LINK, name="Twin", policy=None, strict=None, request=None)
    [group] = zmq_endpoints([health, link, lenient, unset])
    by_name = {e["name"]: e for e in group["endpoints"]}
    assert by_name["KnowledgeBase"] == {"name": "KnowledgeBase", "address": "127.0.0.1", "port": 6715,
                                        "kind": "health", "group": "pc2-memory-system", "policy": POLICY}
    assert by_name["UnifiedWebAgent"] == {"name": "UnifiedWebAgent", "address": "192.168.100.16", "port": 7126,
                                          "kind": "main", "group": "mainpc/core-services", "policy": POLICY,
                                          "strict": True, "request": {"command": "health_check"}}
    assert by_name["SystemDigitalTwin"]["strict"] is False
    assert "policy" not in by_name["SystemDigitalTwin"]
    assert set(by_name["Twin"]) == {"name", "address", "port", "kind", "group"}
    # every key the filter emits is one zmq_check accepts
    allowed = set(ARGUMENT_SPEC["endpoints"]["options"])
    assert all(set(e) <= allowed for e in group["endpoints"])
    assert set(ARGUMENT_SPEC["endpoints"]["options"]["policy"]["options"]) == set(POLICY)


@pytest.mark.parametrize("value, message", [
    ({"container": "c"}, "zmq_endpoints expects a list of check entries, got a dict"),
    ("c", "zmq_endpoints expects a list of check entries, got a str"),
    (5, "zmq_endpoints expects a list of check entries, got a int"),
    (["x"], "zmq_endpoints: entry 0 is a str, not a check entry of the plan"),
    ([LINK, {"name": "A", "address": "a"}], "zmq_endpoints: entry 1 (A) has no container, port"),
    ([{"container": "c", "address": "", "port": 1}], "zmq_endpoints: entry 0 (unnamed) has no address"),
    ([{"name": "A", "container": "c", "address": "a", "port": "x"}],
     "zmq_endpoints: entry 0 (A) has port 'x', not a number"),
    ([{"name": "A", "container": "c", "address": "a", "port": 1, "kind": "pub"}],
     "zmq_endpoints: entry 0 (A) has kind 'pub', expected one of main, health, greeting"),
])
def test_bad_input_is_refused_with_the_entry_named(value, message):
    with pytest.raises(AnsibleFilterError) as err:
        zmq_endpoints(value)
    assert str(err.value) == message


def test_production_plan_every_check_once_in_its_own_container(production):
    plan = build_plan(production)["hosts"]
    allowed = set(ARGUMENT_SPEC["endpoints"]["options"])
    for host in plan.values():
        checks = host["checks"]["links"] + host["checks"]["health"]
        groups = zmq_endpoints(checks)
        assert sum(len(g["endpoints"]) for g in groups) == len(checks)
        containers = [g["container"] for g in groups]
        assert len(containers) == len(set(containers))
        for group in groups:
            for endpoint in group["endpoints"]:
                assert set(endpoint) <= allowed
        # a container only checks what it uses itself: its links and its own health sockets
        for entry in checks:
            group = next(g for g in groups if g["container"] == entry["container"])
            assert any(e["port"] == entry["port"] and e["address"] == entry["address"]
                       for e in group["endpoints"])


def test_production_policies_reach_zmq_check_intact(production):
    """What the filter hands zmq_check passes its argument spec and endpoint validation
    with the plan's policy, strictness and request unchanged."""
    plan = build_plan(production)["hosts"]
    validator = ArgumentSpecValidator(ARGUMENT_SPEC)
    for host in plan.values():
        checks = host["checks"]["links"] + host["checks"]["health"]
        for group in zmq_endpoints(checks):
            validation = validator.validate({"endpoints": group["endpoints"]})
            assert validation.error_messages == []
            for raw, validated in zip(group["endpoints"], validation.validated_parameters["endpoints"]):
                entry = next(c for c in checks if c["container"] == group["container"]
                             and c["port"] == raw["port"] and c["address"] == raw["address"]
                             and c["kind"] == raw["kind"])
                endpoint = normalize_endpoint(validated)
                if entry.get("policy") is not None:
                    assert endpoint.policy == normalize_policy(entry["policy"])
                assert endpoint.strict is (bool(entry.get("strict")) or entry["kind"] == "health")
                assert endpoint.request == entry.get("request")


def test_registered_and_documented():
    assert FilterModule().filters() == {"zmq_endpoints": zmq_endpoints}
    with open(os.path.join(REPO, "plugins", "filter", "zmq_endpoints.yml")) as handle:
        doc = yaml.safe_load(handle)
    assert doc["DOCUMENTATION"]["name"] == "zmq_endpoints"
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
