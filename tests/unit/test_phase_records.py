# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every file a role's phase writes is in the phase's record.

A phase that finds its record unchanged is skipped (docs/development.md, "A
re-run that changes nothing"), so a path a task writes that the record does
not cover is a change a converged run never notices. The record covers what
the writing tasks reported: each registers its result, and the phase's record
task hands those results to phase_state as ``wrote``. These tests read the
roles' task files and fail when a task that writes a file is not so covered.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLES = os.path.join(REPO, "roles")

# Modules that write files, by the argument naming what they write.
WRITERS = {
    "ansible.builtin.copy": "dest",
    "ansible.builtin.template": "dest",
    "ansible.builtin.file": "path",
    "ansible.builtin.lineinfile": "path",
    "ansible.builtin.blockinfile": "path",
    "ansible.builtin.replace": "path",
    "ansible.builtin.get_url": "dest",
    "ansible.builtin.unarchive": "dest",
    "ansible.builtin.assemble": "dest",
    "ansible.builtin.deb822_repository": "name",
    "ansible.builtin.yum_repository": "name",
    "ansible.builtin.apt_repository": "repo",
    "community.general.ini_file": "path",
    "ai_system.containers.file_set": "path",
    "ai_system.containers.host_dirs": "dirs",
    "ai_system.containers.nft_table": "path",
    "ai_system.containers.hyperv_firewall": "path",
}
INCLUDES = ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks")
PHASE_STATE = "ai_system.containers.phase_state"

# Each phase: the role, the task file holding its record task, and the files
# its skippable part starts from (included only when the phase has work).
PHASES = {
    "podman": ("podman", "main.yml", ["phases.yml"]),
    "nvidia_toolkit": ("nvidia_toolkit", "main.yml", ["phases.yml"]),
    "stack": ("stack", "main.yml", ["content.yml", "monitoring.yml", "firewall_apply.yml"]),
    "stack_firewall": ("stack", "firewall_apply.yml", ["firewall_apply.yml"]),
}
# Writers that run on every run, so no record stands in for them.
EVERY_RUN = {
    # Idempotent on its own and cheap: the Windows side of a WSL2 host's firewall.
    ("stack", "firewall_hyperv.yml", "Write the Hyper-V firewall script for Windows"),
}


class _Loader(yaml.SafeLoader):
    """YAML as Ansible writes it: ``!unsafe`` and ``!vault`` are plain scalars."""


for _tag in ("!unsafe", "!vault"):
    _Loader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # noqa: S506 (a SafeLoader)


def _tasks(path):
    return _load(path) or []


def _walk(tasks):
    for task in tasks:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _walk(task.get(key) or [])


def _module(task):
    return next((key for key in task if "." in key), None)


def _included(task, tasks_dir):
    """The task files an include or import names (a templated name as a glob)."""
    module = _module(task)
    if module not in INCLUDES:
        return []
    spec = task[module]
    name = spec.get("file") if isinstance(spec, dict) else spec
    pattern = re.sub(r"\{\{.*?\}\}", "*", name)
    return sorted(n for n in os.listdir(tasks_dir) if fnmatch.fnmatch(n, pattern))


def _tree(tasks_dir, entries):
    """The task files reached from ``entries`` through includes and imports."""
    seen, todo = [], list(entries)
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        for task in _walk(_tasks(os.path.join(tasks_dir, name))):
            todo.extend(_included(task, tasks_dir))
    return seen


def _expand(text, role_vars, seen=None):
    """The variable names ``text`` refers to, through the role's vars."""
    seen = set() if seen is None else seen
    for name in re.findall(r"\b__\w+", text):
        if name in seen:
            continue
        seen.add(name)
        if name in role_vars:
            _expand(yaml.safe_dump(role_vars[name]), role_vars, seen)
    return seen


def _record_task(tasks_dir, record_file, phase):
    found = [t for t in _walk(_tasks(os.path.join(tasks_dir, record_file)))
             if _module(t) == PHASE_STATE and t[PHASE_STATE].get("state") == "record"
             and t[PHASE_STATE].get("phase") == phase]
    assert len(found) == 1, "%s: one record task of phase %s, found %d" % (record_file, phase, len(found))
    return found[0][PHASE_STATE]


def writers(roles_dir):
    """(role, file, task name, module, register) of every task that writes a file."""
    out = []
    for role in sorted(os.listdir(roles_dir)):
        tasks_dir = os.path.join(roles_dir, role, "tasks")
        if not os.path.isdir(tasks_dir):
            continue
        for name in sorted(os.listdir(tasks_dir)):
            for task in _walk(_tasks(os.path.join(tasks_dir, name))):
                module = _module(task)
                if module in WRITERS:
                    out.append((role, name, task.get("name"), module, task.get("register")))
    return out


def uncovered(roles_dir=ROLES):
    """One line per writing task whose path its phase's record does not cover."""
    problems = []
    covered = {}  # (role, file) -> [(phase, register names the record takes)]
    for phase, (role, record_file, entries) in sorted(PHASES.items()):
        tasks_dir = os.path.join(roles_dir, role, "tasks")
        role_vars = _load(os.path.join(roles_dir, role, "vars", "main.yml")) or {}
        record = _record_task(tasks_dir, record_file, phase)
        names = _expand(str(record.get("wrote", "")), role_vars)
        for name in _tree(tasks_dir, entries):
            covered.setdefault((role, name), []).append((phase, names))
    for role, name, task, module, register in writers(roles_dir):
        where = "roles/%s/tasks/%s: task '%s' (%s)" % (role, name, task, module)
        if (role, name, task) in EVERY_RUN:
            continue
        phases = covered.get((role, name))
        if not phases:
            problems.append("%s writes a file outside every phase: move it into a phase, or list it in "
                            "EVERY_RUN with the reason no record is needed" % where)
            continue
        for phase, names in phases:
            if not register:
                problems.append("%s writes a file but registers no result: register it and add the result "
                                "to the `wrote` of phase %s's record" % (where, phase))
            elif register not in names:
                problems.append("%s registers %s, which phase %s's record does not take in `wrote`"
                                % (where, register, phase))
    return problems


def test_every_written_file_is_in_its_phase_record():
    assert uncovered() == []


def test_the_phases_start_where_the_roles_skip_them():
    """The PHASES entries are exactly the files a converged phase skips."""
    skipped = set()
    for role in os.listdir(ROLES):
        tasks_dir = os.path.join(ROLES, role, "tasks")
        for name in os.listdir(tasks_dir):
            for task in _walk(_tasks(os.path.join(tasks_dir, name))):
                when = task.get("when") or []
                when = [when] if isinstance(when, str) else when
                if any(re.search(r"__\w+_phase\.converged", str(cond)) and "not " in str(cond) for cond in when):
                    skipped.update((role, f) for f in _included(task, tasks_dir))
    assert skipped == {(role, entry) for role, dummy, entries in PHASES.values() for entry in entries}


def test_the_roles_write_files_at_all():
    found = writers(ROLES)
    assert {role for role, *rest in found} == {"podman", "nvidia_toolkit", "stack"}
    assert len(found) > 20


@pytest.fixture
def roles_copy(tmp_path):
    dest = tmp_path / "roles"
    shutil.copytree(ROLES, dest)
    return dest


def _append(path, text):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def test_a_writer_without_register_is_found(roles_copy):
    _append(roles_copy / "podman" / "tasks" / "configure.yml", """
- name: Write a file nobody records
  ansible.builtin.copy:
    content: "x\\n"
    dest: /etc/containers/extra.conf
    mode: "0644"
""")
    assert uncovered(str(roles_copy)) == [
        "roles/podman/tasks/configure.yml: task 'Write a file nobody records' (ansible.builtin.copy) writes a "
        "file but registers no result: register it and add the result to the `wrote` of phase podman's record"]


def test_a_registered_writer_the_record_does_not_take_is_found(roles_copy):
    _append(roles_copy / "stack" / "tasks" / "firewall_nftables.yml", """
- name: Write another firewall file
  ansible.builtin.template:
    src: x.j2
    dest: /etc/ai-system/extra.nft
    mode: "0644"
  register: __stack_extra_written
""")
    assert uncovered(str(roles_copy)) == [
        "roles/stack/tasks/firewall_nftables.yml: task 'Write another firewall file' (ansible.builtin.template) "
        "registers __stack_extra_written, which phase %s's record does not take in `wrote`" % phase
        for phase in ("stack", "stack_firewall")]


def test_a_writer_outside_every_phase_is_found(roles_copy):
    _append(roles_copy / "stack" / "tasks" / "service.yml", """
- name: Write a file on every run
  ai_system.containers.file_set:
    path: /etc/ai-system/extra
    files: {}
  register: __stack_extra
""")
    assert uncovered(str(roles_copy)) == [
        "roles/stack/tasks/service.yml: task 'Write a file on every run' (ai_system.containers.file_set) writes "
        "a file outside every phase: move it into a phase, or list it in EVERY_RUN with the reason no record "
        "is needed"]
