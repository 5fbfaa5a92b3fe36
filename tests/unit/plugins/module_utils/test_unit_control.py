# -*- coding: utf-8 -*-
"""Decisions of stack_units: what to stop, restart, start, and how a poll of the wait is judged."""

from __future__ import annotations

import json

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_control import (
    RECORD_FORMAT, inputs_hash, judge_poll, orphan_containers, orphan_units, parse_record,
    plan_actions, record_after, record_entry, record_text, removable_container, removed_services,
    restart_counts, restart_set, service_of, stale_reasons, stale_units, unit_inputs,
    units_problem,
)
from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import (
    FAILED, OK, WAITING, judge, parse_systemctl_show,
)

# The fields of a plan unit (plan_contract.UnitPlan) these tests do not vary.
PLAN_UNIT = {"image": "localhost/ai-system/app:1", "build": False, "gpu": False, "cdi_devices": [],
             "vram_mib": None, "restart_on_change": [], "agents": []}
UNITS = [
    dict(PLAN_UNIT, group="core", service="ai-core.service", unit_file="ai-core.container",
         container="core", config_files=["groups/core/endpoints.json"], secrets=[],
         healthcheck=True, depends_on=[]),
    dict(PLAN_UNIT, group="auth", service="ai-auth.service", unit_file="ai-auth.container",
         container="auth", config_files=["groups/auth/endpoints.json"], secrets=["key"],
         healthcheck=True, depends_on=["ai-core.service"]),
    dict(PLAN_UNIT, group="redis", service="ai-redis.service", unit_file="ai-redis.container",
         container="redis", config_files=[], secrets=[], healthcheck=False, depends_on=[]),
]

SHOW = """Id=ai-core.service
ActiveState=active
SubState=running
NRestarts=0
LoadState=loaded

Id=ai-auth.service
ActiveState=inactive
SubState=dead
NRestarts=2
LoadState=loaded

Id=ai-redis.service
ActiveState=activating
SubState=start
NRestarts=0
LoadState=loaded
"""


def state(unit, active="active", sub="running", health="healthy", exists=True, restarts=0):
    """A state as unit_state.unit_states builds it."""
    return {"service": unit["service"], "container": unit["container"], "load_state": "loaded",
            "active_state": active, "sub_state": sub, "restarts": restarts,
            "container_exists": exists, "container_state": "running" if exists else None,
            "health": health if exists else None}


def test_service_names():
    assert service_of("ai-core.container") == "ai-core.service"
    assert service_of("ai-data.volume") == "ai-data-volume.service"


def test_only_removed_containers_are_stopped():
    assert removed_services(["ai-old.container", "ai-old-data.volume"]) == ["ai-old.service"]


def test_restart_set_from_unit_config_and_secret_changes():
    assert restart_set(UNITS, ["ai-core.container"], []) == ["ai-core.service"]
    assert restart_set(UNITS, ["groups/auth/endpoints.json"], []) == ["ai-auth.service"]
    assert restart_set(UNITS, [], ["key"]) == ["ai-auth.service"]
    assert restart_set(UNITS, ["ai-system.network", "lib/zmq_health.py"], []) == []


def test_plan_actions_restarts_running_changed_and_starts_stopped():
    states = {u["service"]: props for u, props in zip(UNITS, parse_systemctl_show(SHOW))}
    start, restart = plan_actions(UNITS, states, ["ai-core.service", "ai-auth.service"])
    # auth is not running: it is started (which picks up its change), not restarted.
    assert restart == ["ai-core.service"]
    # redis is on its way up: neither started again nor restarted.
    assert start == ["ai-auth.service"]


def test_nothing_to_do_when_all_run_and_nothing_changed():
    states = {u["service"]: {"ActiveState": "active"} for u in UNITS}
    assert plan_actions(UNITS, states, []) == ([], [])


def test_restart_counts():
    core, auth, redis = UNITS
    assert restart_counts([state(core, restarts=2), dict(state(auth), restarts=None)]) == {
        "ai-core.service": 2, "ai-auth.service": 0}


