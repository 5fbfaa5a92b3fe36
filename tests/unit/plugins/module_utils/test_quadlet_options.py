# -*- coding: utf-8 -*-
"""quadlet_options, the escape hatch for Quadlet keys the model has no field
for, and restart_on_change: what passes, what is refused and why."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.quadlet import generated_service, needs_quadlet


def core(inv):
    return inv["mainpc"]["ai_groups"]["core"]


def unit_of(inventory, name="ai-core.container"):
    result = build_plan(inventory)
    assert result["errors"] == [], result["errors"]
    return result["hosts"]["mainpc"]["quadlet"][name]


def problems_at(inventory, field):
    result = build_plan(inventory)
    assert result["hosts"] == {}
    found = [p for p in result["problems"] if p["field"] == field]
    assert found, result["errors"]
    assert all(p["host"] == "mainpc" and p["group"] == "core" and p["fix"] for p in found)
    return found


def section(unit, title):
    return unit.split("[%s]\n" % title, 1)[1].split("\n\n", 1)[0].splitlines()


def test_unknown_keys_are_written_after_the_plans_own(inventory):
    core(inventory)["quadlet_options"] = {
        "Container": {"Ulimit": ["nofile=4096:4096", "nproc=512"], "ShmSize": "1g"},
        "Service": {"LimitNOFILE": 65536},
        "Unit": {"After": "mnt-models.mount"},
        "Quadlet": {"DefaultDependencies": False},
    }
    unit = unit_of(inventory)
    container = section(unit, "Container")
    assert container[-3:] == ["Ulimit=nofile=4096:4096", "Ulimit=nproc=512", "ShmSize=1g"]
    assert section(unit, "Service")[-1] == "LimitNOFILE=65536"
    assert section(unit, "Unit")[-1] == "After=mnt-models.mount"
    assert section(unit, "Quadlet") == ["DefaultDependencies=false"]


def test_options_follow_the_same_escaping_as_every_value(inventory):
    core(inventory)["quadlet_options"] = {"Container": {"Annotation": "cost=100%$"}}
    assert "Annotation=cost=100%%$$" in unit_of(inventory)


def test_a_control_character_in_an_option_is_located(inventory):
    core(inventory)["quadlet_options"] = {"Container": {"Ulimit": "x\r[Service]\rExecStartPre=/bin/id"}}
    problem = problems_at(inventory, "quadlet_options.Container.Ulimit")[0]
    assert "control character" in problem["message"]


@pytest.mark.parametrize("section_name,key,field", [
    ("Container", "PublishPort", "connects_to"),
    ("Container", "Network", "ai_network_name"),
    ("Container", "Environment", "env"),
    ("Container", "Volume", "volumes"),
    ("Container", "Image", "image"),
    ("Unit", "Description", "description"),
])
def test_keys_the_plan_writes_are_refused_with_the_field_to_use(inventory, section_name, key, field):
    core(inventory)["quadlet_options"] = {section_name: {key: "x"}}
    problem = problems_at(inventory, "quadlet_options.%s.%s" % (section_name, key))[0]
    assert field in problem["fix"]


@pytest.mark.parametrize("args", ["--publish 9000:9000", "-p=9000:9000", "--network=host",
                                  "--privileged", "--cap-add=SYS_ADMIN"])
def test_podman_args_that_undo_the_plans_isolation_are_refused(inventory, args):
    core(inventory)["quadlet_options"] = {"Container": {"PodmanArgs": args}}
    problems_at(inventory, "quadlet_options.Container.PodmanArgs")


def test_harmless_podman_args_pass(inventory):
    core(inventory)["quadlet_options"] = {"Container": {"PodmanArgs": "--pids-limit=512"}}
    assert "PodmanArgs=--pids-limit=512" in section(unit_of(inventory), "Container")


@pytest.mark.parametrize("options,field", [
    ({"Pod": {"PodName": "x"}}, "quadlet_options"),
    ({"Container": "Ulimit=x"}, "quadlet_options.Container"),
    ({"Container": {"ulimit": "x"}}, "quadlet_options.Container"),
    ({"Container": {"Ulimit": {"a": 1}}}, "quadlet_options.Container.Ulimit"),
    ({"Container": {"Ulimit": []}}, "quadlet_options.Container.Ulimit"),
])
def test_malformed_options_are_refused(inventory, options, field):
    core(inventory)["quadlet_options"] = options
    problems_at(inventory, field)


@pytest.mark.podman
@needs_quadlet
def test_the_generator_accepts_what_the_options_write(tmp_path, inventory):
    core(inventory)["quadlet_options"] = {"Container": {"Ulimit": "nofile=4096:4096",
                                                        "ShmSize": "1g"}}
    files = build_plan(inventory)["hosts"]["mainpc"]["quadlet"]
    service = generated_service(files, tmp_path, "ai-core.service")
    assert "--ulimit nofile=4096:4096" in service and "--shm-size 1g" in service


def test_restart_on_change_reaches_the_unit_plan(inventory):
    core(inventory)["restart_on_change"] = ["/srv/ai/core.toml"]
    result = build_plan(inventory)
    unit = next(u for u in result["hosts"]["mainpc"]["units"] if u["group"] == "core")
    assert unit["restart_on_change"] == ["/srv/ai/core.toml"]


@pytest.mark.parametrize("path", ["etc/core.toml", "/srv/ai/../core.toml", "/srv/ai/"])
def test_restart_on_change_paths_are_absolute_and_normalised(inventory, path):
    core(inventory)["restart_on_change"] = [path]
    problems_at(inventory, "restart_on_change")
