# -*- coding: utf-8 -*-
"""The phase_state action: the inputs digest it hands the module."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.action import phase_state as action
from support.actions import make_action


def _digest(task_vars, args=None, role_path=None, monkeypatch=None):
    plugin = make_action(action, dict({"phase": "podman", "prefixes": ["podman_"]}, **(args or {})),
                         role_path=role_path)
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
    plugin = make_action(action, args)
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


# -- secrets: keyed digests made on the controller, never sent ------------------------
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402

from ansible_collections.ai_system.containers.plugins.plugin_utils import secret_digest  # noqa: E402

SECRET = "hunter2"


def _sent(task_vars, args):
    """What the module receives, and the result, for a stack-like check."""
    plugin = make_action(action, dict({"phase": "stack", "prefixes": ["stack_"],
                                       "inputs": {"plan": {"secrets": ["db"]}}}, **args))
    sent = {}

    def execute(module_name, module_args, task_vars):
        sent.update(module_args)
        return {"converged": False, "changed": False, "differences": ["inputs changed"]}

    plugin._execute_module = execute
    result = plugin.run(task_vars=task_vars)
    return sent, result


def _vars(tmp_path, value=SECRET, **more):
    return dict({"ai_secrets": {"db": value, "unused": "other"},
                 "ai_secrets_digest_key_file": str(tmp_path / "keys" / "secrets-digest.key")}, **more)


def test_no_argument_or_result_carries_the_secret_or_a_digest_of_it(tmp_path):
    sent, result = _sent(_vars(tmp_path), {"secrets": ["db"]})
    text = json.dumps([sent, result])
    key = secret_digest.load_key(str(tmp_path / "keys" / "secrets-digest.key"))
    for needle in (SECRET, hashlib.sha256(SECRET.encode()).hexdigest(),
                   hashlib.sha256(SECRET.encode()).hexdigest()[:12],
                   secret_digest.secret_digests(key, {"db": SECRET})["db"]):
        assert needle not in text
    assert "secrets" not in sent and "secrets_var" not in sent and "ai_secrets" not in text
    assert set(sent) == {"phase", "prefixes", "inputs", "digest"}


def test_a_changed_secret_changes_the_digest_and_the_same_one_does_not(tmp_path):
    first = _sent(_vars(tmp_path), {"secrets": ["db"]})[0]
    again = _sent(_vars(tmp_path), {"secrets": ["db"]})[0]
    changed = _sent(_vars(tmp_path, value="hunter3"), {"secrets": ["db"]})[0]
    assert first["digest"] == again["digest"] != changed["digest"]
    # A secret the phase does not name is no input.
    other = _sent(dict(_vars(tmp_path), ai_secrets={"db": SECRET, "unused": "changed"}), {"secrets": ["db"]})[0]
    assert other["digest"] == first["digest"]


def test_the_secrets_variable_can_be_named(tmp_path):
    plain_vars = _vars(tmp_path)
    named = dict(plain_vars, vault_values={"db": "hunter3"})
    a = _sent(plain_vars, {"secrets": ["db"]})[0]
    b = _sent(named, {"secrets": ["db"], "secrets_var": "vault_values"})[0]
    assert a["digest"] != b["digest"] and "vault_values" not in json.dumps(b)


def test_the_key_is_made_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "keys" / "secrets-digest.key"
    first = _sent(_vars(tmp_path), {"secrets": ["db"]})[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = path.read_bytes()
    _sent(_vars(tmp_path), {"secrets": ["db"]})
    assert path.read_bytes() == key and os.listdir(path.parent) == ["secrets-digest.key"]
    # Another key (another controller): another digest, so the phase runs once more.
    path.write_text("ab" * 32 + "\n")
    assert _sent(_vars(tmp_path), {"secrets": ["db"]})[0]["digest"] != first["digest"]


def test_the_same_secret_under_another_key_cannot_be_matched(tmp_path):
    one = secret_digest.secret_digests(b"k" * 32, {"db": SECRET})["db"]
    two = secret_digest.secret_digests(b"l" * 32, {"db": SECRET})["db"]
    assert one != two and hashlib.sha256(SECRET.encode()).hexdigest() not in (one, two)


@pytest.mark.parametrize("setup, message", [
    (lambda p: (p.write_text("ab" * 32), p.chmod(0o644)), "is readable by others (mode 0644): chmod 600"),
    (lambda p: (p.write_text("short"), p.chmod(0o600)), "holds no key of at least 16 bytes"),
    (lambda p: p.mkdir(), "is not a regular file"),
])
def test_a_bad_key_file_is_refused_naming_it(tmp_path, setup, message):
    path = tmp_path / "keys" / "secrets-digest.key"
    path.parent.mkdir(mode=0o700)
    setup(path)
    reason = message.split(":")[0].replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(Exception, match="phase_state: %s .*%s" % (path, reason)):
        _sent(_vars(tmp_path), {"secrets": ["db"]})


def test_forks_making_the_key_at_once_agree(tmp_path):
    path = str(tmp_path / "secrets-digest.key")
    pids = []
    for dummy in range(4):
        pid = os.fork()
        if pid == 0:
            try:
                key = secret_digest.load_key(path)
                with open("%s.%d" % (path, os.getpid()), "w") as out:
                    out.write(key.hex())
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    seen = {open("%s.%d" % (path, pid)).read() for pid in pids}
    assert seen == {secret_digest.load_key(path).hex()}


def test_without_secrets_no_key_is_made(tmp_path):
    sent = _sent(_vars(tmp_path), {})[0]
    assert not (tmp_path / "keys").exists()
    assert len(sent["digest"]) == 64


def test_the_stack_role_names_its_secrets_instead_of_hashing_them():
    """The stack's inputs carry no hash of a secret; both of its phase_state tasks name the secrets."""
    from ansible.parsing.utils.yaml import from_yaml
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "stack")
    with open(os.path.join(root, "vars", "main.yml")) as handle:
        inputs = from_yaml(handle.read())["__stack_inputs"]
    assert set(inputs) == {"plan"} and "hash" not in json.dumps(inputs) and "ai_secrets" not in json.dumps(inputs)
    tasks = []
    for name in ("validate.yml", "main.yml"):
        with open(os.path.join(root, "tasks", name)) as handle:
            tasks += [t["ai_system.containers.phase_state"] for t in from_yaml(handle.read())
                      if "ai_system.containers.phase_state" in t]
    assert len(tasks) == 2
    assert all(t["secrets"] == "{{ __stack_host.secrets }}" for t in tasks)


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
    with pytest.raises(action.AnsibleActionFail, match=r"ai_phase_records must be one of use, ignore, got 'skip'"):
        plugin.run(task_vars=dict(BASE, ai_phase_records="skip"))
    assert calls == []