def verdicts(states, first=None):
    return [j.verdict for j in judge_poll(UNITS, states, first or {})]


def test_a_poll_is_ok_when_every_unit_is():
    core, auth, redis = UNITS
    assert verdicts([state(core), state(auth), state(redis, health=None)]) == [OK, OK, OK]


def test_unhealthy_and_starting_containers_are_waited_for():
    core, auth, redis = UNITS
    judgements = judge_poll(UNITS, [state(core, health="unhealthy"), state(auth, health="starting"),
                                    state(redis, active="activating", sub="start", exists=False)], {})
    assert [j.verdict for j in judgements] == [WAITING, WAITING, WAITING]
    assert judgements[0].problem == "container core is unhealthy"


def test_a_unit_left_inactive_by_its_failed_dependency_fails():
    core, auth, redis = UNITS
    polled = [state(core, active="failed", sub="failed", exists=False),
              state(auth, active="inactive", sub="dead", exists=False),
              state(redis, active="inactive", sub="dead", exists=False)]
    judgements = judge_poll(UNITS, polled, {})
    assert [j.verdict for j in judgements] == [FAILED, FAILED, WAITING]
    assert judgements[1].problem == "unit is inactive (dead): dependency ai-core.service failed"


def test_a_crash_looping_dependency_fails_its_dependents_too():
    core, auth, redis = UNITS
    polled = [state(core, active="activating", sub="auto-restart", exists=False, restarts=4),
              state(auth, active="inactive", sub="dead", exists=False), state(redis, health=None)]
    assert verdicts(polled, {"ai-core.service": 1}) == [FAILED, FAILED, OK]
    assert verdicts(polled, {"ai-core.service": 2}) == [WAITING, WAITING, OK]


def test_a_unit_the_plan_gives_a_health_check_needs_one():
    core, auth, redis = UNITS
    assert verdicts([state(core, health=None), state(auth), state(redis, health=None)]) == [
        WAITING, OK, OK]


def test_the_poll_judges_with_the_one_judgement():
    core, auth, redis = UNITS
    polled = [state(core, health="unhealthy"), state(auth, exists=False), state(redis, health=None)]
    for unit, one, judgement in zip(UNITS, polled, judge_poll(UNITS, polled, {})):
        assert judgement == judge(one, expect_health=unit["healthcheck"], converging=True)


def test_a_restart_not_begun_yet_is_waited_for():
    core, auth, redis = UNITS
    polled = [dict(state(core), active_enter_monotonic_us=500),
              dict(state(auth), active_enter_monotonic_us=9), state(redis, health=None)]
    judgements = judge_poll(UNITS, polled, {}, {"ai-core.service": 500, "ai-auth.service": 8})
    assert [j.verdict for j in judgements] == [WAITING, OK, OK]
    assert judgements[0].problem == "the restart has not happened yet"


# --------------------------------------------------------------------------
# The record of what is applied
# --------------------------------------------------------------------------

def inputs(unit="u1", config=None, watched=None, secrets=None):
    return unit_inputs(unit, {"groups/core/endpoints.json": "c1"} if config is None else config,
                       watched or {}, secrets or {})


def test_the_hash_covers_every_input_and_no_key_order():
    base = inputs()
    assert inputs_hash(base) == inputs_hash(json.loads(json.dumps(base, sort_keys=False)))
    changed = [inputs(unit="u2"), inputs(config={"groups/core/endpoints.json": "c2"}),
               inputs(watched={"/srv/models.yaml": "w"}), inputs(secrets={"key": "id@t"}),
               inputs(unit=None)]
    assert len({inputs_hash(base)} | {inputs_hash(i) for i in changed}) == 6


@pytest.mark.parametrize("wanted, reasons", [
    (inputs(), []),
    (inputs(unit="u2"), ["unit file changed"]),
    (inputs(config={"groups/core/endpoints.json": None}), ["groups/core/endpoints.json changed"]),
    (inputs(secrets={"key": "id2@t"}), ["secret key changed"]),
    (inputs(unit="u2", watched={"/srv/m.yaml": "w"}), ["unit file changed", "/srv/m.yaml changed"]),
])
def test_stale_reasons_say_what_changed(wanted, reasons):
    assert stale_reasons(wanted, record_entry(UNITS[0], inputs())) == reasons


