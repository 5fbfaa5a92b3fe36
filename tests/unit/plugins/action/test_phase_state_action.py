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


# -- checks answered from one reading at the start of the run -----------------------
def _plugin(args):
    task = Task()
    task.args = dict(args)
    loader = DataLoader()
    plugin = action.ActionModule(task, MagicMock(), PlayContext(), loader, Templar(loader=loader), None)
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append(dict(module_args))
        if module_args.get("state") == "read":
            return {"changed": False, "phases": {}}
        return {"changed": False, "converged": True, "differences": [], "ansible_facts": {"distribution": "Debian"}}

    plugin._execute_module = execute
    return plugin, calls


def _check_digest(phase, task_vars):
    plugin = _plugin({"phase": phase, "prefixes": ["podman_"]})[0]
    return plugin._digest({"phase": phase, "prefixes": ["podman_"]}, task_vars)


def _reads(task_vars, **podman):
    reading = {"inputs": _check_digest("podman", task_vars), "differences": [], "facts": {"distribution": "Debian"},
               "record": "/var/lib/ai-system/phases/podman.json"}
    reading.update(podman)
    return {"token": "t1", "phases_order": ["podman", "nvidia_toolkit", "stack"],
            "phases": {"podman": reading, "nvidia_toolkit": dict(reading), "stack": dict(reading)}}


def test_a_read_returns_a_token_and_the_order_of_the_phases():
    plugin, calls = _plugin({"state": "read", "phases": ["podman", "stack"]})
    first = plugin.run(task_vars={})
    second = plugin.run(task_vars={})
    assert calls[0] == {"state": "read", "phases": ["podman", "stack"]}
    assert first["phases_order"] == ["podman", "stack"]
    assert first["token"] and first["token"] != second["token"]


def test_a_converged_reading_answers_the_first_phase_without_a_call():
    task_vars = dict(BASE)
    plugin, calls = _plugin({"phase": "podman", "prefixes": ["podman_"], "reads": _reads(task_vars)})
    result = plugin.run(task_vars=task_vars)
    assert calls == []
    assert result["converged"] is True and result["read_once"] is True
    assert result["ansible_facts"] == {"distribution": "Debian",
                                       "ai_system_phase_chain": {"token": "t1", "converged": ["podman"]}}


@pytest.mark.parametrize("reading, why", [
    ({"differences": ["file /etc/x: was sha256 …, now absent"]}, "the host changed"),
    ({"inputs": "other"}, "the inputs changed"),
    ({"inputs": None, "differences": ["no record of a complete run of this phase yet"]}, "no record"),
])
def test_a_reading_with_work_asks_the_host(reading, why):
    task_vars = dict(BASE)
    plugin, calls = _plugin({"phase": "podman", "prefixes": ["podman_"], "reads": _reads(task_vars, **reading)})
    result = plugin.run(task_vars=task_vars)
    assert len(calls) == 1 and calls[0]["phase"] == "podman" and "reads" not in calls[0], why
    assert result["read_once"] is False


def test_a_later_phase_uses_the_reading_only_after_every_earlier_phase_was_converged_in_this_run():
    task_vars = dict(BASE)
    reads = _reads(task_vars)
    reads["phases"]["stack"]["inputs"] = _check_digest("stack", task_vars)
    args = {"phase": "stack", "prefixes": ["podman_"], "reads": reads}
    # Nothing known of podman and nvidia_toolkit in this run: ask the host.
    plugin, calls = _plugin(args)
    plugin.run(task_vars=task_vars)
    assert len(calls) == 1
    # Only podman converged (the toolkit phase ran, or did not check): ask the host.
    chain = {"ai_system_phase_chain": {"token": "t1", "converged": ["podman"]}}
    plugin, calls = _plugin(args)
    plugin.run(task_vars=dict(task_vars, ansible_facts=chain))
    assert len(calls) == 1
    # A chain left from another run (another token) counts for nothing.
    stale = {"ai_system_phase_chain": {"token": "t0", "converged": ["podman", "nvidia_toolkit"]}}
    plugin, calls = _plugin(args)
    plugin.run(task_vars=dict(task_vars, ansible_facts=stale))
    assert len(calls) == 1
    # Both earlier phases converged in this run: no call.
    chain = {"ai_system_phase_chain": {"token": "t1", "converged": ["nvidia_toolkit", "podman"]}}
    plugin, calls = _plugin(args)
    result = plugin.run(task_vars=dict(task_vars, ansible_facts=chain))
    assert calls == [] and result["converged"] is True
    assert result["ansible_facts"]["ai_system_phase_chain"]["converged"] == ["nvidia_toolkit", "podman", "stack"]


def test_a_phase_found_converged_by_the_host_extends_the_chain():
    task_vars = dict(BASE)
    plugin, calls = _plugin({"phase": "podman", "prefixes": ["podman_"],
                             "reads": _reads(task_vars, differences=["unit x: was active, now failed"])})
    result = plugin.run(task_vars=task_vars)
    assert len(calls) == 1
    assert result["ansible_facts"]["ai_system_phase_chain"] == {"token": "t1", "converged": ["podman"]}


# -- ai_phase_records=ignore -----------------------------------------------------------
def test_ignore_turns_a_check_into_forget_even_with_a_converged_reading():
    task_vars = dict(BASE)
    reads = _reads(task_vars)
    task_vars["ai_phase_records"] = "ignore"
    plugin, calls = _plugin({"phase": "podman", "prefixes": ["podman_"], "reads": reads})
    plugin.run(task_vars=task_vars)
    assert calls == [{"phase": "podman", "state": "forget"}]


def test_ignore_reads_nothing_at_the_start_of_the_run():
    plugin, calls = _plugin({"state": "read", "phases": ["podman", "stack"]})
    result = plugin.run(task_vars={"ai_phase_records": "ignore"})
    assert calls == []
    assert result["phases"] == {} and "token" not in result


def test_ignore_still_records():
    plugin, calls = _plugin({"phase": "podman", "state": "record", "prefixes": ["podman_"]})
    plugin.run(task_vars={"ai_phase_records": "ignore"})
    assert len(calls) == 1 and calls[0]["state"] == "record" and calls[0]["digest"]


def test_use_is_the_default_and_another_value_is_refused():
    task_vars = dict(BASE, ai_phase_records="use")
    plugin, calls = _plugin({"phase": "podman", "prefixes": ["podman_"]})
    plugin.run(task_vars=task_vars)
    assert calls[0].get("state", "check") == "check" and calls[0]["digest"]
    plugin, calls = _plugin({"phase": "podman", "prefixes": ["podman_"]})
    with pytest.raises(action.AnsibleActionFail, match=r"ai_phase_records must be one of use, ignore, "
                                                        r"got 'skip'"):
        plugin.run(task_vars=dict(BASE, ai_phase_records="skip"))
    assert calls == []
