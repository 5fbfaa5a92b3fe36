# -*- coding: utf-8 -*-
"""Drive playbooks through ansible-runner and judge by its stats and events."""

from __future__ import annotations

import os
import sys

import ansible_runner

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# ansible-runner starts ansible-playbook from PATH: use this interpreter's.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


class Run:
    """The outcome of one ansible-runner run."""

    def __init__(self, runner):
        self.runner = runner
        self.stats = runner.stats or {}
        self.events = list(runner.events)

    @property
    def rc(self):
        return self.runner.rc

    @property
    def stdout(self):
        return self.runner.stdout.read()

    def count(self, key, host):
        return self.stats.get(key, {}).get(host, 0)

    def task_results(self, task_name, event="runner_on_ok"):
        """{host: result} of one task's events."""
        out = {}
        for ev in self.events:
            data = ev.get("event_data", {})
            if ev.get("event") == event and data.get("task") == task_name:
                out[data["host"]] = data.get("res", {})
        return out

    def failures(self):
        return [ev["event_data"] for ev in self.events if ev.get("event") == "runner_on_failed"]

    def durations(self):
        """[(task, host, seconds)] of every finished task."""
        out = []
        for ev in self.events:
            data = ev.get("event_data", {})
            if ev.get("event") in ("runner_on_ok", "runner_on_failed") and "duration" in data:
                out.append((data.get("task"), data.get("host"), data["duration"]))
        return out


def run_playbook(private_dir, playbook, inventory, extravars=None, check=False, diff=False,
                 tags=None, limit=None, verbosity=0, envvars=None):
    """Run a playbook of this repository; returns a :class:`Run`."""
    os.makedirs(private_dir, exist_ok=True)
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    env = {"ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}
    env.update(envvars or {})
    runner = ansible_runner.run(
        private_data_dir=str(private_dir),
        project_dir=REPO,
        playbook=os.path.join(REPO, playbook),
        inventory=inventory if os.path.isabs(inventory) else os.path.join(REPO, inventory),
        extravars=extravars or {},
        cmdline=" ".join(cmdline) or None,
        tags=",".join(tags) if isinstance(tags, (list, tuple)) else tags,
        limit=limit,
        verbosity=verbosity or None,
        envvars=env,
        quiet=True,
    )
    return Run(runner)