def test_a_unit_without_a_record_or_with_a_bad_one_is_stale():
    assert stale_reasons(inputs(), None) == ["no record of what it runs"]
    assert stale_reasons(inputs(), {"hash": "0" * 64, "inputs": inputs()}) == [
        "its record differs"]
    assert stale_reasons(inputs(), {"hash": "0" * 64}) == [
        "unit file changed", "groups/core/endpoints.json changed"]


def test_stale_units_in_plan_order():
    wanted = {u["service"]: inputs(unit=u["service"]) for u in UNITS}
    record = {u["service"]: record_entry(u, wanted[u["service"]]) for u in UNITS[:2]}
    record["ai-core.service"] = record_entry(UNITS[0], inputs(unit="old"))
    assert stale_units(UNITS, wanted, record) == {
        "ai-core.service": ["unit file changed"],
        "ai-redis.service": ["no record of what it runs"]}


@pytest.mark.parametrize("text, problem", [
    (None, None),
    ("", None),
    ("{not json", "it is not JSON (Expecting property name enclosed in double quotes: line 1 "
     "column 2 (char 1))"),
    ("[]", "it is not a record of format 1"),
    ('{"format": 2, "units": {}}', "it is not a record of format 1"),
    ('{"format": 1, "units": []}', "it is not a record of format 1"),
])
def test_a_missing_or_unreadable_record_is_empty(text, problem):
    assert parse_record(text) == ({}, problem)


def test_record_round_trip_drops_entries_without_a_hash():
    entry = record_entry(UNITS[0], inputs())
    text = json.dumps({"format": RECORD_FORMAT, "units": {
        "ai-core.service": entry, "ai-x.service": {"hash": 5}, "ai-y.service": "z"}})
    assert parse_record(text) == ({"ai-core.service": entry}, None)
    assert parse_record(record_text({"ai-core.service": entry})) == (
        {"ai-core.service": entry}, None)
    assert record_text({"b": {"hash": "1"}, "a": {"hash": "2"}}) == record_text(
        {"a": {"hash": "2"}, "b": {"hash": "1"}})


def test_record_after_drops_stale_and_foreign_entries_and_adds_healthy_ones():
    wanted = {u["service"]: inputs(unit=u["service"]) for u in UNITS}
    record = {"ai-core.service": record_entry(UNITS[0], inputs(unit="old")),
              "ai-auth.service": record_entry(UNITS[1], wanted["ai-auth.service"]),
              "ai-gone.service": {"hash": "x"}}
    kept = record_after(record, UNITS, wanted, stale=["ai-core.service"])
    assert sorted(kept) == ["ai-auth.service"]
    done = record_after(kept, UNITS, wanted, healthy=["ai-core.service"])
    assert done["ai-core.service"] == record_entry(UNITS[0], wanted["ai-core.service"])
    assert done["ai-auth.service"] == record["ai-auth.service"]


# --------------------------------------------------------------------------
# Orphans
# --------------------------------------------------------------------------

MANAGED = {"io.ai-system.managed-by": "ai_system.containers"}


def listed(name, service=None, cid="a" * 64, labels=None, state="running"):
    labels = dict(MANAGED if labels is None else labels)
    if service:
        labels["PODMAN_SYSTEMD_UNIT"] = service
    return {"Id": cid, "Names": [name], "Labels": labels, "State": state}


def test_the_plans_own_containers_are_not_orphans():
    assert orphan_containers(UNITS, [listed("core", "ai-core.service"), listed("auth"),
                                     listed("redis", "ai-redis.service")]) == []


def test_orphan_of_a_pruned_group_and_of_a_hand_run_container():
    assert orphan_containers(UNITS, [listed("old", "ai-old.service", cid="b" * 64),
                                     listed("ai-old-x", state="exited")]) == [
        {"container": "old", "id": "b" * 64, "service": "ai-old.service", "state": "running"},
        {"container": "ai-old-x", "id": "a" * 64, "service": None, "state": "exited"}]


