# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of phase_state: the digest of the phase's inputs.

The digest covers the task's variables whose names start with one of the
task's ``prefixes`` (templated), the task's ``inputs``, and the content of
every file of the calling role and of the collection's plugins, so that a
change of inventory, role default, template or module is a change of inputs
and the phase runs. The module then runs on the host with the digest.
"""

from __future__ import annotations

import hashlib
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.ai_system.containers.plugins.module_utils.phase_record import inputs_digest
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain

PLUGINS = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
_TREE_CACHE = {}


def tree_digest(root):
    """sha256 over the relative paths and contents of every file under root
    (compiled Python caches left out); cached per process."""
    if root in _TREE_CACHE:
        return _TREE_CACHE[root]
    digest = hashlib.sha256()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).encode("utf-8") + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
            digest.update(b"\0")
    _TREE_CACHE[root] = digest.hexdigest()
    return _TREE_CACHE[root]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        if "digest" in args:
            raise AnsibleActionFail("phase_state: digest is computed by the action plugin; do not set it")
        prefixes = args.get("prefixes") or []
        if isinstance(prefixes, str) or not all(isinstance(p, str) and p for p in prefixes):
            raise AnsibleActionFail("phase_state: prefixes must be a list of non-empty strings")
        settings = {}
        for name in sorted(task_vars):
            if any(name.startswith(prefix) for prefix in prefixes):
                settings[name] = plain(self._templar.template(task_vars[name]))
        role = getattr(self._task, "_role", None)
        role_path = getattr(role, "_role_path", None)
        parts = {
            "phase": args.get("phase"),
            "settings": settings,
            "inputs": plain(args.get("inputs")),
            "role": tree_digest(role_path) if role_path else None,
            "plugins": tree_digest(PLUGINS),
        }
        args["digest"] = inputs_digest(parts)
        result.update(self._execute_module(module_name="ai_system.containers.phase_state",
                                           module_args=args, task_vars=task_vars))
        return result
