# -*- coding: utf-8 -*-
"""The stack_report action: the plan it takes is rebuilt as the typed host
plans first; a plan of another shape fails naming its host and key."""

from __future__ import annotations

import copy
import os

from ansible_collections.ai_system.containers.plugins.action import stack_report
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support import verify_results as vr
from support.actions import make_action
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def _run(args, check_mode=True):
    return make_action(stack_report, args, check_mode).run(task_vars={})


def lab_plan():
    result = build_plan(load_inventory_dir(os.path.join(REPO, "inventory", "lab")))
    assert result["ok"], result["errors"]
    return result["hosts"]


def test_the_plan_of_stack_plan_is_reported():
    plan = lab_plan()
    results = {name: vr.healthy_host_results(host) for name, host in plan.items()}
    got = _run({"plan": plan, "results": results, "dest": "/nonexistent/reports"})
    assert not got.get("failed"), got.get("msg")
    assert got["ok"] and got["written"] is False
    assert sorted(got["report"]["hosts"]) == sorted(plan)


def test_a_plan_of_another_shape_fails_naming_host_and_key():
    plan = lab_plan()
    bad = copy.deepcopy(plan)
    host = sorted(bad)[0]
    del bad[host]["units"][0]["service"]
    got = _run({"plan": bad, "results": {}, "dest": "/nonexistent/reports"})
    assert got["failed"]
    assert got["msg"] == ("plan is not the stack_plan action's plan: plan[%s].units[0].service is "
                          "missing (UnitPlan needs it)" % host)
