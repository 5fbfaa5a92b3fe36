# -*- coding: utf-8 -*-
"""An action plugin of the collection made as Ansible makes it for a task,
for the unit tests of the action plugins."""

from __future__ import annotations

from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar


def make_action(module, args=None, check_mode=False, role_path=None):
    """``module.ActionModule`` for a task with ``args``; with ``role_path``,
    the task belongs to a role at that path."""
    task = Task()
    task.args = dict(args or {})
    task.check_mode = check_mode
    if role_path:
        role = MagicMock()
        role._role_path = str(role_path)
        task._role = role
    loader = DataLoader()
    return module.ActionModule(task, MagicMock(), PlayContext(), loader, Templar(loader=loader), None)
