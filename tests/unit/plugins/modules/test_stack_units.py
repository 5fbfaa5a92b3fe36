# -*- coding: utf-8 -*-
"""stack_units against a fake systemctl/podman/journalctl."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.modules import stack_units

UNITS = [
    {"group": "core", "service": "ai-core.service", "unit_file": "ai-core.container",
     "container": "core", "config_files": [], "secrets": [], "healthcheck": True,
     "depends_on": []},
    {"group": "app", "service": "ai-app.service", "unit_file": "ai-app.container",
     "container": "app", "config_files": ["groups/app/endpoints.json"], "secrets": [],
     "healthcheck": True, "depends_on": ["ai-core.service"]},
]


class FakeHost:
    """Services with states; systemctl start/restart make them active and healthy."""

    def __init__(self, active=(), broken=()):
        self.active = set(active)
        self.broken = set(broken)
        self.calls = []

    def show(self, names):
        blocks = []
        for name in names:
            if name in self.broken:
                state = "failed"
            else:
                state = "active" if name in self.active else "inactive"
            blocks.append("Id=%s\nActiveState=%s\nSubState=x\nNRestarts=0" % (name, state))
        return "\n\n".join(blocks) + "\n"

    def run_command(self, argv, **kwargs):
        self.calls.append(argv)
        tool = argv[0].rsplit("/", 1)[-1]
        if tool == "systemctl" and argv[1] == "show":
            return 0, self.show(argv[4:]), ""
        if tool == "systemctl" and argv[1] in ("start", "restart"):
            for name in argv[2:]:
                if name.startswith("--"):
                    continue
                deps = {u["service"]: u["depends_on"] for u in UNITS}.get(name, [])
                # Like Requires=: a unit whose dependency fails does not start.
                if name not in self.broken and not set(deps) & self.broken:
                    self.active.add(name)
            return 0, "", ""
        if tool == "systemctl":
            if argv[1] == "stop":
                self.active.difference_update(argv[2:])
            return 0, "", ""
        if tool == "podman":
            return 0, "healthy\n", ""
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
    assert [u["verdict"] for u in result["units"]] == ["ok", "ok"]


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
    assert verbs(host) == []


def test_failed_group_is_named_with_its_logs(host, run_module):
    host.broken = {"ai-core.service"}
    result, failed = run_module(stack_units.main, {"units": UNITS, "timeout": 5})
    assert failed
    assert result["msg"].splitlines()[0] == "2 group(s) did not become healthy within 5 s:"
    assert "- core (ai-core.service): failed/x, health healthy" in result["msg"]
    assert "- app (ai-app.service): inactive/x" in result["msg"]
    assert "    | Error: image not known" in result["msg"]
    assert result["unhealthy"] == ["core", "app"]


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
            "Id=ai-app.service\nActiveState=inactive\nSubState=x\nNRestarts=0",
            "Id=ai-app.service\nActiveState=activating\nSubState=auto-restart\nNRestarts=%d"
            % counts["n"])

    host.show = show
    host.broken = set()
    result, failed = run_module(stack_units.main, {"units": UNITS, "timeout": 600})
    assert failed and result["unhealthy"] == ["app"]
    assert "- app (ai-app.service): activating/auto-restart" in result["msg"]
