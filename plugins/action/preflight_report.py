# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side preflight report (see the preflight_report module docs)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.ai_system.containers.plugins.module_utils.report.preflight_report import (
    preflight_document, report_paths, result_problem, write_preflight,
)
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain

ARGUMENT_SPEC = {
    "results": {"type": "dict", "required": True},
    "hosts": {"type": "list", "elements": "str", "required": True},
    "dest": {"type": "path", "default": "reports"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        results = plain(args["results"])
        problems = [p for p in (result_problem(h, results.get(h)) for h in args["hosts"]) if p]
        if problems:
            result.update(failed=True, changed=False, msg="; ".join(problems))
            return result
        document, markdown = preflight_document(results, args["hosts"])
        if self._task.check_mode:
            files, written = report_paths(args["dest"]), False
        else:
            try:
                files, written = write_preflight(args["dest"], document, markdown), True
            except OSError as exc:
                result.update(failed=True, changed=False,
                              msg="Cannot write the preflight report under %s: %s" % (args["dest"], exc))
                return result
        # The controller's report, like verify's: not a change to any host.
        result.update(changed=False, ready=document["ready"], files=files, written=written)
        return result
