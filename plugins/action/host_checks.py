# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of host_checks: each check's options from the host's plan.

Given ``plan`` (the host's plan from ``stack_plan``), ``phases`` (the tags of
the checks this run selects) and ``settings`` (``verify_checks.SETTINGS_SPEC``),
the plugin makes each check's options with its ``VerifyCheck.options`` and
runs the module with the checks that have something to check; with none, the
task is skipped and no call reaches the host.  Each check's result is then its
own, or, when the module returned none at all (it could not run), the call's
failure for each check it was given (``verify_checks.check_results``), so
the report names the check.  ``reads_wsl`` says whether a check ran whose
report reads whether the host is a WSL2 host.

Without ``plan`` the task's options are the module's own and pass unchanged.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.ai_system.containers.plugins.module_utils.verify.verify_checks import (
    SETTINGS_SPEC, VERIFY_CHECKS, check_options, check_results,
)
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain

MODULE = "ai_system.containers.host_checks"
PLAN_SPEC = {
    "plan": {"type": "dict", "required": True},
    "phases": {"type": "list", "elements": "str", "required": True},
    "settings": {"type": "dict", "default": {}, "options": SETTINGS_SPEC},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if "plan" not in args:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result
        others = sorted(set(args) - set(PLAN_SPEC))
        if others:
            result.update(failed=True, changed=False,
                          msg="host_checks: give either plan (with phases and settings) or the checks' own "
                              "options, not both: %s" % ", ".join(others))
            return result
        validation = ArgumentSpecValidator(PLAN_SPEC).validate(plain(args))
        if validation.error_messages:
            result.update(failed=True, changed=False,
                          msg="host_checks: %s" % "; ".join(validation.error_messages))
            return result
        params = validation.validated_parameters
        given = check_options(params["plan"], params["phases"], params["settings"])
        wanted = dict((name, options) for name, options in given.items() if options is not None)
        if wanted:
            module_result = self._execute_module(module_name=MODULE, module_args=wanted, task_vars=task_vars)
        else:
            module_result = {"skipped": True, "changed": False,
                             "skip_reason": "no check of this run has anything to check on this host"}
        result.update(module_result)
        result.update(check_results(given, module_result))
        result["reads_wsl"] = any(check.reads_wsl for check in VERIFY_CHECKS if check.name in wanted)
        return result
