# -*- coding: utf-8 -*-
"""The plan's contract: from_dict rebuilds exactly what as_dict gave, for the
production, lab and monitored-lab plans; bad plan data is refused with its
location; the argument spec derived from a dataclass follows its fields."""

from __future__ import annotations

import copy
import dataclasses
import json
import os

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.plan import plan_contract
from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    Checks, HostPlan, LinkCheck, PlanShapeError, UnitPlan, ZmqEndpoint, argument_spec, plan_hosts,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import plan_stack
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def hostvars_of(name):
    if name == "lab-monitoring":
        with open(os.path.join(REPO, "inventory", "lab-monitoring.yml"), encoding="utf-8") as handle:
            extra = yaml.safe_load(handle)
        return {host: dict(hostvars, **extra) for host, hostvars in hostvars_of("lab").items()}
    return load_inventory_dir(os.path.join(REPO, "inventory", name))


@pytest.fixture(scope="module", params=("production", "lab", "lab-monitoring"))
def stack(request):
    plan = plan_stack(hostvars_of(request.param))
    assert plan.ok, plan.problems
    return plan


def test_from_dict_rebuilds_every_host_plan_exactly(stack):
    for name, host in stack.hosts.items():
        data = host.as_dict()
        # Through JSON, as it crosses into Ansible and back.
        back = HostPlan.from_dict(json.loads(json.dumps(data)))
        assert back == host, name
        assert back.as_dict() == data, name
    assert any(h.monitoring is not None for h in stack.hosts.values()) == (
        any("prometheus" in u.group for h in stack.hosts.values() for u in h.units))


def test_plan_hosts_rebuilds_the_whole_plan(stack):
    data = stack.as_dict()["hosts"]
    assert plan_hosts(data) == dict(stack.hosts)


def test_every_plan_class_round_trips_its_own_piece(stack):
    host = next(iter(stack.hosts.values()))
    pieces = [host.network, host.gpu, host.checks] + list(host.units) + list(host.published) \
        + list(host.firewall) + list(host.images) + list(host.host_dirs) \
        + list(host.checks.links) + list(host.checks.health) + list(host.checks.units) \
        + [e for t in host.checks.zmq for e in t.endpoints] + list(host.checks.zmq)
    for piece in pieces:
        assert type(piece).from_dict(piece.as_dict()) == piece


def unit_dict(stack):
    return next(iter(stack.hosts.values())).units[0].as_dict()


@pytest.mark.parametrize("change, message", [
    (lambda u: u.pop("service"), "units[0].service is missing (UnitPlan needs it)"),
    (lambda u: u.update(colour="red"), "units[0] has unknown key(s) colour; the plan's UnitPlan has"),
    (lambda u: u.update(gpu="yes"), "units[0].gpu must be a boolean, got str 'yes'"),
    (lambda u: u.update(vram_mib=True), "units[0].vram_mib must be an integer, got bool True"),
    (lambda u: u.update(secrets="key"), "units[0].secrets must be a list, got str 'key'"),
    (lambda u: u.update(depends_on=["a", 3]), "units[0].depends_on[1] must be a string, got int 3"),
])
def test_from_dict_locates_what_is_wrong(stack, change, message):
    data = unit_dict(stack)
    change(data)
    with pytest.raises(PlanShapeError) as err:
        UnitPlan.from_dict(data, "units[0]")
    assert str(err.value).startswith(message)


def test_from_dict_locates_deep_errors(stack):
    host = next(h for h in stack.hosts.values() if h.checks.links)
    data = copy.deepcopy(host.as_dict())
    data["checks"]["links"][0]["policy"] = {"healthy": 3}
    with pytest.raises(PlanShapeError, match=r"^checks\.links\[0\]\.policy: "):
        HostPlan.from_dict(data)
    data = copy.deepcopy(host.as_dict())
    data["gpu"]["vram_budgets"] = {"core": "lots"}
    with pytest.raises(PlanShapeError, match=r"^gpu\.vram_budgets\['core'\] must be an integer"):
        HostPlan.from_dict(data)
    with pytest.raises(PlanShapeError, match=r"^plan\[x\] must be a mapping"):
        plan_hosts({"x": []})


def test_optional_fields_left_out_take_their_defaults():
    endpoint = ZmqEndpoint.from_dict({"name": "A", "address": "127.0.0.1", "port": 7, "kind": "health"})
    assert endpoint == ZmqEndpoint(name="A", address="127.0.0.1", port=7, kind="health")
    assert endpoint.as_dict() == {"name": "A", "address": "127.0.0.1", "port": 7, "kind": "health"}


def test_argument_spec_follows_the_fields():
    spec = argument_spec(UnitPlan)
    assert list(spec) == [f.name for f in dataclasses.fields(UnitPlan)]
    assert spec["service"] == {"type": "str", "required": True}
    assert spec["vram_mib"] == {"type": "int"}
    assert spec["build"] == {"type": "bool", "required": True}
    assert spec["depends_on"] == {"type": "list", "elements": "str", "required": True}
    # Names of secrets, never values.
    assert spec["secrets"] == {"type": "list", "elements": "str", "required": True, "no_log": False}
    link = argument_spec(LinkCheck)
    assert link["policy"] == {"type": "dict", "required": True}
    assert link["request"] == {"type": "dict"}
    assert link["note"] == {"type": "str", "default": ""}
    checks = argument_spec(Checks)
    assert checks["zmq"]["elements"] == "dict"
    assert set(checks["zmq"]["options"]["endpoints"]["options"]) == {
        f.name for f in dataclasses.fields(ZmqEndpoint)}


def test_every_plan_class_has_a_spec_and_round_trips_through_it():
    classes = [c for c in vars(plan_contract).values()
               if isinstance(c, type) and dataclasses.is_dataclass(c)
               and issubclass(c, plan_contract._PlanData)]
    assert len(classes) == 15
    for cls in classes:
        assert set(argument_spec(cls)) == {f.name for f in dataclasses.fields(cls)}


def test_the_units_doc_fragment_documents_the_derived_spec():
    """stack_units and quadlet_check document their units option with the
    plan_units fragment; it must say what the spec derived from UnitPlan
    checks (ansible-test's validate-modules compares them too)."""
    from ansible_collections.ai_system.containers.plugins.doc_fragments.plan_units import (
        ModuleDocFragment,
    )
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]["units"]["suboptions"]
    spec = argument_spec(UnitPlan)
    assert list(documented) == list(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert (doc["type"], doc.get("elements"), doc.get("required", False)) == (
            option["type"], option.get("elements"), option.get("required", False)), name