def test_orphan_with_old_prefix_has_the_plans_name_and_another_unit():
    assert orphan_containers(UNITS, [listed("core", "old-core.service")]) == [
        {"container": "core", "id": "a" * 64, "service": "old-core.service", "state": "running"}]


def test_containers_without_the_managed_label_are_never_orphans():
    assert orphan_containers(UNITS, [listed("web", labels={}),
                                     listed("web2", labels={"io.ai-system.managed-by": "x"})]) == []


def test_malformed_podman_ps_entries_never_reach_a_command_line():
    odd = orphan_containers(UNITS, ["x", 3, {"Labels": []},
                                    listed("old", "-x.service", cid="; rm -rf /"),
                                    dict(listed("o2"), Names="o2", Name=7)])
    assert odd == [{"container": "old", "id": None, "service": None, "state": "running"},
                   {"container": None, "id": "a" * 64, "service": None, "state": "running"}]
    assert [removable_container(o) for o in odd] == ["old", "a" * 64]
    assert removable_container({"container": "-rf", "id": None}) is None


def candidate(service, active="active", source=None, source_state=None, known=False):
    return {"service": service, "active_state": active, "source": source,
            "source_state": source_state, "known": known}


def test_orphan_units():
    plan = [u["service"] for u in UNITS]
    assert orphan_units(plan, [
        candidate("ai-core.service", source="/q/ai-core.container", source_state="ours"),
        candidate("old-core.service", source="/q/old-core.container", source_state="ours"),
        candidate("ai-old.service", source="/q/ai-old.container", source_state="gone", known=True),
        candidate("ai-dead.service", active="inactive", source="/q/ai-dead.container",
                  source_state="gone", known=True),
        candidate("web.service", source="/q/web.container", source_state="foreign"),
        candidate("cron.service"),
        candidate("ai-lost.service", source="/q/ai-lost.container", source_state="gone"),
        candidate("labelled.service", source="/q/labelled.container", source_state="foreign",
                  known=True),
    ]) == [
        {"service": "old-core.service", "stop": True, "remove_file": "/q/old-core.container"},
        {"service": "ai-old.service", "stop": True, "remove_file": None},
        {"service": "labelled.service", "stop": True, "remove_file": None},
    ]


# --------------------------------------------------------------------------
# The units option
# --------------------------------------------------------------------------

def test_the_plans_units_pass():
    assert units_problem(UNITS) is None


@pytest.mark.parametrize("change, problem", [
    ({"depends_on": ["-x"]}, "units[0].depends_on[0] '-x' is not a unit name: it starts with "
     "'-', which systemctl and podman would read as an option"),
    ({"config_files": ["/etc/shadow"]}, "units[0].config_files[0] '/etc/shadow' must be "
     "relative, without '.', '..', empty segments or control characters"),
    ({"config_files": ["groups//x"]}, "units[0].config_files[0] 'groups//x' must be "
     "relative, without '.', '..', empty segments or control characters"),
    ({"restart_on_change": ["/srv/../etc/shadow"]}, "units[0].restart_on_change[0] "
     "'/srv/../etc/shadow' must not hold '.', '..' or control characters"),
    ({"container": "co re"}, "units[0].container 'co re' is not a container name: it holds white "
     "space or a control character"),
    ({"container": 5}, "units[0].container must be a string, got int 5; pass the plan's units "
     "(plan.units)"),
])
def test_units_problem(change, problem):
    assert units_problem([dict(UNITS[0], **change)]) == problem


def test_a_unit_that_is_not_a_mapping_is_refused():
    assert units_problem(["ai-core.service"]) == (
        "units[0] must be a mapping (UnitPlan), got str; pass the plan's units (plan.units)")


def test_a_unit_without_a_field_of_the_plan_is_refused():
    unit = dict(UNITS[0])
    del unit["image"]
    assert units_problem([unit]) == (
        "units[0].image is missing (UnitPlan needs it); pass the plan's units (plan.units)")
