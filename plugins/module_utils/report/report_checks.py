# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification report: :func:`build_report` judges every host's results.

Pure Python, no Ansible imports.  The report's checks are the report classes
of ``verify_checks`` (:data:`~verify_checks.REPORT_CHECKS`), in the order the
report lists them: ``gpu``, ``cuda``, ``units``, ``links``, ``health``,
``firewall`` and ``monitoring``.  Each is a judge (``report_judging``,
``report_zmq_judging``: a host's module result and plan become items) and a
view (``report_views``: how an item is named, its columns, its details and
its edges); :func:`build_report` and the renderers (``report_render``) only
iterate them.

Every check ends ``passed``, ``degraded``, ``failed`` or ``skipped`` (with the
reason); a skipped check is never counted as passed.  ``degraded`` is a link or
health socket whose agent answered but said it is degraded: it is listed and
counted apart, and fails the report only with ``fail_on_degraded``.  Checks
that share one root cause (:class:`~report_model.Cause`) share one line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.report.report_judging import HostInput
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import (
    DEGRADED, FAILED, HOST, NOT_CHECKED, NOT_VERIFIED, PASSED, PHASE, SKIPPED, STATUSES, Cause, Item, counts,
    utc_stamp, worst,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_views import ReportCheck
from ansible_collections.ai_system.containers.plugins.module_utils.verify.verify_checks import REPORT_CHECKS

FORMAT_VERSION = 1


def checks_or_default(checks: Optional[Sequence[ReportCheck]] = None) -> Tuple[ReportCheck, ...]:
    """``checks``, or every report check of ``verify_checks``."""
    return tuple(checks) if checks is not None else REPORT_CHECKS


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------

def _cause_line(cause: Cause, items: Sequence[Item], by_name: Mapping[str, ReportCheck]) -> str:
    """One line for every check that shares one root cause."""
    per_check: Dict[str, int] = {}
    for item in items:
        per_check[item["check"]] = per_check.get(item["check"], 0) + 1
    scope = ", ".join("%d %s%s" % (n, by_name[c].noun, "" if n == 1 else "s") for c, n in per_check.items())
    if cause.kind == HOST:
        return "%s: not verified: %s (%s)" % (cause.host, NOT_VERIFIED, scope)
    if cause.kind == PHASE:
        return "%s: %s: %s (%s)" % (cause.host, by_name[str(cause.check)].title, NOT_CHECKED, scope)
    return "%s: %s (%s)" % (cause.host, items[0]["reason"], scope)


def _lines(host: str, items: Sequence[Item], status: str, by_name: Mapping[str, ReportCheck]) -> List[str]:
    """Problem (or skip, or degraded) lines: one per check, or one per shared
    cause such as a container in which the ZMQ checks could not run."""
    order: List[Any] = []
    causes: Dict[Cause, List[Item]] = {}
    for item in items:
        if item["status"] != status:
            continue
        check = by_name[item["check"]]
        cause = item.get("cause")
        if cause:
            if cause not in causes:
                causes[cause] = []
                order.append(cause)
            causes[cause].append(item)
        elif status == FAILED:
            order.append(check.problem(host, item))
        else:
            order.append("%s: %s: %s" % (check.describe(host, item), status.upper(), item["reason"]))
    return [_cause_line(entry, causes[entry], by_name) if isinstance(entry, Cause) else entry
            for entry in order]


def _groups(plan: Mapping[str, Any], checks: Sequence[ReportCheck],
            items: Mapping[str, List[Item]]) -> Dict[str, Dict[str, Any]]:
    """A summary per group of the plan: its unit, and what every check adds."""
    groups: Dict[str, Dict[str, Any]] = {}
    for unit in plan.get("units") or []:
        group: Dict[str, Any] = {"service": unit.get("service"), "container": unit.get("container"),
                                 "gpu": bool(unit.get("gpu")), "agents": len(unit.get("agents") or [])}
        own: List[Item] = []
        for check in checks:
            mine = check.group_items(items[check.name], unit)
            own.extend(mine)
            group.update(check.group_fields(mine))
        group["status"] = worst(i["status"] for i in own)
        groups[unit["group"]] = group
    return groups


def _host_report(host: HostInput, checks: Sequence[ReportCheck]) -> Dict[str, Any]:
    by_name = {check.name: check for check in checks}
    items = {check.name: check.judge(host, host.result(check.result_key)) for check in checks}
    everything = [i for check in checks for i in items[check.name]]
    if not host.verified:
        for item in everything:
            item.update(status=FAILED, reason=NOT_VERIFIED, cause=Cause(HOST, host.name))
    degraded_agents = sorted({by_name[i["check"]].degraded_agent(host.name, i)
                              for i in everything if i["status"] == DEGRADED})
    report: Dict[str, Any] = {
        "host": host.name,
        "lan_address": host.plan.get("lan_address"),
        "verified": host.verified,
        "lab": host.lab,
        "status": worst(i["status"] for i in everything) if everything else PASSED,
        "counts": counts(everything),
        "checks": {check.name: counts(items[check.name]) for check in checks},
        "groups": _groups(host.plan, checks, items),
        "problems": _lines(host.name, everything, FAILED, by_name),
        "degraded": _lines(host.name, everything, DEGRADED, by_name),
        "degraded_agents": degraded_agents,
        "skipped": _lines(host.name, everything, SKIPPED, by_name),
        "warnings": [line for check in checks for line in check.notes(host.name, items[check.name])],
    }
    for item in everything:
        if item["cause"] is not None:
            item["cause"] = item["cause"].as_dict()
    for check in checks:
        mine = items[check.name]
        report[check.name] = (mine[0] if mine else None) if check.single else mine
    return report


def _topology(plan_hosts: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Every planned host's groups, so the diagram shows hosts that were not verified too."""
    return {name: {"lan_address": plan.get("lan_address"),
                   "groups": [u["group"] for u in plan.get("units") or []]}
            for name, plan in sorted(plan_hosts.items())}


def build_report(plan_hosts: Mapping[str, Mapping[str, Any]], results: Mapping[str, Any],
                 hosts: Optional[Sequence[str]] = None, now: Optional[datetime] = None,
                 fail_on_skip: bool = False, fail_on_degraded: bool = False,
                 checks: Optional[Sequence[ReportCheck]] = None) -> Dict[str, Any]:
    """Judge every host's results against its plan.

    ``plan_hosts``: host name -> that host's plan (``stack_plan``'s ``plan``).
    ``results``: host name -> ``{"lab": bool, "gpu": gpu_facts result,
    "cuda": cuda_check result, "units": unit_health result, "zmq": {container:
    zmq_check result} or the registered loop over ``checks.zmq``}`` (one
    key per check's ``result_key``); a phase that is missing, ``None`` or
    skipped was not checked in this run.
    ``hosts``: the hosts that were to be verified (default: every planned
    host); one of them without results was not verified, which is a problem.
    With ``fail_on_skip``, skipped checks count as problems too; with
    ``fail_on_degraded``, so do degraded links and health sockets (by
    default they are listed under ``degraded`` and the report stays ok).
    ``checks``: the report classes (default ``verify_checks.REPORT_CHECKS``).
    """
    checks = checks_or_default(checks)
    wanted = list(hosts) if hosts is not None else sorted(plan_hosts)
    problems: List[str] = []
    degraded: List[str] = []
    degraded_agents: List[str] = []
    skipped: List[str] = []
    warnings: List[str] = []
    host_reports: Dict[str, Any] = {}
    for name in wanted:
        if name not in plan_hosts:
            problems.append("%s: not in the plan (not an AI host of the inventory)" % name)
            continue
        host_results = results.get(name)
        report = _host_report(HostInput(name, plan_hosts[name],
                                        host_results if isinstance(host_results, Mapping) else None,
                                        results), checks)
        host_reports[name] = report
        problems.extend(report["problems"])
        degraded.extend(report["degraded"])
        degraded_agents.extend(a for a in report["degraded_agents"] if a not in degraded_agents)
        skipped.extend(report["skipped"])
        warnings.extend(report["warnings"])
    for name in sorted(plan_hosts):
        if name not in wanted:
            skipped.append("%s: not part of this run" % name)
    per_check = {check.name: {s: sum(h["checks"][check.name][s] for h in host_reports.values())
                              for s in STATUSES} for check in checks}
    if fail_on_degraded:
        problems.extend("%s (degraded agents count as problems)" % line for line in degraded)
    if fail_on_skip:
        problems.extend("%s (skipped checks count as problems)" % line for line in skipped)
    return {
        "format": FORMAT_VERSION,
        "generated_at": utc_stamp(now),
        "ok": not problems,
        "complete": not skipped,
        "fail_on_skip": bool(fail_on_skip),
        "fail_on_degraded": bool(fail_on_degraded),
        "counts": {s: sum(per_check[c][s] for c in per_check) for s in STATUSES},
        "checks": per_check,
        "problems": problems,
        "degraded": degraded,
        "degraded_agents": sorted(degraded_agents),
        "skipped": skipped,
        "warnings": warnings,
        "hosts": host_reports,
        "topology": _topology(plan_hosts),
    }
