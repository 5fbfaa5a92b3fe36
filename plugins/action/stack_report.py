# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side verification report (see the stack_report module docs)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    PlanShapeError, plan_hosts,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_checks import build_report
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import shown
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_render import (
    render_markdown, render_text, report_paths, verdict, write_report,
)
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain

ARGUMENT_SPEC = {
    "plan": {"type": "dict", "required": True},
    "results": {"type": "dict", "required": True},
    "hosts": {"type": "list", "elements": "str"},
    "dest": {"type": "path", "default": "reports"},
    "fail_on_problems": {"type": "bool", "default": True},
    "fail_on_skip": {"type": "bool", "default": False},
    "fail_on_degraded": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        # The plan crosses back from Ansible here: rebuilt as the typed host
        # plans (plan_contract), so a plan of another shape fails naming its key.
        try:
            plans = plan_hosts(plain(args["plan"]))
        except PlanShapeError as exc:
            result.update(failed=True, changed=False,
                          msg="plan is not the stack_plan action's plan: %s" % exc)
            return result
        report = build_report({name: plan.as_dict() for name, plan in plans.items()},
                              plain(args["results"]),
                              hosts=args["hosts"], fail_on_skip=args["fail_on_skip"],
                              fail_on_degraded=args["fail_on_degraded"])
        text = render_text(report)
        if self._task.check_mode:
            files, written = report_paths(args["dest"], report["generated_at"]), False
        else:
            try:
                files, written = write_report(args["dest"], report, render_markdown(report)), True
            except OSError as exc:
                result.update(failed=True, changed=False, text=text, ok=report["ok"],
                              msg="Cannot write the report under %s: %s" % (args["dest"], exc))
                return result
        text.append("Report: %s%s" % (files["markdown"], "" if written else " (check mode: not written)"))
        result.update(
            changed=False,
            ok=report["ok"],
            complete=report["complete"],
            counts=report["counts"],
            checks=report["checks"],
            problems=report["problems"],
            degraded_checks=report["degraded"],
            degraded_agents=report["degraded_agents"],
            # Not `skipped`: Ansible would take the task for a skipped one.
            skipped_checks=report["skipped"],
            notes=report["warnings"],
            text=text,
            files=files,
            written=written,
            report=report,
        )
        if report["problems"]:
            result["msg"] = "Verification %s\n%s" % (
                verdict(report), "\n".join("- " + shown(line) for line in report["problems"]))
            result["failed"] = bool(args["fail_on_problems"])
        elif report["degraded"]:
            result["msg"] = "Verification %s\n%s" % (
                verdict(report), "\n".join("- " + shown(line) for line in report["degraded"]))
        else:
            result["msg"] = "Verification %s" % verdict(report)
        return result
