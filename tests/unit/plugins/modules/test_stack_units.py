# -*- coding: utf-8 -*-
"""stack_units against a fake host: systemd, Podman and journalctl are faked,
the Quadlet directory, the endpoint maps and the record are real files.

The fake keeps what systemd has loaded apart from what is on disk (until
``daemon-reload``) and what each running container was started from, so a
test can say whether a unit runs what its files say.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import (
    SYSTEMD_PROPERTIES,
)
from ansible_collections.ai_system.containers.plugins.module_utils.host import stack_units_run
from ansible_collections.ai_system.containers.plugins.modules import stack_units
from ansible_collections.ai_system.containers.plugins.module_utils.verify.unit_health_run import run_unit_health

MARKER = "# Managed by ai_system.containers -- do not edit\n"
LABEL = "io.ai-system.managed-by=ai_system.containers"

# The fields of a plan unit (plan_contract.UnitPlan) these tests do not vary.
PLAN_UNIT = {"image": "localhost/ai-system/app:1", "build": False, "gpu": False, "cdi_devices": [],
             "vram_mib": None, "restart_on_change": [], "agents": []}
UNITS = [
    dict(PLAN_UNIT, group="core", service="ai-core.service", unit_file="ai-core.container",
         container="core", config_files=["groups/core/endpoints.json"], secrets=[],
         healthcheck=True, depends_on=[]),
    dict(PLAN_UNIT, group="app", service="ai-app.service", unit_file="ai-app.container",
         container="app", config_files=["groups/app/endpoints.json"], secrets=["key"],
         healthcheck=True, depends_on=["ai-core.service"]),
]


def unit_text(container, extra="", marker=True):
    return "%s[Container]\nContainerName=%s\nLabel=%s\n%s" % (
        MARKER if marker else "", container, LABEL if marker else "x=y", extra)


def inspected(name, status="running", health="healthy"):
    state = {"Status": status, "ExitCode": 0, "OOMKilled": False}
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": 0, "Log": []}
    return {"Id": "7c4fc9a923b2" + name, "Name": name, "State": state}


def names_after_dashes(argv):
    return argv[argv.index("--") + 1:]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


class FinishedProcess:
    """A background process that has already ended."""

    def poll(self):
        return 0


class FakeHost:
    """A host with systemd, Podman and real files under ``root``.

    ``generated``: what systemd loaded at the last daemon-reload (service ->
    unit text); ``active``: running services; ``running``: what each running
    service's container was started from (its loaded unit text and the text of
    its endpoint maps then); ``containers``: name -> {Id, service, labels}.
    """

    def __init__(self, root, units=tuple(UNITS)):
        self.root = root
        self.quadlet = root / "quadlet"
        self.config = root / "config"
        self.state_file = root / "state" / "applied.json"
        self.generator = root / "generator"
        for path in (self.quadlet, self.config, self.generator):
            path.mkdir(parents=True, exist_ok=True)
        self.units = list(units)
        self.generated = {}
        self.active = set()
        self.broken = set()
        self.health = {}
        self.running = {}
        self.containers = {}
        self.secrets = {}
        self.entered = {}
        self.clock = 1000
        self.calls = []
        self.serial = 0
        self.delay_restart = set()
        self.early_verdict = {}
        for unit in self.units:
            self.write(unit["unit_file"], unit_text(unit["container"]))
            for config in unit["config_files"]:
                self.write_config(config, '{"group": "%s"}' % unit["group"])
            for secret in unit["secrets"]:
                self.secrets.setdefault(secret, "5e1%s@2026-11-29T16:00:00Z" % secret)

    # -- files --------------------------------------------------------------------------
    def write(self, name, text):
        (self.quadlet / name).write_text(text)

    def write_config(self, name, text):
        path = self.config / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def disk(self, unit):
        return {"unit": (self.quadlet / unit["unit_file"]).read_text(),
                "config": {c: (self.config / c).read_text() for c in unit["config_files"]},
                "secrets": {s: self.secrets.get(s) for s in unit["secrets"]}}

    def record(self):
        return json.loads(self.state_file.read_text())["units"]

    def args(self, **extra):
        base = {"units": self.units, "quadlet_dir": str(self.quadlet),
                "config_dir": str(self.config), "state_file": str(self.state_file)}
        base.update(extra)
        return base

    # -- systemd --------------------------------------------------------------------------
    def source(self, service):
        for path in self.quadlet.iterdir():
            if path.suffix == ".container" and path.stem + ".service" == service:
                return path
        return None

    def daemon_reload(self):
        kept = {}
        for path in sorted(self.quadlet.iterdir()):
            if path.suffix == ".container":
                kept[path.stem + ".service"] = path.read_text()
                (self.generator / (path.stem + ".service")).write_text(
                    "ExecStart=podman run --label %s\n" % LABEL
                    if LABEL in path.read_text() else "ExecStart=podman run\n")
        # A running unit whose file is gone stays loaded (not-found) until stopped.
        for service in self.active:
            if service not in kept and service in self.generated:
                kept[service] = None
        self.generated = kept

    def load_state(self, service):
        if self.generated.get(service) is not None:
            return "loaded"
        return "not-found"

    def container_of(self, service):
        text = self.generated.get(service) or ""
        for line in text.splitlines():
            if line.startswith("ContainerName="):
                return line.split("=", 1)[1]
        return None

    def start(self, service):
        if self.generated.get(service) is None or service in self.broken:
            return
        deps = {u["service"]: u["depends_on"] for u in self.units}.get(service, [])
        # Like Requires=: a unit whose dependency fails does not start.
        if set(deps) & self.broken:
            return
        name = self.container_of(service)
        # Quadlet runs podman with --replace.
        self.containers.pop(name, None)
        self.serial += 1
        self.containers[name] = {"Id": "%064x" % self.serial, "service": service,
                                 "labels": {"io.ai-system.managed-by": "ai_system.containers",
                                            "PODMAN_SYSTEMD_UNIT": service}}
        self.active.add(service)
        self.clock += 1
        self.entered[service] = self.clock
        unit = {u["service"]: u for u in self.units}.get(service)
        self.running[service] = {
            "unit": self.generated[service],
            "config": {c: (self.config / c).read_text() for c in unit["config_files"]}
            if unit else {},
            "secrets": {s: self.secrets.get(s) for s in unit["secrets"]} if unit else {}}

    def stop(self, service):
        self.active.discard(service)
        self.running.pop(service, None)
        for name, entry in list(self.containers.items()):
            if entry["service"] == service:
                del self.containers[name]
        if self.generated.get(service, "") is None:
            del self.generated[service]

    def show(self, names, props):
        blocks = []
        for name in names:
            if name in self.broken:
                state = "failed"
            else:
                state = "active" if name in self.active else "inactive"
            source = self.source(name)
            values = {"Id": name, "LoadState": self.load_state(name), "ActiveState": state,
                      "SubState": "x", "NRestarts": "0",
                      "ActiveEnterTimestampMonotonic": str(self.entered.get(name, 0)),
                      "SourcePath": str(source) if source else
                      (str(self.quadlet / (name[:-len(".service")] + ".container"))
                       if name in self.generated else ""),
                      "FragmentPath": str(self.generator / name)
                      if (self.generator / name).exists() else ""}
            blocks.append("\n".join("%s=%s" % (p, values.get(p, "")) for p in props))
        return "\n\n".join(blocks) + "\n"

    # -- podman ---------------------------------------------------------------------------
    def inspect(self, names):
        found = [inspected(n, health=self.health.get(n, "healthy")) for n in names
                 if n in self.containers and self.containers[n]["service"] in self.active]
        missing = [n for n in names if n not in [f["Name"] for f in found]]
        return (125 if missing else 0), json.dumps(found), "".join(
            "Error: no such container %s\n" % n for n in missing)

    def ps(self):
        return json.dumps([{"Id": e["Id"], "Names": [name], "Labels": e["labels"],
                            "State": "running"} for name, e in self.containers.items()])

    def secret_inspect(self, names):
        found = [{"ID": ident.split("@")[0], "UpdatedAt": ident.split("@")[1],
                  "Spec": {"Name": name}} for name, ident in sorted(self.secrets.items())
                 if name in names]
        missing = [n for n in names if n not in self.secrets]
        return (125 if missing else 0), json.dumps(found), "".join(
            'Error: inspecting secret: no secret with name or id "%s": no such secret\n' % n
            for n in missing)

    def rm(self, ids):
        for name, entry in list(self.containers.items()):
            if entry["Id"] in ids or name in ids:
                del self.containers[name]

    def run_command(self, argv, **kwargs):
        self.calls.append(argv)
        tool = argv[0].rsplit("/", 1)[-1]
        verb = argv[1]
        if tool == "systemctl" and verb == "show":
            props = argv[3][len("--property="):].split(",")
            return 0, self.show(names_after_dashes(argv), props), ""
        if tool == "systemctl" and verb == "list-units":
            listed = sorted(set(self.generated) | self.active)
            return 0, "".join("%s loaded active running x\n" % s for s in listed), ""
        if tool == "systemctl" and verb in ("start", "restart"):
            for name in names_after_dashes(argv):
                if verb == "restart" and name in self.delay_restart:
                    self.delay_restart.discard(name)
                    continue
                if verb == "restart":
                    self.stop(name)
                self.start(name)
            return 0, "", ""
        if tool == "systemctl" and verb == "stop":
            for name in names_after_dashes(argv):
                self.stop(name)
            return 0, "", ""
        if tool == "systemctl" and verb == "daemon-reload":
            self.daemon_reload()
            return 0, "", ""
        if tool == "podman" and argv[1:3] == ["container", "inspect"]:
            return self.inspect(names_after_dashes(argv))
        if tool == "podman" and verb == "ps":
            return 0, self.ps(), ""
        if tool == "podman" and argv[1:3] == ["secret", "inspect"]:
            return self.secret_inspect(names_after_dashes(argv))
        if tool == "podman" and verb == "rm":
            self.rm(names_after_dashes(argv))
            return 0, "", ""
        if tool == "journalctl":
            return 0, "line 1\nError: image not known\n", ""
        raise AssertionError(argv)

    def popen(self, argv, **kwargs):
        """A health check the wait runs early, in the background: recorded;
        its verdict is what ``early_verdict`` says (None: it changes nothing)."""
        assert argv[1:4] == ["healthcheck", "run", "--"], argv
        assert kwargs["stdout"] is kwargs["stderr"] is subprocess.DEVNULL
        self.calls.append(list(argv))
        name = argv[4]
        if self.early_verdict.get(name):
            self.health[name] = self.early_verdict[name]
        return FinishedProcess()

    # -- what a test asks -------------------------------------------------------------------
    def runs_what_its_files_say(self, unit):
        svc = unit["service"]
        return svc in self.active and self.running[svc] == self.disk(unit)

    def deploy(self, run_module):
        result, failed = run_module(stack_units.main, self.args())
        assert not failed, result["msg"]
        del self.calls[:]
        return result


@pytest.fixture
def host(monkeypatch, tmp_path):
    fake = FakeHost(tmp_path)
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    monkeypatch.setattr(stack_units_run, "POLL_SECONDS", 0)
    monkeypatch.setattr(stack_units_run.subprocess, "Popen", fake.popen)
    return fake


def verbs(fake):
    """systemctl calls that change something."""
    return [c[1:] for c in fake.calls if c[0].endswith("systemctl")
            and c[1] not in ("show", "list-units")]


def podman_changes(fake):
    reads = (["container", "inspect"], ["secret", "inspect"], ["healthcheck", "run"])
    return [c[1:] for c in fake.calls if c[0].endswith("podman")
            and c[1] != "ps" and c[1:3] not in reads]


# --------------------------------------------------------------------------
# First run, second run
# --------------------------------------------------------------------------

def test_first_run_reloads_starts_everything_and_records_it(host, run_module):
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and result["changed"]
    assert result["started"] == ["ai-core.service", "ai-app.service"]
    assert result["restarted"] == []
    assert result["stale"] == {"ai-core.service": ["no record of what it runs"],
                               "ai-app.service": ["no record of what it runs"]}
    assert verbs(host) == [["daemon-reload"],
                           ["start", "--no-block", "--", "ai-core.service", "ai-app.service"]]
    assert result["recorded"] is True
    assert sorted(host.record()) == ["ai-app.service", "ai-core.service"]
    assert result["units"] == [
        {"service": "ai-core.service", "group": "core", "active": "active", "sub": "x",
         "health": "healthy", "restarts": 0, "verdict": "ok", "problem": None,
         "state": "active/x, health healthy"},
        {"service": "ai-app.service", "group": "app", "active": "active", "sub": "x",
         "health": "healthy", "restarts": 0, "verdict": "ok", "problem": None,
         "state": "active/x, health healthy"}]


def test_second_run_after_a_good_run_changes_nothing(host, run_module):
    host.deploy(run_module)
    before = host.state_file.read_text()
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and result["changed"] is False
    assert result["stale"] == {} and result["recorded"] is False
    assert verbs(host) == [] and podman_changes(host) == []
    assert host.state_file.read_text() == before


def test_the_record_is_root_only(host, run_module):
    host.deploy(run_module)
    assert stat.S_IMODE(os.stat(str(host.state_file.parent)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(host.state_file)).st_mode) == 0o600
    assert [p.name for p in host.state_file.parent.iterdir()] == ["applied.json"]
    entry = host.record()["ai-app.service"]
    assert entry["unit_file"] == "ai-app.container" and entry["container"] == "app"
    assert entry["inputs"]["config_files"] == {
        "groups/app/endpoints.json": sha('{"group": "app"}')}
    assert entry["inputs"]["secrets"] == {"key": "5e1key@2026-11-29T16:00:00Z"}


# --------------------------------------------------------------------------
# Interrupted runs
# --------------------------------------------------------------------------

def test_run_interrupted_after_writing_units_restarts_them_next_time(host, run_module):
    host.deploy(run_module)
    # The interrupted run wrote the new unit file, and died before stack_units.
    host.write("ai-app.container", unit_text("app", "PodmanArgs=--memory=1024m\n"))
    assert not host.runs_what_its_files_say(UNITS[1])
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and result["changed"]
    assert result["stale"] == {"ai-app.service": ["unit file changed"]}
    assert result["restarted"] == ["ai-app.service"] and result["started"] == []
    assert verbs(host) == [["daemon-reload"],
                           ["restart", "--no-block", "--", "ai-app.service"]]
    assert all(host.runs_what_its_files_say(u) for u in UNITS)
    again, dummy = run_module(stack_units.main, host.args())
    assert again["changed"] is False


def test_endpoint_map_written_by_an_interrupted_run_restarts_its_unit(host, run_module):
    host.deploy(run_module)
    host.write_config("groups/core/endpoints.json", '{"group": "core", "agents": {}}')
    result, dummy = run_module(stack_units.main, host.args())
    assert result["stale"] == {"ai-core.service": ["groups/core/endpoints.json changed"]}
    assert result["restarted"] == ["ai-core.service"]
    assert all(host.runs_what_its_files_say(u) for u in UNITS)


def test_recreated_secret_restarts_the_units_that_use_it(host, run_module):
    host.deploy(run_module)
    host.secrets["key"] = "5e1key@2026-11-30T09:00:00Z"
    result, dummy = run_module(stack_units.main, host.args())
    assert result["stale"] == {"ai-app.service": ["secret key changed"]}
    assert result["restarted"] == ["ai-app.service"]
    assert host.runs_what_its_files_say(UNITS[1])


def test_watched_host_file_change_restarts_its_unit(host, run_module, tmp_path):
    watched = tmp_path / "models.yaml"
    watched.write_text("a: 1\n")
    host.units[0] = dict(UNITS[0], restart_on_change=[str(watched)])
    host.deploy(run_module)
    watched.write_text("a: 2\n")
    result, dummy = run_module(stack_units.main, host.args())
    assert result["stale"] == {"ai-core.service": ["%s changed" % watched]}
    assert result["restarted"] == ["ai-core.service"]


def test_unit_running_without_a_record_is_restarted_once(host, run_module):
    host.daemon_reload()
    for unit in UNITS:
        host.start(unit["service"])
    result, dummy = run_module(stack_units.main, host.args())
    assert result["restarted"] == ["ai-core.service", "ai-app.service"]
    assert result["started"] == []
    again, dummy = run_module(stack_units.main, host.args())
    assert again["changed"] is False


def test_unusable_record_restarts_every_unit_once_with_a_warning(
        host, run_module, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    host.deploy(run_module)
    host.state_file.write_text("{not json")
    result, failed = run_module(stack_units.main, host.args())
    assert not failed
    assert result["restarted"] == ["ai-core.service", "ai-app.service"]
    assert len(warnings) == 1 and "is not usable (it is not JSON" in warnings[0]
    assert sorted(host.record()) == ["ai-app.service", "ai-core.service"]


def test_unit_that_did_not_become_healthy_is_not_recorded(host, run_module):
    host.deploy(run_module)
    host.write("ai-app.container", unit_text("app", "Exec=broken\n"))
    host.health = {"app": "unhealthy"}
    result, failed = run_module(stack_units.main, host.args(timeout=0))
    assert failed and result["unhealthy"] == ["app"]
    assert result["restarted"] == ["ai-app.service"]
    assert sorted(host.record()) == ["ai-core.service"]
    # Fixed by hand, nothing written: the next run still restarts it.
    host.health = {}
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and result["restarted"] == ["ai-app.service"]
    assert result["stale"] == {"ai-app.service": ["no record of what it runs"]}
    assert sorted(host.record()) == ["ai-app.service", "ai-core.service"]


def test_reverting_a_failed_change_by_an_interrupted_run_restarts_the_unit(host, run_module):
    host.deploy(run_module)
    good = (host.quadlet / "ai-app.container").read_text()
    host.write("ai-app.container", unit_text("app", "Exec=broken\n"))
    host.health = {"app": "unhealthy"}
    dummy, failed = run_module(stack_units.main, host.args(timeout=0))
    assert failed
    # The good file is back on disk, but the run that wrote it died: systemd
    # still has the broken unit loaded and the container runs it.
    host.write("ai-app.container", good)
    host.health = {}
    assert host.running["ai-app.service"]["unit"] != good
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and result["restarted"] == ["ai-app.service"]
    assert ["daemon-reload"] in verbs(host)
    assert host.runs_what_its_files_say(UNITS[1])


def test_changed_files_still_force_a_restart(host, run_module):
    host.deploy(run_module)
    result, dummy = run_module(stack_units.main, host.args(
        changed_files=["groups/core/endpoints.json"], changed_secrets=["key"]))
    assert result["stale"] == {}
    assert result["restarted"] == ["ai-core.service", "ai-app.service"]
    assert ["daemon-reload"] not in verbs(host)


def test_a_restart_that_has_not_begun_yet_is_waited_for(host, run_module, monkeypatch):
    host.deploy(run_module)
    host.write("ai-app.container", unit_text("app", "PodmanArgs=--cpus=1\n"))
    host.delay_restart = {"ai-app.service"}
    real_read = stack_units_run.UnitController.read
    polls = {"n": 0}

    def read(ctl, units, systemd=None):
        polls["n"] += 1
        if polls["n"] == 2:  # systemd gets to the queued restart job
            host.stop("ai-app.service")
            host.start("ai-app.service")
        return real_read(ctl, units, systemd)

    monkeypatch.setattr(stack_units_run.UnitController, "read", read)
    result, failed = run_module(stack_units.main, host.args(timeout=600))
    assert not failed and polls["n"] == 2
    assert host.runs_what_its_files_say(UNITS[1])


def test_check_mode_reports_what_would_restart_and_acts_on_nothing(host, run_module):
    host.deploy(run_module)
    record = host.state_file.read_text()
    host.write("ai-app.container", unit_text("app", "PodmanArgs=--cpus=1\n"))
    result, failed = run_module(stack_units.main, host.args(), check=True)
    assert not failed and result["changed"]
    assert result["restarted"] == ["ai-app.service"] and result["daemon_reloaded"] is True
    assert result["stale"] == {"ai-app.service": ["unit file changed"]}
    assert result["units"] == []
    assert verbs(host) == [] and podman_changes(host) == []
    assert host.state_file.read_text() == record


def test_check_mode_on_a_new_host_writes_no_record(host, run_module):
    result, dummy = run_module(stack_units.main, host.args(daemon_reload=True), check=True)
    assert result["changed"] and result["started"] == ["ai-core.service", "ai-app.service"]
    assert verbs(host) == [] and podman_changes(host) == []
    assert not host.state_file.parent.exists()


# --------------------------------------------------------------------------
# Removed units and orphans
# --------------------------------------------------------------------------

def old_unit(host, service="ai-old.service", container="old", text=None):
    """A unit of a group no longer in the plan, loaded and running."""
    name = service[:-len(".service")] + ".container"
    host.write(name, text if text is not None else unit_text(container))
    host.daemon_reload()
    host.start(service)
    return name


def test_removed_unit_is_stopped_before_the_reload(host, run_module):
    host.deploy(run_module)
    name = old_unit(host)
    (host.quadlet / name).unlink()  # what file_set's prune did in this run
    result, dummy = run_module(stack_units.main, host.args(daemon_reload=True,
                                                           removed_files=[name]))
    assert result["stopped"] == ["ai-old.service"] and result["removed_orphans"] == []
    assert verbs(host)[:2] == [["stop", "--", "ai-old.service"], ["daemon-reload"]]
    assert "old" not in host.containers


def test_orphan_of_an_interrupted_prune_is_stopped_and_removed(host, run_module):
    host.deploy(run_module)
    name = old_unit(host)
    (host.quadlet / name).unlink()  # pruned, and the run died before stack_units
    del host.calls[:]
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and result["changed"]
    assert result["removed_orphans"] == [
        {"container": "old", "service": "ai-old.service", "unit_file": None}]
    assert verbs(host) == [["stop", "--", "ai-old.service"], ["daemon-reload"]]
    assert podman_changes(host) == [["rm", "-f", "--", "%064x" % 3]]
    assert "old" not in host.containers and "ai-old.service" not in host.generated
    again, dummy = run_module(stack_units.main, host.args())
    assert again["changed"] is False


def test_orphan_with_old_prefix_is_removed(host, run_module):
    # Deployed with the prefix "old-"; the plan now says "ai-".
    host.write("old-core.container", unit_text("core"))
    host.daemon_reload()
    host.start("old-core.service")
    old_id = host.containers["core"]["Id"]
    result, failed = run_module(stack_units.main, host.args())
    assert not failed
    assert result["removed_orphans"] == [
        {"container": "core", "service": "old-core.service",
         "unit_file": str(host.quadlet / "old-core.container")}]
    assert verbs(host)[:2] == [["stop", "--", "old-core.service"], ["daemon-reload"]]
    assert ["rm", "-f", "--", old_id] in podman_changes(host)
    assert not (host.quadlet / "old-core.container").exists()
    assert "old-core.service" not in host.active and "old-core.service" not in host.generated
    assert host.containers["core"]["service"] == "ai-core.service"
    assert all(host.runs_what_its_files_say(u) for u in UNITS)


def test_labelled_container_without_a_unit_is_removed(host, run_module):
    host.deploy(run_module)
    host.containers["ai-old-x"] = {"Id": "ab" * 32, "service": None,
                                   "labels": {"io.ai-system.managed-by": "ai_system.containers"}}
    result, dummy = run_module(stack_units.main, host.args())
    assert result["removed_orphans"] == [{"container": "ai-old-x", "service": None,
                                          "unit_file": None}]
    assert podman_changes(host) == [["rm", "-f", "--", "ab" * 32]]
    assert verbs(host) == [["daemon-reload"]]
    assert "ai-old-x" not in host.containers


def test_loaded_unit_whose_file_is_gone_is_stopped(host, run_module):
    host.deploy(run_module)
    name = old_unit(host)
    (host.quadlet / name).unlink()
    host.containers.pop("old")  # its container is gone too, the unit still runs
    result, dummy = run_module(stack_units.main, host.args())
    assert result["removed_orphans"] == [{"container": None, "service": "ai-old.service",
                                          "unit_file": None}]
    assert ["stop", "--", "ai-old.service"] in verbs(host)


def test_unit_file_of_another_tool_in_the_quadlet_dir_is_left_alone(host, run_module):
    host.deploy(run_module)
    name = old_unit(host, "web.service", "web", text=unit_text("web", marker=False))
    host.containers["web"]["labels"] = {"PODMAN_SYSTEMD_UNIT": "web.service"}
    del host.calls[:]
    result, dummy = run_module(stack_units.main, host.args())
    assert result["changed"] is False and result["removed_orphans"] == []
    assert (host.quadlet / name).exists() and "web.service" in host.active


def test_check_mode_reports_orphans_and_removes_nothing(host, run_module):
    host.deploy(run_module)
    old_unit(host)
    del host.calls[:]
    result, dummy = run_module(stack_units.main, host.args(), check=True)
    assert result["changed"] and result["removed_orphans"] == [
        {"container": "old", "service": "ai-old.service",
         "unit_file": str(host.quadlet / "ai-old.container")}]
    assert verbs(host) == [] and podman_changes(host) == []
    assert (host.quadlet / "ai-old.container").exists() and "old" in host.containers


# --------------------------------------------------------------------------
# The wait
# --------------------------------------------------------------------------

def test_failed_group_is_named_with_its_logs(host, run_module):
    host.broken = {"ai-core.service"}
    result, failed = run_module(stack_units.main, host.args(timeout=5))
    assert failed
    assert result["msg"].splitlines()[0] == "2 group(s) did not become healthy within 5 s:"
    assert "- core (ai-core.service): unit is failed (x)\n" in result["msg"]
    assert ("- app (ai-app.service): unit is inactive (x): dependency ai-core.service failed\n"
            in result["msg"])
    assert "    | Error: image not known" in result["msg"]
    assert result["unhealthy"] == ["core", "app"]
    assert result["logs"]["core"] == ["line 1", "Error: image not known"]
    assert ["--unit=ai-core.service"] == [a for c in host.calls if c[0].endswith("journalctl")
                                          for a in c if a.startswith("--unit")][:1]
    assert [(u["verdict"], u["health"], u["state"]) for u in result["units"]] == [
        ("failed", "absent", "failed/x, no container"),
        ("failed", "absent", "inactive/x, no container")]
    assert result["started"] == ["ai-core.service", "ai-app.service"]
    assert not host.state_file.exists()


def test_a_crash_looping_unit_fails_without_waiting_for_the_timeout(host, run_module):
    host.deploy(run_module)
    host.stop("ai-app.service")
    counts = {"n": 0}
    real_show = host.show

    def show(names, props):
        text = real_show(names, props)
        if "ActiveEnterTimestampMonotonic" in props and "ai-app.service" in names:
            counts["n"] += 1  # systemd restarts ai-app once per poll, never settling
            host.active.discard("ai-app.service")
            text = text.replace("Id=ai-app.service\nLoadState=loaded\nActiveState=inactive\n"
                                "SubState=x\n", "Id=ai-app.service\nLoadState=loaded\n"
                                "ActiveState=activating\nSubState=auto-restart\n")
            text = text.replace("NRestarts=0\nMainPID=\nExecMainStatus=\nActiveEnterTimestamp=\n"
                                "ActiveEnterTimestampMonotonic=%d" % host.entered.get(
                                    "ai-app.service", 0),
                                "NRestarts=%d\nMainPID=\nExecMainStatus=\nActiveEnterTimestamp="
                                "\nActiveEnterTimestampMonotonic=0" % counts["n"], 1)
        return text

    host.show = show
    result, failed = run_module(stack_units.main, host.args(timeout=600))
    assert failed and result["unhealthy"] == ["app"], result["msg"]
    # The fake restarts ai-app once per systemctl show: the start decision's read,
    # which is also the first poll's (nothing was started), then one per poll.
    assert ("- app (ai-app.service): unit is activating (auto-restart), restarted 4 times; crash "
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
    result, failed = run_module(stack_units.main, host.args(timeout=600))
    assert not failed and [u["verdict"] for u in result["units"]] == ["ok", "ok"]
    assert polls["n"] == 3


def test_the_wait_times_out_naming_what_it_waited_for(host, run_module):
    host.health = {"app": "starting"}
    result, failed = run_module(stack_units.main, host.args(timeout=0))
    assert failed and result["unhealthy"] == ["app"]
    assert result["msg"].splitlines()[:2] == [
        "1 group(s) did not become healthy within 0 s:",
        "- app (ai-app.service): container app health check has not passed yet (starting)"]
    assert [u["verdict"] for u in result["units"]] == ["ok", "waiting"]
    # What did come up is recorded.
    assert sorted(host.record()) == ["ai-core.service"]


def test_each_poll_reads_all_units_with_one_systemctl_and_one_podman_call(host, run_module):
    units = [dict(UNITS[0], group="g%d" % i, service="ai-g%d.service" % i, container="g%d" % i,
                  unit_file="ai-g%d.container" % i, config_files=[]) for i in range(5)]
    host.units = units
    for unit in units:
        host.write(unit["unit_file"], unit_text(unit["container"]))
    host.health = {u["container"]: "starting" for u in units}
    polls = {"n": 0}
    real_inspect = host.inspect

    def inspect(names):
        polls["n"] += 1
        if polls["n"] == 4:
            host.health = {}
        return real_inspect(names)

    host.inspect = inspect
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and [u["verdict"] for u in result["units"]] == ["ok"] * 5
    inspects = [c for c in host.calls if c[0].endswith("podman") and c[1] == "container"]
    shows = [c for c in host.calls if c[0].endswith("systemctl") and c[1] == "show"
             and c[3] == "--property=" + ",".join(SYSTEMD_PROPERTIES)]
    assert len(inspects) == 4  # one per poll, for all five containers
    assert all(names_after_dashes(c) == ["g0", "g1", "g2", "g3", "g4"] for c in inspects)
    assert len(shows) == 1 + 4  # the one before starting, then one per poll
    assert all(names_after_dashes(c) == [u["service"] for u in units] for c in shows)


def hastened_checks(fake):
    return [names_after_dashes(c) for c in fake.calls if c[1:3] == ["healthcheck", "run"]]


def test_a_container_still_starting_has_its_check_run_early_and_is_seen_healthy(host, run_module):
    host.health = {"app": "starting"}
    host.early_verdict = {"app": "healthy"}
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and [u["verdict"] for u in result["units"]] == ["ok", "ok"]
    # core was healthy at once: only app's check was run, once.
    assert hastened_checks(host) == [["app"]]
    assert result["hastened"] == {"app": 1}


def test_early_checks_are_run_at_most_every_few_seconds_per_container(host, run_module, monkeypatch):
    host.health = {"app": "starting"}
    polls = {"n": 0}
    real_inspect = host.inspect

    def inspect(names):
        polls["n"] += 1
        if polls["n"] == 6:
            host.health = {}
        return real_inspect(names)

    host.inspect = inspect
    clock = {"t": 1000.0}

    def sleep(seconds):
        clock["t"] += 1.5

    monkeypatch.setattr(stack_units_run.time, "time", lambda: clock["t"])
    monkeypatch.setattr(stack_units_run.time, "sleep", sleep)
    result, failed = run_module(stack_units.main, host.args())
    assert not failed
    # Polls at 0, 1.5, 3, 4.5, 6 s: checks at 0, 4.5 (HASTEN_SECONDS 4), none at 6 (healthy).
    assert hastened_checks(host) == [["app"], ["app"]]


def test_no_early_check_once_a_failure_counts_or_for_a_container_not_starting(host, run_module):
    host.units = [dict(UNITS[0]), dict(UNITS[1], healthcheck=False)]
    host.health = {"app": "starting", "core": "starting"}
    real_inspect = host.inspect
    polls = {"n": 0}

    def inspect(names):
        polls["n"] += 1
        rc, out, err = real_inspect(names)
        found = json.loads(out)
        for item in found:
            if item["Name"] == "core":
                item["State"]["Health"]["FailingStreak"] = 1  # past its start period, failing
        if polls["n"] == 3:
            host.health = {}
        return rc, json.dumps(found), err

    host.inspect = inspect
    result, failed = run_module(stack_units.main, host.args())
    assert not failed, result["msg"]
    assert hastened_checks(host) == [] and result["hastened"] == {}


# --------------------------------------------------------------------------
# Hostile and malformed input, malformed output
# --------------------------------------------------------------------------

def test_units_must_come_from_the_plan(host, run_module):
    result, failed = run_module(stack_units.main, {"units": [{"group": "x"}]})
    # The units option's spec is derived from the plan's UnitPlan: Ansible names
    # every field the entry lacks.
    assert failed and result["msg"] == (
        "missing required arguments: agents, build, cdi_devices, config_files, container, "
        "depends_on, gpu, healthcheck, image, restart_on_change, secrets, service, unit_file "
        "found in units")


@pytest.mark.parametrize("change, message", [
    ({"service": "--all"}, "units[0].service '--all' is not a unit name: it starts with '-', "
     "which systemctl and podman would read as an option"),
    ({"container": "-rm"}, "units[0].container '-rm' is not a container name: it starts with "
     "'-', which systemctl and podman would read as an option"),
    ({"unit_file": "-x.container"}, "units[0].unit_file '-x.container' is not a unit file name: "
     "it starts with '-', which systemctl and podman would read as an option"),
    ({"unit_file": "../x.container"}, "units[0].unit_file '../x.container' must be a file name, "
     "without '/'"),
    ({"service": "ai-core.service\nExecStart=x"}, "units[0].service 'ai-core.service\\nExecStart=x' "
     "is not a unit name: it holds white space or a control character"),
    ({"secrets": ["--help"]}, "units[0].secrets[0] '--help' is not a secret name: it starts with "
     "'-', which systemctl and podman would read as an option"),
    ({"secrets": {"key": 1}}, "argument 'secrets' is of type dict found in 'units'. and we were "
     "unable to convert to list: <class 'dict'> cannot be converted to a list"),
    ({"config_files": ["../../etc/shadow"]}, "units[0].config_files[0] '../../etc/shadow' must "
     "be relative, without '.', '..', empty segments or control characters"),
    ({"restart_on_change": ["relative.yaml"]}, "units[0].restart_on_change[0] must be an "
     "absolute path, got 'relative.yaml'"),
    ({"container": "app"}, "units[1].container 'app' is listed twice"),
])
def test_unit_names_that_could_become_options_or_escape_are_refused(
        host, run_module, change, message):
    units = [dict(UNITS[0], **change), UNITS[1]]
    result, failed = run_module(stack_units.main, host.args(units=units))
    assert failed and result["msg"] == message
    assert host.calls == []


@pytest.mark.parametrize("option, value, message", [
    ("changed_secrets", ["-x"], "changed_secrets[0] '-x' is not a secret name: it starts with "
     "'-', which systemctl and podman would read as an option"),
    ("removed_files", ["--now"], "removed_files[0] '--now' is not a unit file name: it starts "
     "with '-', which systemctl and podman would read as an option"),
    ("removed_files", ["a/b.container"], "removed_files[0] 'a/b.container' must be a file "
     "name, without '/'"),
    ("state_file", "applied.json", "state_file must be an absolute path, got 'applied.json'"),
])
def test_options_that_could_become_options_are_refused(host, run_module, option, value,
                                                       message):
    result, failed = run_module(stack_units.main, host.args(**{option: value}))
    assert failed and result["msg"] == message
    assert host.calls == []


@pytest.mark.parametrize("failing, answer, expected", [
    ("show", (1, "", "Failed to connect to bus: No such file\n"),
     "systemctl show failed (rc=1): Failed to connect to bus: No such file"),
    ("show", (0, "<html>\nwhat=ever\n\nfoo=bar\n", ""),
     "systemctl show printed no unit properties for ai-core.service (no Id=): <html>"),
    ("container", (125, "", "Error: cannot connect to the Podman socket\n"),
     "podman container inspect failed (rc=125): Error: cannot connect to the Podman socket"),
    ("daemon-reload", (1, "", "Access denied\n"),
     "/usr/bin/systemctl daemon-reload failed (rc 1): Access denied"),
    ("ps", (0, "Error: something\n", ""),
     "podman ps printed no JSON (rc 0): Error: something -- Expecting value: line 1 column 1 "
     "(char 0)"),
    ("ps", (0, '{"Names": ["x"]}', ""), 'podman ps printed no JSON list (rc 0): {"Names": ["x"]}'),
    ("secret", (0, "garbage", ""),
     "podman secret inspect printed no JSON (rc 0): garbage -- Expecting value: line 1 column 1 "
     "(char 0)"),
    ("secret", (125, "", "Error: database is locked\n"),
     "podman secret inspect failed (rc 125): Error: database is locked"),
])
def test_a_command_that_fails_or_prints_garbage_fails_the_task_cleanly(
        host, run_module, failing, answer, expected):
    real = host.run_command

    def run_command(argv, **kwargs):
        if failing == argv[1] and (failing != "show" or "ActiveEnterTimestampMonotonic"
                                   in argv[3]):
            host.calls.append(argv)
            return answer
        return real(argv, **kwargs)

    host.run_command = run_command
    result, failed = run_module(stack_units.main, host.args(daemon_reload=True))
    assert failed and result["msg"] == expected


def test_garbage_from_podman_ps_entries_is_ignored(host, run_module):
    host.deploy(run_module)
    host.ps = lambda: json.dumps(["x", 5, {"Labels": "nope"}, {"Names": 3, "Labels": {
        "io.ai-system.managed-by": "ai_system.containers", "PODMAN_SYSTEMD_UNIT": "-x.service"},
        "Id": "; rm -rf /"}])
    result, failed = run_module(stack_units.main, host.args())
    assert failed
    assert result["msg"].startswith("podman ps listed a managed container without a usable ID "
                                    "or name: ")
    assert verbs(host) == [] and podman_changes(host) == []


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
        if argv[0].endswith("podman") and argv[1] in ("ps", "secret"):
            return 0, "[]", ""
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
        monkeypatch, run_module, tmp_path, show, container, healthcheck, verdict):
    static = StaticHost(show, container)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: static.run(argv))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    unit = dict(UNITS[0], healthcheck=healthcheck, config_files=[])
    deployed, failed = run_module(stack_units.main, {
        "units": [unit], "timeout": 0, "quadlet_dir": str(tmp_path),
        "state_file": str(tmp_path / "state" / "applied.json")})
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


# --------------------------------------------------------------------------
# The wait in slices: progress while the units come up
# --------------------------------------------------------------------------

class Clock:
    """time.time and time.sleep for stack_units: each poll takes 2 s."""

    def __init__(self):
        self.now = 5000.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += 2


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(stack_units_run, "time", fake)
    return fake


def wait_args(host, previous, **extra):
    return host.args(wait_only=True, wait_state=previous["wait_state"], wait_slice=10, **extra)


def test_a_slice_returns_progress_and_the_next_call_only_waits(host, run_module, clock):
    host.health = {"app": "starting"}
    first, failed = run_module(stack_units.main, host.args(wait_slice=10, timeout=300))
    assert not failed and first["changed"] and first["done"] is False
    assert first["started"] == ["ai-core.service", "ai-app.service"]
    assert first["stale"] == {"ai-core.service": ["no record of what it runs"],
                              "ai-app.service": ["no record of what it runs"]}
    assert first["progress"] == "1/2 healthy; waiting for app (starting, 10 s)"
    assert [u["verdict"] for u in first["units"]] == ["ok", "waiting"]
    assert first["recorded"] is False and not host.state_file.exists()
    assert clock.now == 5010.0
    del host.calls[:]

    # Still starting: the next slice only reads, and says for how long.
    second, failed = run_module(stack_units.main, wait_args(host, first))
    assert not failed and second["done"] is False and second["changed"] is False
    assert second["progress"] == "1/2 healthy; waiting for app (starting, 20 s)"
    assert second["started"] == [] and second["restarted"] == []
    assert verbs(host) == [] and podman_changes(host) == []
    assert not host.state_file.exists()

    # Healthy now: the call that ends the wait records every unit, and starts nothing.
    host.health = {}
    third, failed = run_module(stack_units.main, wait_args(host, second))
    assert not failed and third["done"] is True and third["changed"] is True
    assert third["recorded"] is True and "wait_state" not in third
    assert third["progress"] == "2/2 healthy"
    assert verbs(host) == [] and podman_changes(host) == []
    assert sorted(host.record()) == ["ai-app.service", "ai-core.service"]

    # And the run after that changes nothing, in one call.
    fourth, failed = run_module(stack_units.main, host.args(wait_slice=10))
    assert not failed and fourth["changed"] is False and fourth["done"] is True
    assert fourth["progress"] == "2/2 healthy"


def test_a_restart_is_still_waited_for_in_the_next_slice(host, run_module, clock):
    host.deploy(run_module)
    host.write("ai-app.container", unit_text("app", "PodmanArgs=--cpus=1\n"))
    host.delay_restart = {"ai-app.service"}
    first, failed = run_module(stack_units.main, host.args(wait_slice=4))
    assert not failed and first["done"] is False
    assert first["restarted"] == ["ai-app.service"]
    assert first["progress"] == "1/2 healthy; waiting for app (restart pending, 4 s)"
    # The record forgot the stale unit before the restart, and does not get it back yet.
    assert sorted(host.record()) == ["ai-core.service"]
    host.stop("ai-app.service")  # systemd gets to the queued restart job
    host.start("ai-app.service")
    second, failed = run_module(stack_units.main, wait_args(host, first))
    assert not failed and second["done"] is True and second["recorded"] is True
    assert sorted(host.record()) == ["ai-app.service", "ai-core.service"]
    assert host.runs_what_its_files_say(UNITS[1])


def test_the_slice_that_reaches_the_timeout_fails_with_the_logs(host, run_module, clock):
    host.health = {"app": "starting"}
    first, dummy = run_module(stack_units.main, host.args(wait_slice=10, timeout=15))
    assert first["done"] is False
    second, failed = run_module(stack_units.main, wait_args(host, first))
    assert failed and second["unhealthy"] == ["app"] and second["done"] is True
    assert second["msg"].splitlines()[:2] == [
        "1 group(s) did not become healthy within 15 s:",
        "- app (ai-app.service): container app health check has not passed yet (starting)"]
    assert second["logs"]["app"] == ["line 1", "Error: image not known"]
    assert clock.now == 5016.0
    # What did come up is recorded.
    assert sorted(host.record()) == ["ai-core.service"]


def test_a_failed_group_ends_the_first_slice_at_once(host, run_module, clock):
    host.broken = {"ai-core.service"}
    result, failed = run_module(stack_units.main, host.args(wait_slice=10))
    assert failed and result["done"] is True and result["unhealthy"] == ["core", "app"]
    assert clock.now == 5000.0


def test_wait_only_in_check_mode_does_nothing(host, run_module):
    state = {"started": 1.0, "deadline": 2.0, "timeout": 1, "restarted_after": {}, "since": {}}
    result, failed = run_module(stack_units.main, host.args(wait_only=True, wait_state=state),
                                check=True)
    assert not failed and result["done"] is True and result["changed"] is False
    assert host.calls == []


@pytest.mark.parametrize("extra, message", [
    ({"wait_only": True}, "wait_only is True but all of the following are missing: wait_state"),
    ({"wait_only": True, "wait_state": {"deadline": 1}},
     "wait_state.started is missing or not a number; pass the wait_state of the call before"),
    ({"wait_only": True, "wait_state": {"started": 1, "deadline": 2, "timeout": 3,
                                        "restarted_after": [], "since": {}}},
     "wait_state.restarted_after is missing or not a mapping; pass the wait_state of the call "
     "before"),
    ({"wait_slice": -1}, "wait_slice must be 0 or more seconds, got -1"),
])
def test_wait_options_are_checked(host, run_module, extra, message):
    result, failed = run_module(stack_units.main, host.args(**extra))
    assert failed and result["msg"] == message
    assert host.calls == []


def test_progress_line_names_what_is_waited_for_and_what_failed():
    from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_control import (
        progress_line, track_since, unit_word)

    def entry(group, verdict, active="active", sub="running", health="healthy"):
        return {"service": "ai-%s.service" % group, "group": group, "verdict": verdict,
                "active": active, "sub": sub, "health": health}

    report = [entry("pc2-core", "ok"), entry("pc2-ai-models", "waiting", health="starting"),
              entry("pc2-user-services", "waiting", active="activating", sub="start",
                    health="absent"),
              entry("pc2-db", "failed", active="failed", sub="failed", health="absent")]
    since = track_since(report, {}, 100.0, 134.0)
    assert since == {"ai-pc2-ai-models.service": ["starting", 100.0],
                     "ai-pc2-user-services.service": ["activating", 100.0],
                     "ai-pc2-db.service": ["failed", 100.0]}
    later = [report[0], report[1], entry("pc2-user-services", "waiting", health="starting"),
             report[3]]
    since = track_since(later, since, 100.0, 144.0)
    assert since["ai-pc2-user-services.service"] == ["starting", 144.0]
    assert progress_line(later, since, 156.0) == (
        "1/4 healthy; waiting for pc2-ai-models (starting, 56 s), "
        "pc2-user-services (starting, 12 s); failed: pc2-db (failed, 56 s)")
    assert progress_line(report[:1], {}, 1.0) == "1/1 healthy"
    assert unit_word(entry("x", "waiting", health="absent")) == "no container"
    assert unit_word(entry("x", "waiting")) == "restart pending"
    assert unit_word(entry("x", "waiting", health="unhealthy")) == "unhealthy"


def test_a_converged_host_is_asked_once_by_systemd_per_poll(host, run_module):
    """Nothing to start or restart: the states read to decide that are the first
    poll's, so a converged run asks systemd for the units' state once."""
    host.deploy(run_module)
    calls = []
    real_show = host.show

    def show(names, props):
        calls.append(list(names))
        return real_show(names, props)

    host.show = show
    result, failed = run_module(stack_units.main, host.args())
    assert not failed and not result["changed"]
    planned = sorted(u["service"] for u in UNITS)
    assert sum(1 for names in calls if sorted(names) == planned) == 1


# --------------------------------------------------------------------------
# A silent declared port: the message says what the container listens on
# --------------------------------------------------------------------------

@pytest.mark.parametrize("unit_state", ["active", "activating"])
def test_an_unhealthy_group_says_which_ports_its_container_really_listens_on(host, run_module, unit_state):
    """The app's agent binds another port than its endpoint map declares: the
    failure names the silent ports and those the container listens on, read
    from the container process's /proc/PID/net/tcp (this test's own sockets).
    With Notify=healthy the unit stays activating while its container runs."""
    import socket
    real_show = host.show

    def show(names, props):
        text = real_show(names, props)
        if unit_state == "activating" and "ActiveEnterTimestampMonotonic" in props:
            text = text.replace("Id=ai-app.service\nLoadState=loaded\nActiveState=active\n",
                                "Id=ai-app.service\nLoadState=loaded\nActiveState=activating\n")
        return text

    host.show = show
    host.write_config("groups/app/endpoints.json", json.dumps(
        {"group": "app", "agents": {"SystemDigitalTwin": {"port": 1, "health_port": 2}}}))
    sockets = []
    for address in ("0.0.0.0", "127.0.0.1"):
        sock = socket.socket()
        sock.bind((address, 0))
        sock.listen()
        sockets.append(sock)
    wide, local = (s.getsockname()[1] for s in sockets)
    host.health = {"app": "unhealthy"}
    real = host.run_command
    pids = []

    def run_command(argv, **kwargs):
        if argv[1:5] == ["container", "inspect", "--format", "{{.State.Pid}}"]:
            pids.append(names_after_dashes(argv))
            return 0, "%d\n" % os.getpid(), ""
        return real(argv, **kwargs)

    host.run_command = run_command
    try:
        result, failed = run_module(stack_units.main, host.args(timeout=0))
    finally:
        for sock in sockets:
            sock.close()
    assert failed and result["unhealthy"] == ["app"] and pids == [["app"]]
    assert [u["active"] for u in result["units"]] == ["active", unit_state]
    lines = result["msg"].splitlines()
    said = lines[[i for i, line in enumerate(lines) if line.startswith("- app (ai-app.service): ")][0] + 1]
    assert said.startswith("    SystemDigitalTwin: nothing on 1, 2; the container listens on ")
    assert str(wide) in said and "%d (127.0.0.1 only)" % local in said
    found = result["listening"]["app"]
    assert found["silent"] == {"SystemDigitalTwin": [1, 2]} and wide in found["ports"]
    assert found["error"] is None


def test_a_group_whose_ports_all_listen_says_nothing_more(host, run_module):
    import socket
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))
    sock.listen()
    port = sock.getsockname()[1]
    host.write_config("groups/app/endpoints.json", json.dumps(
        {"agents": {"A": {"port": port, "health_port": port}}}))
    host.health = {"app": "starting"}
    real = host.run_command

    def run_command(argv, **kwargs):
        if argv[1:5] == ["container", "inspect", "--format", "{{.State.Pid}}"]:
            return 0, "%d\n" % os.getpid(), ""
        return real(argv, **kwargs)

    host.run_command = run_command
    try:
        result, failed = run_module(stack_units.main, host.args(timeout=0))
    finally:
        sock.close()
    assert failed and result["listening"]["app"]["silent"] == {}
    assert "nothing on" not in result["msg"]
