# -*- coding: utf-8 -*-
"""stack_units against a fake systemctl/podman/journalctl."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.modules import stack_units
from ansible_collections.ai_system.containers.plugins.modules.unit_health import run_unit_health

UNITS = [
    {"group": "core", "service": "ai-core.service", "unit_file": "ai-core.container",
     "container": "core", "config_files": [], "secrets": [], "healthcheck": True,
     "depends_on": []},
    {"group": "app", "service": "ai-app.service", "unit_file": "ai-app.container",
     "container": "app", "config_files": ["groups/app/endpoints.json"], "secrets": [],
     "healthcheck": True, "depends_on": ["ai-core.service"]},
]


def inspected(name, status="running", health="healthy"):
    state = {"Status": status, "ExitCode": 0, "OOMKilled": False}
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": 0, "Log": []}
    return {"Id": "7c4fc9a923b2" + name, "Name": name, "State": state}


def names_after_dashes(argv):
    return argv[argv.index("--") + 1:]


class FakeHost:
    """Services with states; systemctl start/restart make them active and healthy.

    A service's container exists while the service is active; its health is
    ``health[container]`` (healthy by default).
    """

    def __init__(self, units=tuple(UNITS)):
        self.units = units
        self.active = set()
        self.broken = set()
        self.health = {}
        self.calls = []

    def show(self, names):
        blocks = []
        for name in names:
            if name in self.broken:
                state = "failed"
            else:
                state = "active" if name in self.active else "inactive"
            blocks.append("Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=x\nNRestarts=0"
                          % (name, state))
        return "\n\n".join(blocks) + "\n"

    def inspect(self, names):
        running = {u["container"] for u in self.units if u["service"] in self.active}
        found = [inspected(n, health=self.health.get(n, "healthy")) for n in names if n in running]
        missing = [n for n in names if n not in running]
        return (125 if missing else 0), json.dumps(found), "".join(
            "Error: no such container %s\n" % n for n in missing)

    def run_command(self, argv, **kwargs):
        self.calls.append(argv)
        tool = argv[0].rsplit("/", 1)[-1]
        if tool == "systemctl" and argv[1] == "show":
            return 0, self.show(names_after_dashes(argv)), ""
        if tool == "systemctl" and argv[1] in ("start", "restart"):
            for name in argv[2:]:
                if name.startswith("--"):
                    continue
                deps = {u["service"]: u["depends_on"] for u in self.units}.get(name, [])
                # Like Requires=: a unit whose dependency fails does not start.
                if name not in self.broken and not set(deps) & self.broken:
                    self.active.add(name)
            return 0, "", ""
        if tool == "systemctl":
            if argv[1] == "stop":
                self.active.difference_update(argv[2:])
            return 0, "", ""
        if tool == "podman" and argv[1:3] == ["container", "inspect"]:
            return self.inspect(names_after_dashes(argv))
        if tool == "journalctl":
            return 0, "line 1\nError: image not known\n", ""
        raise AssertionError(argv)


@pytest.fixture
def host(monkeypatch):
    fake = FakeHost()
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    monkeypatch.setattr(stack_units, "POLL_SECONDS", 0)
    return fake


def verbs(fake):
    return [c[1:] for c in fake.calls if c[0].endswith("systemctl") and c[1] != "show"]


def test_first_run_reloads_and_starts_everything(host, run_module):
    result, failed = run_module(stack_units.main, {"units": UNITS, "daemon_reload": True,
                                                   "changed_files": ["ai-core.container"]})
    assert not failed and result["changed"]
    assert result["started"] == ["ai-core.service", "ai-app.service"]
    assert result["restarted"] == []
    assert verbs(host) == [["daemon-reload"],
                           ["start", "--no-block", "ai-core.service", "ai-app.service"]]
    assert result["units"] == [
        {"service": "ai-core.service", "group": "core", "active": "active", "sub": "x",
         "health": "healthy", "restarts": 0, "verdict": "ok", "problem": None,
         "state": "active/x, health healthy"},
        {"service": "ai-app.service", "group": "app", "active": "active", "sub": "x",
         "health": "healthy", "restarts": 0, "verdict": "ok", "problem": None,
         "state": "active/x, health healthy"}]


def test_second_run_changes_nothing(host, run_module):
    host.active = {"ai-core.service", "ai-app.service"}
    result, failed = run_module(stack_units.main, {"units": UNITS})
    assert not failed and result["changed"] is False
    assert verbs(host) == []


def test_only_the_changed_unit_restarts(host, run_module):
    host.active = {"ai-core.service", "ai-app.service"}
    result, dummy = run_module(stack_units.main, {
        "units": UNITS, "daemon_reload": True, "changed_files": ["groups/app/endpoints.json"]})
    assert result["restarted"] == ["ai-app.service"] and result["started"] == []
    assert ["restart", "--no-block", "ai-app.service"] in verbs(host)


def test_removed_unit_is_stopped_before_the_reload(host, run_module):
    host.active = {"ai-core.service", "ai-app.service", "ai-old.service"}
    result, dummy = run_module(stack_units.main, {
        "units": UNITS, "daemon_reload": True, "removed_files": ["ai-old.container"]})
    assert result["stopped"] == ["ai-old.service"]
    assert verbs(host)[:2] == [["stop", "ai-old.service"], ["daemon-reload"]]


def test_check_mode_changes_nothing(host, run_module):
    result, dummy = run_module(stack_units.main, {"units": UNITS, "daemon_reload": True},
                               check=True)
    assert result["changed"] and result["started"] == ["ai-core.service", "ai-app.service"]
    assert result["units"] == []
    assert verbs(host) == []
    assert not [c for c in host.calls if c[0].endswith("podman")]


def test_failed_group_is_named_with_its_logs(host, run_module):
    host.broken = {"ai-core.service"}
    result, failed = run_module(stack_units.main, {"units": UNITS, "timeout": 5})
    assert failed
    assert result["msg"].splitlines()[0] == "2 group(s) did not become healthy within 5 s:"
    assert "- core (ai-core.service): unit is failed (x)\n" in result["msg"]
    assert ("- app (ai-app.service): unit is inactive (x): dependency ai-core.service failed\n"
            in result["msg"])
    assert "    | Error: image not known" in result["msg"]
    assert result["unhealthy"] == ["core", "app"]
    assert result["logs"]["core"] == ["line 1", "Error: image not known"]
    assert [(u["verdict"], u["health"], u["state"]) for u in result["units"]] == [
        ("failed", "absent", "failed/x, no container"),
        ("failed", "absent", "inactive/x, no container")]


def test_units_must_come_from_the_plan(host, run_module):
    result, failed = run_module(stack_units.main, {"units": [{"group": "x"}]})
    assert failed and result["msg"] == "units entry 'x' has no service; pass the plan's units"


def test_a_crash_looping_unit_fails_without_waiting_for_the_timeout(host, run_module):
    host.active = {"ai-core.service"}
    counts = {"n": 0}
    real_show = host.show

    def show(names):
        counts["n"] += 1  # systemd restarts ai-app once per poll, never settling
        return real_show(names).replace(
            "Id=ai-app.service\nLoadState=loaded\nActiveState=inactive\nSubState=x\nNRestarts=0",
            "Id=ai-app.service\nLoadState=loaded\nActiveState=activating\nSubState=auto-restart\n"
            "NRestarts=%d" % counts["n"])

    host.show = show
    result, failed = run_module(stack_units.main, {"units": UNITS, "timeout": 600})
    assert failed and result["unhealthy"] == ["app"]
    assert ("- app (ai-app.service): unit is activating (auto-restart), restarted 5 times; crash "
            "loop: systemd restarted it 3 times since it was started" in result["msg"])


def test_an_unhealthy_container_is_waited_for_until_the_health_check_kills_it(host, run_module):
    host.health = {"app": "unhealthy"}
    polls = {"n": 0}
    real_inspect = host.inspect

    def inspect(names):
        polls["n"] += 1
        if polls["n"] == 3:  # HealthOnFailure=kill, systemd restarts it, now it passes
            host.health = {}
        return real_inspect(names)

    host.inspect = inspect
    result, failed = run_module(stack_units.main, {"units": UNITS, "timeout": 600})
    assert not failed and [u["verdict"] for u in result["units"]] == ["ok", "ok"]
    assert polls["n"] == 3


def test_the_wait_times_out_naming_what_it_waited_for(host, run_module):
    host.health = {"app": "starting"}
    result, failed = run_module(stack_units.main, {"units": UNITS, "timeout": 0})
    assert failed and result["unhealthy"] == ["app"]
    assert result["msg"].splitlines()[:2] == [
        "1 group(s) did not become healthy within 0 s:",
        "- app (ai-app.service): container app health check has not passed yet (starting)"]
    assert [u["verdict"] for u in result["units"]] == ["ok", "waiting"]


def test_each_poll_reads_all_units_with_one_systemctl_and_one_podman_call(host, run_module):
    units = [dict(UNITS[0], group="g%d" % i, service="ai-g%d.service" % i, container="g%d" % i,
                  unit_file="ai-g%d.container" % i) for i in range(5)]
    host.units = units
    host.health = {u["container"]: "starting" for u in units}
    polls = {"n": 0}
    real_inspect = host.inspect

    def inspect(names):
        polls["n"] += 1
        if polls["n"] == 4:
            host.health = {}
        return real_inspect(names)

    host.inspect = inspect
    result, failed = run_module(stack_units.main, {"units": units, "timeout": 600})
    assert not failed and [u["verdict"] for u in result["units"]] == ["ok"] * 5
    podman = [c for c in host.calls if c[0].endswith("podman")]
    shows = [c for c in host.calls if c[0].endswith("systemctl") and c[1] == "show"]
    assert len(podman) == 4  # one per poll, for all five containers
    assert all(names_after_dashes(c) == ["g0", "g1", "g2", "g3", "g4"] for c in podman)
    assert len(shows) == 1 + 4  # the one before starting, then one per poll
    assert all(names_after_dashes(c) == [u["service"] for u in units] for c in shows)


@pytest.mark.parametrize("failing, answer, expected", [
    ("show", (1, "", "Failed to connect to bus: No such file\n"),
     "systemctl show failed (rc=1): Failed to connect to bus: No such file"),
    ("podman", (125, "", "Error: cannot connect to the Podman socket\n"),
     "podman container inspect failed (rc=125): Error: cannot connect to the Podman socket"),
    ("daemon-reload", (1, "", "Access denied\n"),
     "/usr/bin/systemctl daemon-reload failed (rc 1): Access denied"),
])
def test_a_command_that_fails_fails_the_task_with_its_message(host, run_module, failing, answer,
                                                              expected):
    real = host.run_command

    def run_command(argv, **kwargs):
        if failing in argv[:2] or (failing == "podman" and argv[0].endswith("podman")):
            return answer
        return real(argv, **kwargs)

    host.run_command = run_command
    result, failed = run_module(stack_units.main, {"units": UNITS, "daemon_reload": True})
    assert failed and result["msg"] == expected


# --------------------------------------------------------------------------
# The deploy's wait and verify judge a state the same way
# --------------------------------------------------------------------------

class StaticHost:
    """One unit whose state nothing changes: the same for stack_units and unit_health."""

    def __init__(self, show, container):
        self.show, self.container = show, container

    def run(self, argv):
        if argv[0].endswith("systemctl") and argv[1] == "show":
            return 0, "Id=ai-core.service\n" + self.show + "\n", ""
        if argv[0].endswith("systemctl"):
            return 0, "", ""
        if argv[0].endswith("podman"):
            if self.container is None:
                return 125, "[]", "Error: no such container core\n"
            return 0, json.dumps([self.container]), ""
        return 0, "", ""


SAME_STATES = [
    # (systemctl show, container, the plan's healthcheck, verdict of the wait)
    ("LoadState=loaded\nActiveState=active\nSubState=running", inspected("core"), True, "ok"),
    ("LoadState=loaded\nActiveState=active\nSubState=running", inspected("core", health=None), False,
     "ok"),
    ("LoadState=loaded\nActiveState=active\nSubState=running", inspected("core", health="starting"),
     True, "waiting"),
    ("LoadState=loaded\nActiveState=active\nSubState=running", inspected("core", health="unhealthy"),
     True, "waiting"),
    ("LoadState=loaded\nActiveState=active\nSubState=running", inspected("core", status="exited",
                                                                         health=None), True, "waiting"),
    ("LoadState=loaded\nActiveState=active\nSubState=running", None, True, "waiting"),
    ("LoadState=loaded\nActiveState=activating\nSubState=start", None, True, "waiting"),
    ("LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nNRestarts=5", None,
     True, "failed"),
    ("LoadState=not-found\nActiveState=inactive\nSubState=dead", None, True, "failed"),
    ("LoadState=masked\nActiveState=inactive\nSubState=dead", None, True, "failed"),
]


@pytest.mark.parametrize("show, container, healthcheck, verdict", SAME_STATES)
def test_the_same_state_gets_the_same_verdict_in_both_modules(
        monkeypatch, run_module, show, container, healthcheck, verdict):
    static = StaticHost(show, container)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: static.run(argv))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    unit = dict(UNITS[0], healthcheck=healthcheck)
    deployed, failed = run_module(stack_units.main, {"units": [unit], "timeout": 0})
    verified, error = run_unit_health(
        {"units": [{"service": unit["service"], "container": unit["container"],
                    "healthcheck": healthcheck}], "scope": "system",
         "systemctl_path": "systemctl", "podman_path": "podman", "fail_on_error": False},
        static.run, lambda name: "/usr/bin/" + name)
    assert error is None
    wait, health = deployed["units"][0], verified["units"][0]
    assert failed == (verdict != "ok")
    assert wait["verdict"] == verdict
    # What the wait waits for is a failure for verify, with the same text.
    assert (health["ok"], health["problem"]) == (verdict == "ok", wait["problem"])
