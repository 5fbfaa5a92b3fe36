# -*- coding: utf-8 -*-
"""unit_state: reading units and containers in one call each, and the one judgement on them."""

from __future__ import annotations

import json

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import (
    CRASH_LOOP_RESTARTS, FAILED, OK, WAITING, Judgement, container_state, describe, first_line,
    judge, name_problem, parse_podman_inspect, parse_systemctl_show, read_containers, read_systemd,
    read_unit_states, systemd_state, unit_states,
)

SHOW = """Id=ai-core.service
LoadState=loaded
ActiveState=active
SubState=running
NRestarts=1
ActiveEnterTimestampMonotonic=400000000

Id=ai-net-network.service
LoadState=loaded
ActiveState=active
SubState=exited
NRestarts=0
"""


def container(name, status="running", health="healthy", streak=0, output=""):
    state = {"Status": status, "ExitCode": 0, "OOMKilled": False,
             "StartedAt": "2026-11-29T16:04:58Z"}
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": streak, "Log": [{"Output": output}]}
    return {"Id": "0123456789abcdef" + name, "Name": name, "State": state}


def state(active="active", sub="running", load="loaded", health="healthy", exists=True,
          cstate="running", restarts=0, container_name="core", **extra):
    """A state as unit_states builds it."""
    out = {"service": "ai-core.service", "container": container_name, "load_state": load,
           "active_state": active, "sub_state": sub, "result": "success", "restarts": restarts,
           "exit_status": 0, "container_exists": exists, "container_state": cstate if exists else None,
           "container_exit_code": 0, "container_oom_killed": False, "health": health if exists else None,
           "health_failing_streak": 0, "health_output": None}
    out.update(extra)
    return out


class Runner:
    """Answers systemctl show and podman container inspect; records argv."""

    def __init__(self, show=SHOW, containers=(), podman=None):
        self.show, self.containers, self.podman = show, list(containers), podman
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[0] == "systemctl":
            return 0, self.show, ""
        if self.podman is not None:
            return self.podman
        names = argv[argv.index("--") + 1:]
        found = [c for c in self.containers if c["Name"] in names]
        missing = [n for n in names if n not in [c["Name"] for c in found]]
        return (125 if missing else 0), json.dumps(found), "".join(
            "Error: no such container %s\n" % n for n in missing)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

def test_parse_systemctl_show_blocks_in_order():
    blocks = parse_systemctl_show(SHOW)
    assert [b["Id"] for b in blocks] == ["ai-core.service", "ai-net-network.service"]
    assert blocks[0]["NRestarts"] == "1"


def test_parse_podman_inspect():
    assert parse_podman_inspect("  \n") == []
    assert parse_podman_inspect('[{"Name": "a"}, 3]') == [{"Name": "a"}]
    with pytest.raises(ValueError, match="expected a JSON list, got dict"):
        parse_podman_inspect("{}")


def test_first_line():
    assert first_line("\n  Error: x\nmore\n") == "Error: x"
    assert first_line("") == "no output"


def test_read_unit_states_reads_everything_in_two_calls():
    runner = Runner(containers=[container("core")])
    states, error = read_unit_states(runner, "systemctl", "podman",
                                     [("ai-core.service", "core"), ("ai-net-network.service", None)],
                                     monotonic=lambda: 1000.0)
    assert error is None
    assert [c[0] for c in runner.calls] == ["systemctl", "podman"]
    assert runner.calls[1][-2:] == ["--", "core"]
    core, net = states
    assert (core["service"], core["container"], core["active_state"], core["restarts"]) == (
        "ai-core.service", "core", "active", 1)
    assert (core["container_state"], core["health"], core["uptime_s"]) == ("running", "healthy", 600.0)
    assert (net["container"], net["container_exists"]) == (None, False)


def test_read_unit_states_without_containers_never_calls_podman():
    runner = Runner(show="Id=ai-net-network.service\nActiveState=active\n")
    states, error = read_unit_states(runner, "systemctl", None, [("ai-net-network.service", None)])
    assert error is None and len(runner.calls) == 1
    assert states[0]["uptime_s"] is None


def test_read_unit_states_needs_podman_for_containers():
    states, error = read_unit_states(Runner(), "systemctl", None,
                                     [("ai-core.service", "core"), ("ai-net-network.service", None)])
    assert (states, error) == ([], "podman is needed to read the containers core")


