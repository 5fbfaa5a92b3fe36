# -*- coding: utf-8 -*-
"""Decisions of stack_units: what to stop, restart, start, and what is healthy."""

from __future__ import annotations

from ansible_collections.ai_system.containers.plugins.module_utils.unit_control import (
    describe, parse_show, plan_actions, removed_services, restart_set, service_of, unit_verdict,
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
"""


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


def test_parse_show():
    states = parse_show(SHOW)
    assert states["ai-core.service"]["ActiveState"] == "active"
    assert states["ai-auth.service"]["NRestarts"] == "2"


def test_plan_actions_restarts_running_changed_and_starts_stopped():
    states = parse_show(SHOW)
    start, restart = plan_actions(UNITS, states, ["ai-core.service", "ai-auth.service"])
    # auth is not running: it is started (which picks up its change), not restarted.
    assert restart == ["ai-core.service"]
    assert start == ["ai-auth.service", "ai-redis.service"]


def test_nothing_to_do_when_all_run_and_nothing_changed():
    states = {u["service"]: {"ActiveState": "active"} for u in UNITS}
    assert plan_actions(UNITS, states, []) == ([], [])


def test_verdicts():
    core, auth, redis = UNITS
    assert unit_verdict(core, {"ActiveState": "active"}, "healthy") == "ok"
    assert unit_verdict(core, {"ActiveState": "active"}, "starting") == "waiting"
    assert unit_verdict(core, {"ActiveState": "active"}, "unhealthy") == "waiting"
    assert unit_verdict(core, {"ActiveState": "activating"}, "") == "waiting"
    assert unit_verdict(core, {"ActiveState": "failed"}, "") == "failed"
    assert unit_verdict(redis, {"ActiveState": "active"}, "") == "ok"
    # A unit left inactive because its dependency failed will not start.
    assert unit_verdict(auth, {"ActiveState": "inactive"}, "", ["ai-core.service"]) == "failed"
    assert unit_verdict(auth, {"ActiveState": "inactive"}, "", []) == "waiting"


def test_describe():
    assert describe(UNITS[0], {"ActiveState": "active", "SubState": "running",
                               "NRestarts": "3"}, "unhealthy") == \
        "active/running, health unhealthy, 3 restarts"
    assert describe(UNITS[2], {}, "") == "unknown/unknown"
