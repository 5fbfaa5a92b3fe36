# -*- coding: utf-8 -*-
"""quadlet_check runs the real Quadlet generator over the plan's files."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet import dryrun_problems
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from ansible_collections.ai_system.containers.plugins.modules import quadlet_check
from support.quadlet import needs_quadlet


def host_plan(inventory, host="mainpc"):
    result = build_plan(inventory)
    assert result["errors"] == [], result["errors"]
    return result["hosts"][host]


@pytest.mark.podman
@needs_quadlet
def test_the_plans_units_pass_the_generator(run_module, production):
    plan = host_plan(production)
    result, failed = run_module(quadlet_check.main, {"files": plan["quadlet"], "units": plan["units"]},
                                check=True)
    assert not failed, result["msg"]
    assert result["changed"] is False and result["problems"] == []
    assert {u["service"] for u in plan["units"]} <= set(result["services"])


@pytest.mark.podman
@needs_quadlet
def test_a_key_the_generator_rejects_fails_naming_the_group(run_module, inventory):
    # The plan refuses keys off its allow-list; the module is the generator's own word on a file.
    plan = host_plan(inventory)
    plan["quadlet"]["ai-core.container"] += "\n[Container]\nFooBar=1\n"
    result, failed = run_module(quadlet_check.main, {"files": plan["quadlet"], "units": plan["units"]})
    assert failed
    assert result["problems"] == [
        "group core (ai-core.container): unsupported key 'FooBar' in group 'Container'"]
    assert "nothing was installed and the running units are unchanged" in result["msg"]


def test_a_missing_generator_says_what_provides_it(run_module, inventory, tmp_path):
    plan = host_plan(inventory)
    result, failed = run_module(quadlet_check.main, {"files": plan["quadlet"],
                                                     "quadlet_path": str(tmp_path / "quadlet")})
    assert failed and "Podman 4.4 or later" in result["msg"]


def test_a_missing_generator_is_reported_not_failed_for_a_preview(run_module, inventory, tmp_path):
    plan = host_plan(inventory)
    result, failed = run_module(quadlet_check.main, {"files": plan["quadlet"], "missing_ok": True,
                                                     "quadlet_path": str(tmp_path / "quadlet")}, check=True)
    assert not failed
    assert result["generator"] is False and result["services"] == [] and result["changed"] is False


@pytest.mark.parametrize("name", ["../escape.container", "a/b.container", "-x.container", ""])
def test_file_names_that_are_not_unit_names_are_refused(run_module, name):
    result, failed = run_module(quadlet_check.main, {"files": {name: "[Container]\n"}})
    assert failed and "not unit file names" in result["msg"]


def test_a_unit_skipped_without_a_reason_is_reported():
    out = "---ai-system-network.service---\n[Unit]\n"
    assert dryrun_problems(["ai-core.container", "ai-system.network"], out, "") == [
        ("ai-core.container", "the generator skipped it without saying why")]


def test_the_generators_reason_is_taken_from_its_stderr():
    err = ('quadlet-generator[1]: Loading source unit file /tmp/x/ai-core.container\n'
           'quadlet-generator[1]: converting "ai-core.container": requires key Image or '
           'Rootfs in group Container in /tmp/x/ai-core.container\n')
    assert dryrun_problems(["ai-core.container"], "", err) == [
        ("ai-core.container", "requires key Image or Rootfs in group Container")]
