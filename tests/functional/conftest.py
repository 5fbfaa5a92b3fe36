# -*- coding: utf-8 -*-
"""Drive playbooks through ansible-runner and judge by its stats and events."""

from __future__ import annotations

import os
import sys

import ansible_runner
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# ansible-runner starts ansible-playbook from PATH: use this interpreter's.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


class Run:
    def __init__(self, runner):
        self.runner = runner
        self.stats = runner.stats or {}
        self.events = list(runner.events)

    @property
    def rc(self):
        return self.runner.rc

    def count(self, key, host):
        return self.stats.get(key, {}).get(host, 0)

    def task_results(self, task_name, event="runner_on_ok"):
        """{host: res} of one task's events."""
        out = {}
        for ev in self.events:
            data = ev.get("event_data", {})
            if ev.get("event") == event and data.get("task") == task_name:
                out[data["host"]] = data.get("res", {})
        return out

    def failures(self):
        return [ev["event_data"] for ev in self.events if ev.get("event") == "runner_on_failed"]


@pytest.fixture
def playbook(tmp_path):
    """playbook(name, inventory, extravars=None, check=False, diff=False) -> Run."""

    def run(name, inventory, extravars=None, check=False, diff=False, tags=None):
        cmdline = []
        if check:
            cmdline.append("--check")
        if diff:
            cmdline.append("--diff")
        private = tmp_path / "runner"
        private.mkdir(exist_ok=True)
        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=REPO,
            playbook=os.path.join(REPO, name),
            inventory=os.path.join(REPO, inventory),
            extravars=extravars or {},
            cmdline=" ".join(cmdline) or None,
            tags=tags,
            envvars={"ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
                     "ANSIBLE_NOCOLOR": "1"},
            quiet=True,
        )
        return Run(runner)

    return run
