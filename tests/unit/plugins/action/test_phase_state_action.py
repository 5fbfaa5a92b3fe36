# -*- coding: utf-8 -*-
"""The phase_state action: the inputs digest it hands the module."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.ai_system.containers.plugins.action import phase_state as action


def _digest(task_vars, args=None, role_path=None, monkeypatch=None):
    task = Task()
    task.args = dict({"phase": "podman", "prefixes": ["podman_"]}, **(args or {}))
    if role_path:
        role = MagicMock()
        role._role_path = str(role_path)
        task._role = role
    loader = DataLoader()
    plugin = action.ActionModule(task, MagicMock(), PlayContext(), loader, Templar(loader=loader), None)
    sent = {}

    def execute(module_name, module_args, task_vars):
        sent.update(module_args, module=module_name)
        return {"converged": True, "changed": False}

    plugin._execute_module = execute
    plugin.run(task_vars=task_vars)
    assert sent["module"] == "ai_system.containers.phase_state"
    return sent["digest"]


BASE = {"podman_runtime": "auto", "podman_packages_extra": [], "other_var": 1}


def test_the_same_settings_give_the_same_digest():
    assert _digest(dict(BASE)) == _digest(dict(BASE))


@pytest.mark.parametrize("change", [
    {"podman_runtime": "crun"},
    {"podman_packages_extra": ["htop"]},
    {"podman_new_setting": True},
])
def test_a_changed_role_setting_changes_the_digest(change):
    assert _digest(dict(BASE, **change)) != _digest(dict(BASE))


def test_variables_without_the_prefix_are_not_inputs():
    assert _digest(dict(BASE, other_var=2)) == _digest(dict(BASE))


def test_the_task_inputs_are_part_of_the_digest():
    assert _digest(dict(BASE), {"inputs": {"subnet": "10.0.0.0/24"}}) != \
        _digest(dict(BASE), {"inputs": {"subnet": "10.0.1.0/24"}})


def test_a_changed_role_file_changes_the_digest(tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "main.yml").write_text("---\n- name: a\n")
    before = _digest(dict(BASE), role_path=tmp_path)
    action._TREE_CACHE.clear()
    (tmp_path / "tasks" / "main.yml").write_text("---\n- name: b\n")
    assert _digest(dict(BASE), role_path=tmp_path) != before


def test_a_digest_given_in_the_task_is_refused():
    with pytest.raises(Exception, match="digest is computed by the action plugin"):
        _digest(dict(BASE), {"digest": "x"})
