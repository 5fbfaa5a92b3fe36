# -*- coding: utf-8 -*-
"""Decisions of stack_units: what to stop, restart, start, and how a poll of the wait is judged."""

from __future__ import annotations

from ansible_collections.ai_system.containers.plugins.module_utils.unit_control import (
    judge_poll, plan_actions, removed_services, restart_counts, restart_set, service_of,
)
from ansible_collections.ai_system.containers.plugins.module_utils.unit_state import (
    FAILED, OK, WAITING, judge, parse_systemctl_show,
)

UNITS = [
    {"group": "core", "service": "ai-core.service", "unit_file": "ai-core.container",
     "container": "core", "config_files": ["groups/core/endpoints.json"], "secrets": [],
     "healthcheck": True, "depends_on": []},
    {"group": "auth", "service": "ai-auth.service", "unit_file": "ai-auth.container",
     "container": "auth", "config_files": ["groups/auth/endpoints.json"], "secrets": ["key"],
     "healthcheck": True, "depends_on": ["ai-core.service"]},
    {"group": "redis", "service": "ai-redis.service", "unit_file": "ai-redis.container",
     "container": "redis", "config_files": [], "secrets": [], "healthcheck": False,
     "depends_on": []},
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
