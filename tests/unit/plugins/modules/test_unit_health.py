# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""unit_health: systemctl and podman are faked, everything else is real.

``run_unit_health`` gets a fake command runner that answers from canned
``systemctl show`` and ``podman container inspect`` output (the formats were
taken from systemd 252 and Podman 5.4); ``main()`` runs through the
``run_module`` fixture with ``AnsibleModule.run_command`` faked the same way.
"""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import (
    SYSTEMD_PROPERTIES, judge, parse_systemctl_show,
)
from ansible_collections.ai_system.containers.plugins.modules import unit_health
from ansible_collections.ai_system.containers.plugins.module_utils.verify.unit_health_run import run_unit_health

NOW = 1000.0  # the fake CLOCK_MONOTONIC, seconds


def show_block(unit, active="active", sub="running", load="loaded", result="success", restarts=0,
               entered_s=400.0, exit_status=0):
    return "\n".join([
        "Id=%s" % unit,
        "LoadState=%s" % load,
        "ActiveState=%s" % active,
        "SubState=%s" % sub,
        "Result=%s" % result,
        "UnitFileState=generated",
        "NRestarts=%d" % restarts,
        "MainPID=%d" % (4242 if active == "active" else 0),
        "ExecMainStatus=%d" % exit_status,
        "ActiveEnterTimestamp=%s" % ("Sun 2026-11-29 16:05:00 UTC" if entered_s else ""),
        "ActiveEnterTimestampMonotonic=%d" % int(entered_s * 1e6),
    ])


def inspected(name, status="running", health="healthy", streak=0, output="", exit_code=0, oom=False):
    state = {"Status": status, "Running": status == "running", "ExitCode": exit_code,
             "OOMKilled": oom, "StartedAt": "2026-11-29T16:04:58.764581173Z",
             "FinishedAt": "0001-01-01T00:00:00Z"}
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": streak,
                           "Log": [{"Start": "x", "End": "y", "ExitCode": 1 if streak else 0,
                                    "Output": output}]}
    return {"Id": "7c4fc9a923b24658277ce8d9a57effbfc941a9e902c67546d4f446f7cc6dcdcd",
            "Name": name, "State": state}


class FakeHost:
    """Answers systemctl and podman like a host would; records every argv."""

    def __init__(self, blocks=None, containers=None, show_rc=0, show_err="", podman_rc=None,
                 podman_out=None, podman_err=None, binaries=("systemctl", "podman")):
        self.blocks = blocks or []
        self.containers = containers or []
        self.show_rc, self.show_err = show_rc, show_err
        self.podman_rc, self.podman_out, self.podman_err = podman_rc, podman_out, podman_err
        self.binaries = binaries
        self.calls = []

    def which(self, name):
        return "/usr/bin/%s" % name if name in self.binaries else None

    def run(self, argv):
        self.calls.append(list(argv))
        if argv[0].endswith("systemctl"):
            return self.show_rc, "\n\n".join(self.blocks) + ("\n" if self.blocks else ""), self.show_err
        names = argv[argv.index("--") + 1:]
        found = [c for c in self.containers if c["Name"] in names]
        missing = [n for n in names if n not in [c["Name"] for c in self.containers]]
        out = self.podman_out if self.podman_out is not None else json.dumps(found, indent=4)
        err = self.podman_err if self.podman_err is not None else "".join(
            "Error: no such container %s\n" % n for n in missing)
        rc = self.podman_rc if self.podman_rc is not None else (125 if missing else 0)
        return rc, out, err


def params(units, **kwargs):
    base = {"units": units, "scope": "system", "systemctl_path": "systemctl", "podman_path": "podman",
            "fail_on_error": True}
    base.update(kwargs)
    return base


def check(host, units, **kwargs):
    return run_unit_health(params(units, **kwargs), host.run, host.which, monotonic=lambda: NOW)


UNITS = [{"service": "ai-pc2-redis.service", "container": "pc2-redis"},
         {"service": "ai-pc2-memory-system.service", "container": "pc2-memory-system"}]


def healthy_host():
    return FakeHost(blocks=[show_block(u["service"]) for u in UNITS],
                    containers=[inspected("pc2-redis", output="PONG"),
                                inspected("pc2-memory-system")])


# --------------------------------------------------------------------------
# Reading and judging
# --------------------------------------------------------------------------

def test_healthy_units_report_every_field():
    host = healthy_host()
    result, error = check(host, UNITS)
    assert error is None
    assert result["changed"] is False
    assert (result["ok_count"], result["failed_count"], result["summary"]) == (2, 0, [])
    redis = result["units"][0]
    assert redis == {
        "service": "ai-pc2-redis.service", "container": "pc2-redis", "ok": True, "problem": None,
        "load_state": "loaded", "active_state": "active", "sub_state": "running", "result": "success",
        "unit_file_state": "generated", "restarts": 0, "main_pid": 4242, "exit_status": 0,
        "active_since": "Sun 2026-11-29 16:05:00 UTC", "active_enter_monotonic_us": 400000000,
        "uptime_s": 600.0, "container_exists": True, "container_id": "7c4fc9a923b2",
        "container_state": "running", "container_started_at": "2026-11-29T16:04:58.764581173Z",
        "container_exit_code": 0, "container_oom_killed": False, "health": "healthy",
        "health_failing_streak": 0, "health_output": "PONG",
    }


def test_one_systemctl_and_one_podman_call_as_argv_lists():
    host = healthy_host()
    check(host, UNITS)
    assert host.calls == [
        ["/usr/bin/systemctl", "show", "--no-pager", "--property=" + ",".join(SYSTEMD_PROPERTIES), "--",
         "ai-pc2-redis.service", "ai-pc2-memory-system.service"],
        ["/usr/bin/podman", "container", "inspect", "--format", "json", "--",
         "pc2-memory-system", "pc2-redis"],
    ]


def test_user_scope_asks_the_user_manager():
    host = healthy_host()
    check(host, UNITS, scope="user")
    assert host.calls[0][:3] == ["/usr/bin/systemctl", "--user", "show"]


def test_unit_without_container_never_calls_podman():
    host = FakeHost(blocks=[show_block("ai-system-network.service", sub="exited")],
                    binaries=("systemctl",))
    result, error = check(host, [{"service": "ai-system-network.service", "container": None}])
    assert error is None
    assert len(host.calls) == 1
    assert result["units"][0]["ok"] is True
    assert result["units"][0]["container_exists"] is False


@pytest.mark.parametrize("block, expected", [
    (dict(load="not-found", active="inactive", sub="dead", entered_s=0),
     "unit not found (is the Quadlet file installed and `systemctl daemon-reload` run?)"),
    (dict(load="masked", active="inactive", sub="dead", entered_s=0), "unit is masked"),
    (dict(active="failed", sub="failed", result="exit-code", restarts=5, exit_status=125, entered_s=0),
     "unit is failed (failed), result exit-code, exit status 125, restarted 5 times"),
    (dict(active="activating", sub="start", entered_s=0),
     "unit is activating (start): still starting (a unit with Notify=healthy waits for its health check)"),
    (dict(active="activating", sub="auto-restart", result="exit-code", restarts=2, entered_s=0),
     "unit is activating (auto-restart), result exit-code, restarted 2 times"),
    (dict(active="inactive", sub="dead", entered_s=0), "unit is inactive (dead)"),
])
def test_units_that_are_not_active(block, expected):
    host = FakeHost(blocks=[show_block("ai-pc2-redis.service", **block)],
                    containers=[inspected("pc2-redis")])
    result, error = check(host, UNITS[:1])
    assert error is None
    unit = result["units"][0]
    assert (unit["ok"], unit["problem"]) == (False, expected)
    assert unit["uptime_s"] is None
    assert result["summary"] == ["ai-pc2-redis.service: " + expected]
    assert result["failed_count"] == 1


@pytest.mark.parametrize("container, expected", [
    (None, "unit is active but container pc2-redis does not exist"),
    (inspected("pc2-redis", status="exited", exit_code=137, health=None),
     "container pc2-redis is exited (exit code 137)"),
    (inspected("pc2-redis", status="exited", exit_code=137, oom=True, health=None),
     "container pc2-redis is exited (killed: out of memory)"),
    (inspected("pc2-redis", health="unhealthy", streak=3,
               output="FAIL 127.0.0.1:8120 (health): tcp failed:\n connection refused"),
     "container pc2-redis is unhealthy (3 failed checks in a row): "
     "FAIL 127.0.0.1:8120 (health): tcp failed: connection refused"),
    (inspected("pc2-redis", health="starting"),
     "container pc2-redis health check has not passed yet (starting)"),
])
def test_containers_that_are_not_healthy(container, expected):
    host = FakeHost(blocks=[show_block("ai-pc2-redis.service")],
                    containers=[container] if container else [])
    result, error = check(host, UNITS[:1])
    assert error is None
    assert (result["units"][0]["ok"], result["units"][0]["problem"]) == (False, expected)


def test_container_without_health_check_passes_here_and_fails_when_one_is_expected():
    host = FakeHost(blocks=[show_block("ai-pc2-redis.service")],
                    containers=[inspected("pc2-redis", health=None)])
    result, dummy = check(host, UNITS[:1])
    unit = result["units"][0]
    assert unit["ok"] is True and unit["health"] is None
    result, dummy = check(host, [dict(UNITS[0], healthcheck=True)])
    unit = result["units"][0]
    assert (unit["ok"], unit["problem"]) == (
        False, "container pc2-redis has no health check, but its unit defines one")


def test_long_health_output_is_cut():
    host = FakeHost(blocks=[show_block("ai-pc2-redis.service")],
                    containers=[inspected("pc2-redis", health="unhealthy", streak=1, output="x" * 1000)])
    result, dummy = check(host, UNITS[:1])
    assert result["units"][0]["health_output"] == "x" * 300 + "..."


def test_a_missing_container_does_not_hide_the_others():
    host = FakeHost(blocks=[show_block(u["service"]) for u in UNITS],
                    containers=[inspected("pc2-memory-system")])
    result, error = check(host, UNITS)
    assert error is None
    assert [u["ok"] for u in result["units"]] == [False, True]
    assert result["summary"] == [
        "ai-pc2-redis.service: unit is active but container pc2-redis does not exist"]


def test_container_found_by_id_prefix():
    host = FakeHost(blocks=[show_block("ai-pc2-redis.service")],
                    containers=[inspected("pc2-redis")],
                    podman_out=json.dumps([inspected("pc2-redis")]), podman_rc=0, podman_err="")
    result, dummy = check(host, [{"service": "ai-pc2-redis.service", "container": "7c4fc9a923b2"}])
    assert result["units"][0]["container_exists"] is True


def test_systemctl_show_garbage_fails_cleanly():
    host = FakeHost(blocks=["<html>\nx=1", "</html>\ny=2"])
    result, error = check(host, UNITS)
    assert error == ("systemctl show printed no unit properties for ai-pc2-redis.service (no Id=): "
                     "<html>")
    assert result["units"] == []


def test_podman_inspect_of_the_wrong_shape_is_a_problem_not_a_traceback():
    host = FakeHost(blocks=[show_block(u["service"]) for u in UNITS], podman_rc=0,
                    podman_out=json.dumps([{"Name": "pc2-redis", "State": "up"},
                                           {"Name": "pc2-memory-system", "State": {"Health": 5}}]),
                    podman_err="")
    result, error = check(host, UNITS)
    assert error is None and result["failed_count"] == 2
    assert result["summary"][0] == ("ai-pc2-redis.service: container pc2-redis is in an unknown "
                                    "state")


def test_parse_systemctl_show_keeps_equals_signs_in_values():
    blocks = parse_systemctl_show("Id=a.service\nStatusText=x=1\n\n\nId=b.service\n")
    assert blocks == [{"Id": "a.service", "StatusText": "x=1"}, {"Id": "b.service"}]


# --------------------------------------------------------------------------
# Every error path and its message
# --------------------------------------------------------------------------

@pytest.mark.parametrize("units, expected", [
    ([], "units must name at least one unit"),
    ([{"service": "  ", "container": None}], "units[0].service must not be empty"),
    ([{"service": "ai-a.service", "container": None}, {"service": "ai a.service", "container": None}],
     "units[1].service 'ai a.service' is not a unit name: it holds white space or a control character"),
    ([{"service": "--all", "container": None}],
     "units[0].service '--all' is not a unit name: it starts with '-', which systemctl and podman would "
     "read as an option"),
    ([{"service": "ai-a.service\x1b[2J", "container": None}],
     "units[0].service 'ai-a.service\\x1b[2J' is not a unit name: it holds white space or a control "
     "character"),
    ([{"service": "ai-a.service", "container": None}, {"service": "ai-a.service", "container": "a"}],
     "unit ai-a.service is listed twice"),
    ([{"service": "ai-a.service", "container": " "}], "units[0].container must be a container name, got ''"),
    ([{"service": "ai-a.service", "container": "-a"}],
     "units[0].container '-a' is not a container name: it starts with '-', which systemctl and podman "
     "would read as an option"),
])
def test_invalid_units(units, expected):
    host = healthy_host()
    result, error = check(host, units)
    assert error == expected
    assert host.calls == []
    assert result["units"] == []


def test_systemctl_missing():
    host = FakeHost(binaries=("podman",))
    result, error = check(host, UNITS)
    assert error == "systemctl not found in PATH (unit_health needs systemd)"
    assert host.calls == []


def test_systemctl_absolute_path_that_is_not_executable(tmp_path):
    fake = tmp_path / "systemctl"
    fake.write_text("")
    os.chmod(str(fake), 0o644)
    result, error = check(healthy_host(), UNITS, systemctl_path=str(fake))
    assert error == "%s is not an executable file (unit_health needs systemd)" % fake


def test_systemctl_absolute_path_is_used_as_given(tmp_path):
    fake = tmp_path / "systemctl"
    fake.write_text("#!/bin/sh\n")
    os.chmod(str(fake), 0o755)
    host = healthy_host()
    dummy, error = check(host, UNITS, systemctl_path=str(fake))
    assert error is None
    assert host.calls[0][0] == str(fake)


def test_systemctl_fails():
    host = FakeHost(show_rc=1, show_err="System has not been booted with systemd as init system (PID 1)."
                    " Can't operate.\nFailed to connect to bus: Host is down\n")
    result, error = check(host, UNITS)
    assert error == ("systemctl show failed (rc=1): System has not been booted with systemd as init "
                     "system (PID 1). Can't operate.")


def test_systemctl_output_does_not_match_the_units():
    host = FakeHost(blocks=[show_block("ai-pc2-redis.service")])
    result, error = check(host, UNITS)
    assert error == "systemctl show returned 1 unit(s) for the 2 asked for: Id=ai-pc2-redis.service"


def test_podman_missing():
    host = FakeHost(blocks=[show_block(u["service"]) for u in UNITS], binaries=("systemctl",))
    result, error = check(host, UNITS)
    assert error == "podman not found in PATH (needed to read the containers)"


def test_podman_prints_no_json():
    host = FakeHost(blocks=[show_block(u["service"]) for u in UNITS], podman_rc=0,
                    podman_out="not json", podman_err="")
    result, error = check(host, UNITS)
    assert error.startswith("podman container inspect printed no JSON (rc=0): not json -- ")


def test_podman_prints_a_json_object():
    host = FakeHost(blocks=[show_block(u["service"]) for u in UNITS], podman_rc=0,
                    podman_out="{}", podman_err="")
    result, error = check(host, UNITS)
    assert error == ("podman container inspect printed no JSON (rc=0): {} -- "
                     "expected a JSON list, got dict")


def test_podman_fails_for_another_reason():
    host = FakeHost(blocks=[show_block(u["service"]) for u in UNITS], podman_rc=125, podman_out="",
                    podman_err="Error: cannot connect to the Podman socket: permission denied\n")
    result, error = check(host, UNITS)
    assert error == ("podman container inspect failed (rc=125): Error: cannot connect to the Podman "
                     "socket: permission denied")


# --------------------------------------------------------------------------
# main(): what the task returns
# --------------------------------------------------------------------------

@pytest.fixture
def fake_commands(monkeypatch):
    """Fake AnsibleModule.run_command and get_bin_path with a FakeHost."""
    state = {"host": healthy_host(), "environ": []}

    def run_command(self, args, environ_update=None, **kwargs):
        state["environ"].append(environ_update)
        return state["host"].run(args)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return state["host"].which(name)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    return state


def test_main_reports_healthy_units_with_lang_c(run_module, fake_commands):
    result, failed = run_module(unit_health.main, {"units": UNITS})
    assert not failed
    assert result["changed"] is False
    assert result["msg"] == "2 of 2 units active and healthy"
    assert [u["ok"] for u in result["units"]] == [True, True]
    assert fake_commands["environ"] == [{"LANG": "C", "LC_ALL": "C"}] * 2


def test_main_check_mode_reads_the_same(run_module, fake_commands):
    result, failed = run_module(unit_health.main, {"units": UNITS}, check=True)
    assert not failed and result["changed"] is False
    assert result["ok_count"] == 2


def test_main_fails_on_an_unhealthy_unit_with_one_line_per_unit(run_module, fake_commands):
    fake_commands["host"] = FakeHost(
        blocks=[show_block(UNITS[0]["service"], active="failed", sub="failed", result="exit-code",
                           entered_s=0),
                show_block(UNITS[1]["service"])],
        containers=[inspected("pc2-memory-system", health="unhealthy", streak=3)])
    result, failed = run_module(unit_health.main, {"units": UNITS})
    assert failed
    assert result["msg"] == (
        "ai-pc2-redis.service: unit is failed (failed), result exit-code\n"
        "ai-pc2-memory-system.service: container pc2-memory-system is unhealthy (3 failed checks in a row)")
    assert result["failed_count"] == 2


def test_main_without_fail_on_error_reports_and_succeeds(run_module, fake_commands):
    fake_commands["host"] = FakeHost(blocks=[show_block(UNITS[0]["service"], active="inactive",
                                                        sub="dead", entered_s=0)],
                                     containers=[])
    result, failed = run_module(unit_health.main, {"units": UNITS[:1], "fail_on_error": False})
    assert not failed
    assert result["msg"] == "0 of 1 units active and healthy"
    assert result["summary"] == ["ai-pc2-redis.service: unit is inactive (dead)"]


def test_main_fails_with_only_the_message_when_it_cannot_read(run_module, fake_commands):
    fake_commands["host"] = FakeHost(show_rc=1, show_err="Failed to connect to bus: No such file\n")
    result, failed = run_module(unit_health.main, {"units": UNITS, "fail_on_error": False})
    assert failed
    assert result == {"msg": "systemctl show failed (rc=1): Failed to connect to bus: No such file",
                      "changed": False}


def test_main_refuses_unknown_unit_keys(run_module, fake_commands):
    result, failed = run_module(unit_health.main, {"units": [{"service": "a.service", "group": "x"}]})
    assert failed
    assert "group" in result["msg"]


def test_every_unit_is_judged_with_the_one_judgement_on_a_final_state():
    host = FakeHost(blocks=[show_block(UNITS[0]["service"], active="activating", sub="start", entered_s=0),
                            show_block(UNITS[1]["service"])],
                    containers=[inspected("pc2-memory-system", health="starting")])
    result, error = check(host, UNITS)
    assert error is None
    for unit in result["units"]:
        judgement = judge(unit)
        assert judgement.verdict == "failed"
        assert (unit["ok"], unit["problem"]) == (judgement.ok, judgement.problem)
        # The deploy's wait would still wait for it, with the same text.
        assert judge(unit, converging=True).verdict == "waiting"
        assert judge(unit, converging=True).problem == unit["problem"]