# -- the record covers what the writing tasks reported -------------------------------
WROTE = [
    {"changed": True, "dest": "/etc/containers/containers.conf.d/50-ai-system.conf"},
    {"changed": False, "path": "/etc/containers/containers.conf.d"},
    None,  # a writer whose include did not run: `default(none)`
]


def test_a_record_covers_the_files_and_every_path_the_writers_reported():
    plugin, calls = _plugin({"phase": "podman", "state": "record", "prefixes": ["podman_"],
                             "files": ["/etc/os-release", "/etc/containers/containers.conf.d"], "wrote": WROTE})
    plugin.run(task_vars=dict(BASE))
    assert calls[0]["files"] == ["/etc/os-release", "/etc/containers/containers.conf.d",
                                 "/etc/containers/containers.conf.d/50-ai-system.conf"]
    assert "wrote" not in calls[0]


def test_a_check_sends_no_results():
    plugin, calls = _plugin({"phase": "podman", "prefixes": ["podman_"], "wrote": WROTE})
    plugin.run(task_vars=dict(BASE))
    assert "wrote" not in calls[0] and "files" not in calls[0]


def test_wrote_that_is_not_a_list_is_refused():
    plugin, calls = _plugin({"phase": "podman", "state": "record", "prefixes": ["podman_"], "wrote": "x"})
    with pytest.raises(action.AnsibleActionFail, match="wrote must be a list of the writing tasks' registered results"):
        plugin.run(task_vars=dict(BASE))
    assert calls == []
