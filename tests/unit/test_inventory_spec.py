# -*- coding: utf-8 -*-
"""The stack role's `inventory` entry point (what `ansible-doc -t role
ai_system.containers.stack` shows of the ai_* variables) against the plan's
own field lists and the variables the playbooks read: a field or variable
the plan gains without an entry here fails."""

from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.model import stack_model

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def spec():
    with open(os.path.join(REPO, "roles", "stack", "meta", "argument_specs.yml"),
              encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["inventory"]["options"]


def _keys(option):
    return set(option.get("options", {}))


def test_every_variable_the_plan_reads_is_described(spec):
    # inventory_dir is Ansible's own (where relative image contexts are read).
    assert {v for v in stack_model.PLAN_VARS if v.startswith("ai_")} - set(spec) == set()


def test_every_ai_variable_the_playbooks_and_roles_read_is_described(spec):
    used = set()
    for path in glob.glob(os.path.join(REPO, "playbooks", "*.yml")) + \
            glob.glob(os.path.join(REPO, "roles", "*", "*", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            used |= set(re.findall(r"\b(ai_[a-z_]*[a-z])\b", handle.read()))
    # The group's default name, and the collection's own registered results.
    used -= {"ai_hosts", "ai_system"}
    used = {name for name in used if not name.startswith("ai_system_")}
    assert used - set(spec) == set()


def test_no_variable_is_described_that_nothing_reads(spec):
    read = set(stack_model.PLAN_VARS)
    for path in glob.glob(os.path.join(REPO, "playbooks", "*.yml")) + \
            glob.glob(os.path.join(REPO, "roles", "*", "*", "*.yml")) + \
            glob.glob(os.path.join(REPO, "plugins", "action", "*.py")):
        if path.endswith("argument_specs.yml"):
            continue
        with open(path, encoding="utf-8") as handle:
            read |= set(re.findall(r"\b(ai_[a-z_]*[a-z])\b", handle.read()))
    assert set(spec) - read == set()


@pytest.mark.parametrize("path, fields", [
    (("ai_groups",), stack_model.GROUP_KEYS),
    (("ai_groups", "agents"), stack_model.AGENT_KEYS),
    (("ai_groups", "gpu"), stack_model.GPU_KEYS),
    (("ai_groups", "build"), stack_model.BUILD_KEYS),
    (("ai_groups", "health"), stack_model.HEALTH_KEYS),
    (("ai_groups", "security"), stack_model.SECURITY_KEYS),
    (("ai_groups", "secrets"), stack_model.SECRET_KEYS),
    (("ai_groups", "ports"), stack_model.PORT_KEYS),
    (("ai_gpu",), stack_model.HOST_GPU_KEYS),
])
def test_suboptions_are_the_plans_fields(spec, path, fields):
    option = spec[path[0]]
    for name in path[1:]:
        option = option["options"][name]
    assert _keys(option) == set(fields)


@pytest.mark.parametrize("path, fields", [
    (("ai_groups", "volumes"), stack_model.MOUNT_KEYS),
    (("ai_groups", "connects_to"), stack_model.CONNECT_KEYS),
])
def test_mapping_entries_of_mixed_lists_name_every_key(spec, path, fields):
    option = spec[path[0]]["options"][path[1]]
    text = " ".join(option["description"])
    assert [f for f in fields if "C(%s)" % f not in text] == []


@pytest.mark.parametrize("path, choices", [
    (("ai_gpu", "sharing"), stack_model.GPU_SHARING),
    (("ai_groups", "gpu", "capabilities"), stack_model.GPU_CAPABILITIES),
    (("ai_groups", "health", "on_failure"), stack_model.HEALTH_ON_FAILURE),
    (("ai_groups", "secrets", "type"), stack_model.SECRET_TYPES),
    (("ai_groups", "agents", "socket"), stack_model.AGENT_SOCKETS),
])
def test_choices_are_the_plans(spec, path, choices):
    option = spec[path[0]]
    for name in path[1:]:
        option = option["options"][name]
    assert set(option["choices"]) == set(choices)


def test_settings_defaults_are_the_models():
    with open(os.path.join(REPO, "roles", "stack", "meta", "argument_specs.yml"),
              encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["inventory"]["options"]
    defaults = stack_model.Settings()
    for var, attr in stack_model.SETTINGS_VARS.items():
        assert spec[var]["default"] == getattr(defaults, attr), var
