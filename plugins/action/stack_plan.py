# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side plan of the whole stack (see the stack_plan module docs)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    NAME_ONLY_VARS, PLAN_VARS)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain


def collect_hostvars(hostvars, names):
    """The plan's view of each host: the variables the model reads
    (stack_model.PLAN_VARS), and only the *names* of its secrets (values are
    never read here, so vaulted values need no password for planning and
    cannot leak into the plan)."""
    collected = {}
    for name in names:
        host = hostvars[name]
        data = {}
        for var in PLAN_VARS:
            if var not in NAME_ONLY_VARS and var in host:
                data[var] = plain(host[var])
        raw = hostvars.raw_get(name) if hasattr(hostvars, "raw_get") else host
        for var in NAME_ONLY_VARS:
            value = raw.get(var) if hasattr(raw, "get") else None
            if isinstance(value, str) and "{{" in value:
                # One templated (e.g. vaulted) dict: its keys need its value.
                value = host[var]
            if isinstance(value, Mapping):
                data[var] = {str(k): None for k in value}
            elif value is not None:
                data[var] = value  # reported as malformed by the plan
        collected[name] = data
    return collected


DEFAULT_GROUP = "ai_hosts"


def no_hosts_message(group, groups):
    """Why a plan has no host: the group looked for and the groups there are
    (the same words as the playbooks' first play)."""
    others = sorted(g for g, members in groups.items() if g != "all" and members)
    return ("No hosts in inventory group '%s' (ai_hosts_group): the inventory's groups with "
            "hosts are %s. Put the AI hosts in group '%s', or name their group with "
            "-e ai_hosts_group=<group>." % (group, ", ".join(others) or "(none)", group))


def planned_hostvars(task_vars, args, who, group=None):
    """(the plan's view of each AI host, None) or (None, why not): the hosts
    of ``args`` (``hosts``, else every host of ``inventory_group``, else of
    ``group``, the play's ai_hosts_group)."""
    names = args["hosts"]
    if not names:
        group = args["inventory_group"] or group or DEFAULT_GROUP
        groups = task_vars.get("groups", {})
        names = list(groups.get(group, []))
        if not names:
            return None, no_hosts_message(group, groups)
    hostvars = task_vars.get("hostvars")
    if hostvars is None:
        raise AnsibleError("%s needs hostvars" % who)
    missing = [n for n in names if n not in hostvars]
    if missing:
        return None, "Unknown hosts: %s" % ", ".join(missing)
    return collect_hostvars(hostvars, names), None


def hosts_group(templar, task_vars):
    """The ai_hosts_group variable, templated, or None."""
    value = task_vars.get("ai_hosts_group")
    if value is None:
        return None
    return str(templar.template(value)) or None


HOSTS_SPEC = {
    "hosts": {"type": "list", "elements": "str"},
    "inventory_group": {"type": "str"},
}


class PlannedHostsAction(ActionBase):
    """An action on the plan's view of the AI hosts (``hosts`` or
    ``inventory_group``, else the play's ai_hosts_group), on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False
    EXTRA_SPEC = {}  # the action's own options, besides hosts and inventory_group

    def planned(self, result, task_vars, who):
        """(args, the plan's view of each host), or (args, None) with
        ``result`` failed, saying why there is no host to plan."""
        dummy, args = self.validate_argument_spec(argument_spec=dict(HOSTS_SPEC, **self.EXTRA_SPEC))
        collected, why_not = planned_hostvars(task_vars, args, who,
                                              hosts_group(self._templar, task_vars))
        if why_not:
            result.update(failed=True, msg=why_not)
        return args, collected


class ActionModule(PlannedHostsAction):
    _VALID_ARGS = frozenset(HOSTS_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, collected = self.planned(result, task_vars or {}, "stack_plan")
        if collected is None:
            return result

        plan = build_plan(collected)
        result.update(
            changed=False,
            plan=plan["hosts"],
            errors=plan["errors"],
            problems=plan["problems"],
            warnings=plan["warnings"],
        )
        if not plan["ok"]:
            result["failed"] = True
            result["msg"] = "The inventory has %d problem(s); no host was changed:\n%s" % (
                len(plan["errors"]), "\n".join("- " + e for e in plan["errors"]))
        else:
            result["msg"] = "Planned %d hosts: %s" % (
                len(plan["hosts"]), ", ".join(
                    "%s (%d groups)" % (h, len(p["units"])) for h, p in plan["hosts"].items()))
        return result
