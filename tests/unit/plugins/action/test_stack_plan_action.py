# -*- coding: utf-8 -*-
"""The stack_plan action: which host variables it hands the plan, and its messages."""

from __future__ import annotations

import ast
import os
import re

import pytest

from ansible_collections.ai_system.containers.plugins.action import stack_plan as action
from ansible_collections.ai_system.containers.plugins.module_utils.model import model_load, model_sections, model_values, stack_model
from ansible_collections.ai_system.containers.plugins.module_utils.monitoring import stack_monitoring

from support.actions import make_action
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


# -- one list of plan variables -------------------------------------------------

def _parents(tree):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _loop_values(name, node, parents):
    """The values a loop variable *name* takes at *node*: the enclosing
    ``for`` over a literal tuple/list, or over SETTINGS_VARS."""
    while node in parents:
        node = parents[node]
        if not isinstance(node, ast.For):
            continue
        targets = [node.target] if isinstance(node.target, ast.Name) else \
            [t for t in getattr(node.target, "elts", []) if isinstance(t, ast.Name)]
        if name not in [t.id for t in targets]:
            continue
        it = node.iter
        if isinstance(it, (ast.Tuple, ast.List)) and \
                all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in it.elts):
            return {e.value for e in it.elts}
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) \
                and it.func.attr in ("items", "keys"):
            it = it.func.value
        if isinstance(it, ast.Name) and it.id == "SETTINGS_VARS":
            return set(stack_model.SETTINGS_VARS)
        break
    raise AssertionError("line %d: cannot tell which host variable %r is; read it by name "
                         "or extend this test" % (node.lineno, name))


# The inventory model: its vocabulary and its parsers.
MODEL = (stack_model, model_values, model_sections, model_load)


def model_reads():
    """Every key the model (:data:`MODEL`) reads from a host's variables
    (``hostvars``): ``hostvars.get(key)``, ``hostvars[key]`` and ``key in
    hostvars``."""
    reads = {}
    for module in MODEL:
        file_reads(module.__file__, reads)
    return reads


def file_reads(path, reads):
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    parents = _parents(tree)

    def is_hostvars(node):
        return isinstance(node, ast.Name) and node.id == "hostvars"

    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and is_hostvars(node.func.value) and node.func.attr in ("get", "pop", "setdefault"):
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and is_hostvars(node.value):
            key = node.slice
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 \
                and isinstance(node.ops[0], (ast.In, ast.NotIn)) and is_hostvars(node.comparators[0]):
            key = node.left
        if key is None:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names = {key.value}
        elif isinstance(key, ast.Name):
            names = _loop_values(key.id, node, parents)
        else:
            raise AssertionError("line %d: host variable read by an expression this test "
                                 "cannot follow" % node.lineno)
        for name in names:
            reads.setdefault(name, []).append("%s:%d" % (os.path.basename(path), node.lineno))


def test_the_parser_finds_the_known_reads():
    reads = model_reads()
    for var in ("ai_lan_address", "ai_selinux", "ai_group_defaults", "ai_host_group_defaults",
                "ai_group_overrides", "ai_max_cpus", "ai_secrets", "ai_network_name",
                "ai_restart_sec"):
        assert var in reads, var


def test_plan_vars_are_exactly_what_the_model_reads():
    reads = model_reads()
    missing = sorted(set(reads) - set(stack_model.PLAN_VARS))
    assert not missing, "read by stack_model but not in PLAN_VARS (the action would never " \
                        "pass them): %s" % ", ".join(
                            "%s (%s)" % (v, reads[v][0]) for v in missing)
    # The shared sections are read across hosts, by their own modules.
    assert stack_model.SHARED_VARS == (stack_monitoring.VAR,)
    unread = sorted(set(stack_model.PLAN_VARS) - set(reads) - set(stack_model.SHARED_VARS))
    assert not unread, "in PLAN_VARS but never read by stack_model: %s" % ", ".join(unread)
    assert len(set(stack_model.PLAN_VARS)) == len(stack_model.PLAN_VARS)


def test_the_action_takes_its_list_from_the_model():
    assert not hasattr(action, "PLAN_VARS") or action.PLAN_VARS is stack_model.PLAN_VARS
    with open(action.__file__) as handle:
        source = handle.read()
    # No variable names of its own: a second list is what drifts.
    assert "ai_lan_address" not in source and "ai_max_cpus" not in source