def test_a_missing_container_is_read_as_absent():
    runner = Runner(containers=[container("core")])
    states, error = read_unit_states(runner, "systemctl", "podman",
                                     [("ai-core.service", "core"), ("ai-net-network.service", "gone")])
    assert error is None
    assert [s["container_exists"] for s in states] == [True, False]
    assert runner.calls[1][-3:] == ["--", "core", "gone"]


@pytest.mark.parametrize("answer, expected", [
    ((1, "", "Failed to connect to bus\n"), "systemctl show failed (rc=1): Failed to connect to bus"),
    ((0, "Id=a.service\n", ""), "systemctl show returned 1 unit(s) for the 2 asked for: Id=a.service"),
])
def test_read_systemd_errors(answer, expected):
    blocks, error = read_systemd(lambda argv: answer, "systemctl", ["a.service", "b.service"])
    assert (blocks, error) == ([], expected)


def test_systemctl_show_garbage_without_unit_ids_fails_cleanly():
    blocks, error = read_systemd(lambda argv: (0, "<html>\nx=1\n\ny=2\n", ""), "systemctl",
                                 ["a.service", "b.service"])
    assert blocks == []
    assert error == "systemctl show printed no unit properties for a.service (no Id=): <html>"


def test_read_systemd_asks_for_the_given_properties_after_dashes():
    runner = Runner(show="Id=a.service\nSourcePath=/etc/containers/systemd/a.container\n")
    blocks, error = read_systemd(runner, "systemctl", ["a.service"], properties=("Id", "SourcePath"))
    assert error is None and blocks[0]["SourcePath"] == "/etc/containers/systemd/a.container"
    assert runner.calls[0] == ["systemctl", "show", "--no-pager", "--property=Id,SourcePath", "--",
                               "a.service"]


def test_read_systemd_of_nothing_runs_nothing():
    def runner(argv):
        raise AssertionError(argv)
    assert read_systemd(runner, "systemctl", []) == ([], None)


def test_read_systemd_user_scope():
    runner = Runner(show="Id=a.service\n")
    read_systemd(runner, "systemctl", ["a.service"], user=True)
    assert runner.calls[0][:3] == ["systemctl", "--user", "show"]


@pytest.mark.parametrize("answer, expected", [
    ((0, "not json", ""), "podman container inspect printed no JSON (rc=0): not json -- "),
    ((125, "", "Error: cannot connect to the Podman socket\n"),
     "podman container inspect failed (rc=125): Error: cannot connect to the Podman socket"),
])
def test_read_containers_errors(answer, expected):
    inspected, error = read_containers(lambda argv: answer, "podman", ["core"])
    assert inspected == [] and error.startswith(expected)


@pytest.mark.parametrize("item", [
    {"Name": "core", "State": "running"},
    {"Name": "core", "State": {"Status": 5, "Health": ["x"], "StartedAt": 7, "OOMKilled": "yes"}},
    {"Name": "core", "State": {"Health": {"Status": None, "Log": "x", "FailingStreak": "x"}}},
    {"Name": "core", "State": {"Health": {"Log": [5]}}},
])
def test_podman_inspect_of_the_wrong_shape_reads_as_unknown(item):
    read = container_state(item)
    assert read["container_exists"] is True
    assert read["container_state"] is None and read["health"] is None
    assert read["container_started_at"] is None and read["container_oom_killed"] is False
    assert judge(dict(state(), **read), expect_health=True).verdict == FAILED


@pytest.mark.parametrize("value, problem", [
    ("ai-core.service", None),
    ("systemd-fsck@dev-disk-by\\x2duuid-1.service", None),
    ("", "units[0].service must be a unit name, got ''"),
    (None, "units[0].service must be a unit name, got None"),
    ("--all", "units[0].service '--all' is not a unit name: it starts with '-', which systemctl and "
     "podman would read as an option"),
    ("a\x00b", "units[0].service 'a\\x00b' is not a unit name: it holds white space or a control "
     "character"),
    ("a b", "units[0].service 'a b' is not a unit name: it holds white space or a control "
     "character"),
])
def test_names_that_would_be_read_as_options_or_split_are_refused(value, problem):
    assert name_problem("units[0].service", value, "unit") == problem


def test_unit_states_pairs_blocks_with_units_in_order():
    blocks = parse_systemctl_show(SHOW)
    states = unit_states([("ai-core.service", "core"), ("ai-net-network.service", None)], blocks,
                         [container("core", health=None)])
    assert [s["service"] for s in states] == ["ai-core.service", "ai-net-network.service"]
    assert states[0]["health"] is None and states[0]["container_exists"] is True
    assert states[0] == dict(states[0], **systemd_state(blocks[0]))
    assert states[1] == dict(states[1], **container_state(None))


