# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of phase_state: the digest of the phase's inputs.

The digest covers the task's variables whose names start with one of the
task's ``prefixes`` (templated), the task's ``inputs``, and the content of
every file of the calling role and of the collection's plugins, so that a
change of inventory, role default, template or module is a change of inputs
and the phase runs. The module then runs on the host with the digest.

A record (``state: record``) covers ``files`` and every path the phase's
writing tasks reported in their registered results (``wrote``), so a path a
task writes is in its phase's record without being listed again.

A run of several phases can read every phase's record and the host in one
call at its start (``state: read``, registered and handed to each phase's
check as ``reads``). A phase's check then needs no call of its own when the
reading is good for it: taken in this run (its ``token``), and every phase
read before it was found converged in this run, so nothing has touched the
host since the reading. The phases found converged are kept in the host
fact ``ai_system_phase_chain`` (``{token, converged}``); a fact left from
another run has another token and is ignored. Otherwise, and whenever the
reading says there is work, the check asks the host as usual (which also
removes the stale record).

Secret values enter the digest as keyed digests (HMAC-SHA256 under a key kept
on the controller, plugin_utils.secret_digest): the task names the secrets
(``secrets``) and the variable that holds their values (``secrets_var``,
default ``ai_secrets``); this plugin reads the values, digests them and drops
both arguments, so no module argument or result carries a secret or a digest
of one.
"""

from __future__ import annotations

import hashlib
import os
import uuid

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.ai_system.containers.plugins.module_utils.host.phase_record import (
    inputs_digest, judge, record_files,
)
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain
from ansible_collections.ai_system.containers.plugins.plugin_utils.secret_digest import (
    DEFAULT_KEY_FILE, KEY_FILE_VAR, KeyFileError, load_key, secret_digests,
)

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


CHAIN_FACT = "ai_system_phase_chain"
RECORDS_VAR = "ai_phase_records"
RECORDS_MODES = ("use", "ignore")


def records_mode(templar, task_vars):
    """The value of ai_phase_records: use (the default) or ignore."""
    value = task_vars.get(RECORDS_VAR)
    mode = "use" if value is None else str(templar.template(value)).strip().lower()
    if mode not in RECORDS_MODES:
        raise AnsibleActionFail("%s must be one of %s, got %r: use compares each phase with the record of "
                                "its last complete run, ignore runs every phase in full and records afresh"
                                % (RECORDS_VAR, ", ".join(RECORDS_MODES), value))
    return mode


def _chain(task_vars, token):
    """The phases found converged in the run of ``token`` (host fact)."""
    facts = task_vars.get("ansible_facts") or {}
    chain = facts.get(CHAIN_FACT) or task_vars.get(CHAIN_FACT) or {}
    if not isinstance(chain, dict) or chain.get("token") != token:
        return []
    return list(chain.get("converged") or [])


def usable_reading(reads, phase, task_vars):
    """The reading of ``phase`` in ``reads`` when nothing can have changed
    the host since it was taken, else None."""
    if not isinstance(reads, dict) or not reads.get("token"):
        return None
    order = list(reads.get("phases_order") or [])
    readings = reads.get("phases") or {}
    if phase not in order or not isinstance(readings.get(phase), dict):
        return None
    converged = _chain(task_vars, reads["token"])
    if any(earlier not in converged for earlier in order[:order.index(phase)]):
        return None
    return readings[phase]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        if "digest" in args:
            raise AnsibleActionFail("phase_state: digest is computed by the action plugin; do not set it")
        reads = args.pop("reads", None)
        wrote = args.pop("wrote", None)
        if args.get("state") == "record":
            if wrote is not None and not isinstance(wrote, (list, tuple)):
                raise AnsibleActionFail("phase_state: wrote must be a list of the writing tasks' registered results")
            # The record covers every path the phase's writing tasks reported.
            args["files"] = record_files(args.get("files") or [], wrote or [])
        secret_names = args.pop("secrets", None)
        secrets_var = args.pop("secrets_var", None) or "ai_secrets"
        if records_mode(self._templar, task_vars) == "ignore":
            if args.get("state") == "read":
                # No reading: every phase's check then goes to the host, as forget.
                result.update(changed=False, phases={}, ignored=True)
                return result
            if args.get("state", "check") == "check":
                args["state"] = "forget"
                for unused in ("prefixes", "inputs"):
                    args.pop(unused, None)
                result.update(self._execute_module(module_name="ai_system.containers.phase_state",
                                                   module_args=args, task_vars=task_vars))
                result["read_once"] = False
                return result
        if args.get("state") == "read":
            result.update(self._execute_module(module_name="ai_system.containers.phase_state",
                                               module_args=args, task_vars=task_vars))
            if not result.get("failed"):
                result["token"] = uuid.uuid4().hex
                result["phases_order"] = list(args.get("phases") or [])
            return result
        args["digest"] = self._digest(args, task_vars, self._secrets(secret_names, secrets_var, task_vars))
        phase = args.get("phase")
        reading = usable_reading(reads, phase, task_vars) if args.get("state", "check") == "check" else None
        if reading is not None and judge(reading, args["digest"])["converged"]:
            verdict = judge(reading, args["digest"])
            result.update(changed=False, converged=True, differences=[], read_once=True,
                          record=reading.get("record"), ansible_facts=dict(verdict["facts"]))
        else:
            result.update(self._execute_module(module_name="ai_system.containers.phase_state",
                                               module_args=args, task_vars=task_vars))
            result["read_once"] = False
        if reads and result.get("converged") and args.get("state", "check") == "check" \
                and isinstance(reads, dict) and reads.get("token"):
            converged = _chain(task_vars, reads["token"])
            facts = dict(result.get("ansible_facts") or {})
            facts[CHAIN_FACT] = {"token": reads["token"], "converged": sorted(set(converged) | {phase})}
            result["ansible_facts"] = facts
        return result

    def _secrets(self, names, var, task_vars):
        """The keyed digests of the named secrets' values (None without ``secrets``)."""
        if names is None:
            return None
        names = self._templar.template(names)
        if isinstance(names, str) or not isinstance(names, (list, tuple)) \
                or not all(isinstance(n, str) and n for n in names):
            raise AnsibleActionFail("phase_state: secrets must be a list of secret names")
        source = self._templar.template(task_vars.get(var)) if var in task_vars else {}
        if not isinstance(source, dict):
            raise AnsibleActionFail("phase_state: %s must be a mapping of secret name to value" % var)
        key_file = self._templar.template(task_vars.get(KEY_FILE_VAR) or DEFAULT_KEY_FILE)
        try:
            key = load_key(key_file)
        except KeyFileError as exc:
            raise AnsibleActionFail("phase_state: %s" % exc)
        return secret_digests(key, {name: source.get(name) for name in names})

    def _digest(self, args, task_vars, secrets=None):
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
        if secrets is not None:
            parts["secrets"] = secrets
        return inputs_digest(parts)