# -- what the action collects ------------------------------------------------------

class FakeHostvars(dict):
    """hostvars whose templated view refuses to give secret values."""

    def __init__(self, data):
        super().__init__({name: Guarded(v) for name, v in data.items()})
        self.raw = data

    def raw_get(self, name):
        return self.raw[name]


class Guarded(dict):
    def __getitem__(self, key):
        if key == "ai_secrets":
            raise AssertionError("secret values were templated")
        return super().__getitem__(key)


def test_collect_hostvars_takes_every_plan_var_and_only_secret_names():
    data = {name: "x" for name in stack_model.PLAN_VARS}
    data["ai_secrets"] = {"token": "s3cr3t"}
    data["ansible_host"] = "10.0.0.1"
    data["unrelated"] = 1
    got = action.collect_hostvars(FakeHostvars({"h": data}), ["h"])["h"]
    assert set(got) == set(stack_model.PLAN_VARS)
    assert got["ai_secrets"] == {"token": None}
    assert got["ai_max_cpus"] == "x" and got["ai_group_overrides"] == "x"


def test_malformed_secrets_reach_the_plan_as_they_are():
    got = action.collect_hostvars(FakeHostvars({"h": {"ai_secrets": ["token"]}}), ["h"])["h"]
    assert got == {"ai_secrets": ["token"]}


class Templated(dict):
    """hostvars of a host whose ai_secrets is one template (a vaulted dict)."""

    def __getitem__(self, key):
        if key == "ai_secrets":
            return {"token": "s3cr3t", "api_key": "k"}
        return super().__getitem__(key)


def test_secrets_given_as_one_vaulted_dict_give_their_names():
    hostvars = FakeHostvars({"h": {"ai_secrets": "{{ vault_ai_secrets }}"}})
    hostvars["h"] = Templated(hostvars["h"])
    got = action.collect_hostvars(hostvars, ["h"])["h"]
    assert got == {"ai_secrets": {"token": None, "api_key": None}}


def _action(args=None):
    return make_action(action, args)


def test_the_lab_inventory_plans_cleanly_through_the_action():
    hosts = load_inventory_dir(os.path.join(REPO, "inventory", "lab"))
    result = _action().run(task_vars={"groups": {"ai_hosts": sorted(hosts)},
                                      "hostvars": FakeHostvars(hosts)})
    assert not result.get("failed"), result["msg"]
    # ai_max_cpus (group_vars/all/lab.yml) and ai_group_overrides (host.yml) reached the plan.
    units = result["plan"]["mainpc"]["quadlet"]
    cpus = [float(v) for text in units.values() for v in re.findall(r"--cpus=(\S+)", text)]
    assert cpus and max(cpus) == 1  # production's groups ask for up to 4
    assert "AddDevice=/dev/snd" not in units["ai-audio-processing.container"]


@pytest.mark.parametrize("groups", [{}, {"ai_hosts": []}])
def test_an_empty_inventory_group_names_no_hosts(groups):
    result = _action().run(task_vars={"groups": groups})
    assert result["failed"] is True
    assert result["msg"] == ("No hosts in inventory group 'ai_hosts' (ai_hosts_group): the "
                             "inventory's groups with hosts are (none). Put the AI hosts in group "
                             "'ai_hosts', or name their group with -e ai_hosts_group=<group>.")


def test_ai_hosts_group_chooses_the_group_and_a_missing_one_names_the_others():
    task_vars = {"groups": {"all": ["a", "b"], "gpu_pcs": ["a"], "cpu_pcs": ["b"], "empty": []},
                 "ai_hosts_group": "gpu_pc"}
    result = _action().run(task_vars=task_vars)
    assert result["failed"] is True
    assert result["msg"].startswith("No hosts in inventory group 'gpu_pc' (ai_hosts_group): the "
                                    "inventory's groups with hosts are cpu_pcs, gpu_pcs. ")
    # An explicit inventory_group wins over ai_hosts_group.
    result = _action({"inventory_group": "nowhere"}).run(task_vars=task_vars)
    assert "inventory group 'nowhere'" in result["msg"]