# --------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------

def test_judgement_is_a_small_frozen_value():
    judgement = judge(state())
    assert judgement == Judgement(OK, None, "active/running, health healthy")
    assert judgement.ok
    with pytest.raises(AttributeError):
        judgement.verdict = FAILED


# (state, expect_health, verdict while converging, problem); final is ok or failed.
CASES = [
    (state(), True, OK, None),
    (state(health=None), False, OK, None),
    (state(container_name=None, sub="exited", exists=False), None, OK, None),
    (state(load="not-found", active="inactive", sub="dead"), True, FAILED,
     "unit not found (is the Quadlet file installed and `systemctl daemon-reload` run?)"),
    (state(load="masked", active="inactive", sub="dead"), True, FAILED, "unit is masked"),
    (state(active="failed", sub="failed", result="exit-code", exit_status=125, restarts=5), True, FAILED,
     "unit is failed (failed), result exit-code, exit status 125, restarted 5 times"),
    (state(active="activating", sub="start", exists=False), True, WAITING,
     "unit is activating (start): still starting (a unit with Notify=healthy waits for its health check)"),
    (state(active="activating", sub="auto-restart", result="exit-code", restarts=2), True, WAITING,
     "unit is activating (auto-restart), result exit-code, restarted 2 times"),
    (state(active="inactive", sub="dead", exists=False), True, WAITING, "unit is inactive (dead)"),
    (state(exists=False), True, WAITING, "unit is active but container core does not exist"),
    (state(cstate="exited", container_exit_code=137), True, WAITING,
     "container core is exited (exit code 137)"),
    (state(cstate="exited", container_oom_killed=True), True, WAITING,
     "container core is exited (killed: out of memory)"),
    (state(health=None), True, WAITING, "container core has no health check, but its unit defines one"),
    (state(health="starting"), True, WAITING, "container core health check has not passed yet (starting)"),
    (state(health="unhealthy", health_failing_streak=3, health_output="FAIL\n  tcp refused"), True, WAITING,
     "container core is unhealthy (3 failed checks in a row): FAIL tcp refused"),
]


@pytest.mark.parametrize("unit, expect_health, converging, problem", CASES)
def test_one_judgement_for_the_wait_and_for_verify(unit, expect_health, converging, problem):
    while_converging = judge(unit, expect_health, converging=True)
    final = judge(unit, expect_health)
    assert (while_converging.verdict, while_converging.problem) == (converging, problem)
    # What the wait still waits for is a failure once the state is final; the text is the same.
    assert (final.verdict, final.problem) == (OK if problem is None else FAILED, problem)
    assert final.description == while_converging.description


def test_an_inactive_unit_whose_dependency_failed_is_failed():
    unit = state(active="inactive", sub="dead", exists=False)
    judgement = judge(unit, True, failed_dependencies=["ai-store.service"], converging=True)
    assert (judgement.verdict, judgement.problem) == (
        FAILED, "unit is inactive (dead): dependency ai-store.service failed")
    # An activating unit is not held back by it: its start job is still queued.
    assert judge(state(active="activating", sub="start", exists=False), True,
                 failed_dependencies=["ai-store.service"], converging=True).verdict == WAITING


def test_a_crash_loop_fails_the_wait():
    unit = state(active="activating", sub="auto-restart", restarts=7, exists=False)
    assert judge(unit, True, converging=True, restarted=CRASH_LOOP_RESTARTS - 1).verdict == WAITING
    judgement = judge(unit, True, converging=True, restarted=CRASH_LOOP_RESTARTS)
    assert (judgement.verdict, judgement.problem) == (
        FAILED, "unit is activating (auto-restart), restarted 7 times; crash loop: systemd restarted "
        "it 3 times since it was started")
    # A healthy unit is ok however often it was restarted.
    assert judge(state(restarts=7), True, converging=True, restarted=5).verdict == OK


@pytest.mark.parametrize("unit, expect_health, expected", [
    (state(restarts=3), True, "active/running, health healthy, 3 restarts"),
    (state(health=None), False, "active/running"),
    (state(health=None), True, "active/running, health none"),
    (state(exists=False), True, "active/running, no container"),
    (state(cstate="exited"), True, "active/running, container exited"),
    ({}, None, "unknown/unknown"),
])
def test_describe(unit, expect_health, expected):
    assert describe(unit, expect_health) == expected
