# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification report: every host's check results in, one verdict out.

Pure Python, no Ansible imports.  :func:`build_report` judges what the verify
playbook gathered on each host against the host's plan (``stack_plan``):

* ``gpu``    ``gpu_facts``: a usable driver, the planned GPU model, VRAM budgets;
* ``cuda``   ``cuda_check``: a CUDA kernel ran inside every GPU container;
* ``units``  ``unit_health``: every group's unit active, its container running
  and healthy;
* ``links``  ``zmq_check`` from inside each consuming container: every agent a
  group ``connects_to`` answers;
* ``health`` ``zmq_check`` inside each container: every agent's health socket
  answers healthy.

Every check ends ``passed``, ``degraded``, ``failed`` or ``skipped`` (with the
reason); a skipped check is never counted as passed.  ``degraded`` is a link or
health socket whose agent answered but said it is degraded (``zmq_check``'s
verdict ``degraded``): it is listed and counted apart, and fails the report
only with ``fail_on_degraded``.  A link that is not strict passes on any
well-formed reply (verdict ``reachable``), with the agent's words shown.
:func:`render_markdown` and :func:`render_text` present the report;
:func:`write_report` stores it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.unit_state import judge_unit

FORMAT_VERSION = 1
PASSED, DEGRADED, FAILED, SKIPPED = "passed", "degraded", "failed", "skipped"
STATUSES = (PASSED, DEGRADED, FAILED, SKIPPED)
# zmq_check's verdicts (besides "healthy" and "failing") that the report reads.
VERDICT_DEGRADED, VERDICT_REACHABLE = "degraded", "reachable"
# How many degraded agents the one-line verdict names before "+N more".
VERDICT_NAMES = 5
CHECKS = ("gpu", "cuda", "units", "links", "health")
CHECK_TITLES = {"gpu": "GPU", "cuda": "CUDA", "units": "units", "links": "links",
                "health": "health sockets"}
CHECK_NOUNS = {"gpu": "GPU check", "cuda": "CUDA check", "units": "unit", "links": "link",
               "health": "health socket"}
# The stage a link is given when the checks could not run in its container.
CONTAINER_STAGE = "container"
NOT_CHECKED = "not checked in this run"
NOT_VERIFIED = "no results: unreachable, or failed before its checks ran"

Item = Dict[str, Any]


# --------------------------------------------------------------------------
# Reading the gathered results
# --------------------------------------------------------------------------

def _first_line(text: Any) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def _error_text(result: Mapping[str, Any]) -> str:
    """Why a task produced no data: its msg, and the module's last stderr line."""
    text = _first_line(result.get("msg")) or "no result"
    stderr = [line.strip() for line in str(result.get("module_stderr") or "").splitlines()
              if line.strip()]
    if stderr:
        text += " (%s)" % stderr[-1]
    return text


def _phase(host_results: Optional[Mapping[str, Any]], key: str) -> Optional[Mapping[str, Any]]:
    """A phase's registered result, or None when the phase did not run."""
    if not host_results:
        return None
    value = host_results.get(key)
    if not isinstance(value, Mapping):
        return None
    # Ansible's own flag (a task skipped by `when`, or a loop whose every item
    # was), not a module's count such as cuda_check's `skipped: 1`.
    if value.get("skipped") is True:
        return None
    return value


def _zmq_by_container(value: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Mapping[str, Any]]]:
    """container -> zmq_check result, from either such a mapping or the
    registered result of a loop over ``zmq_endpoints`` (``results[].item.container``)."""
    if value is None:
        return None
    if isinstance(value.get("results"), list):
        out: Dict[str, Mapping[str, Any]] = {}
        for entry in value["results"]:
            if not isinstance(entry, Mapping) or entry.get("skipped") is True:
                continue
            item = entry.get("item")
            container = item.get("container") if isinstance(item, Mapping) else None
            container = container or entry.get("container")
            if container:
                out[str(container)] = entry
        return out
    return {str(k): v for k, v in value.items() if isinstance(v, Mapping)}


def _endpoint_key(entry: Mapping[str, Any]) -> Tuple[str, str, int, str]:
    return (str(entry.get("name") or ""), str(entry.get("address") or ""),
            int(entry.get("port") or 0), str(entry.get("kind") or "main"))


def _rtt_text(rtt: Optional[Mapping[str, Any]]) -> str:
    if not rtt or rtt.get("median") is None:
        return ""
    return "%.2f ms" % float(rtt["median"])


# --------------------------------------------------------------------------
# Judging each kind of check
# --------------------------------------------------------------------------

def _gpu_item(plan: Mapping[str, Any], phase: Optional[Mapping[str, Any]], lab: bool) -> Optional[Item]:
    gpu_plan = plan.get("gpu") or {}
    if not gpu_plan.get("required") and not gpu_plan.get("model"):
        return None
    item: Item = {
        "check": "gpu", "expected_model": gpu_plan.get("model"),
        "expected_memory_mib": gpu_plan.get("memory_mib"), "required": bool(gpu_plan.get("required")),
        "available": None, "driver_version": None, "cuda_driver_version": None, "gpus": [],
        "vram": None, "status": SKIPPED, "reason": NOT_CHECKED, "cause": "phase:gpu",
    }
    if phase is None:
        return item
    item["cause"] = None
    if "available" not in phase:
        item.update(status=FAILED, reason="gpu_facts did not run: %s" % _error_text(phase))
        return item
    gpus = [{k: g.get(k) for k in ("index", "name", "uuid", "memory_total_mib", "memory_used_mib",
                                   "memory_free_mib", "compute_capability")}
            for g in phase.get("gpus") or [] if isinstance(g, Mapping)]
    item.update(available=bool(phase.get("available")), driver_version=phase.get("driver_version"),
                cuda_driver_version=phase.get("cuda_driver_version"), gpus=gpus,
                vram=phase.get("vram_check"))
    if not phase.get("available"):
        why = phase.get("reason") or "no usable NVIDIA driver"
        if lab:
            item.update(status=SKIPPED, reason="lab host: %s" % why)
        else:
            item.update(status=FAILED, reason=why)
        return item
    problems = []
    expected = item["expected_model"]
    names = [str(g.get("name") or "") for g in gpus]
    if expected and not any(n.strip().lower() == str(expected).strip().lower() for n in names):
        problems.append("expected %s, found %s" % (expected, ", ".join(names) or "no GPU"))
    vram = phase.get("vram_check") or {}
    if vram.get("checked") and vram.get("ok") is False:
        problems.append("VRAM budgets need %s MiB (budgets %s + reserve %s), GPU %s has %s MiB" % (
            vram.get("required_mib"), vram.get("budget_sum_mib"), vram.get("reserve_mib"),
            vram.get("gpu_index"), vram.get("gpu_total_mib")))
    if problems:
        item.update(status=FAILED, reason="; ".join(problems))
        return item
    first = gpus[0] if gpus else {}
    text = ", ".join(names) or "GPU"
    if item["driver_version"]:
        text += ", driver %s" % item["driver_version"]
    if item["cuda_driver_version"]:
        text += ", CUDA %s" % item["cuda_driver_version"]
    if first.get("memory_total_mib") is not None:
        text += ", %s/%s MiB used" % (first.get("memory_used_mib"), first.get("memory_total_mib"))
    item.update(status=PASSED, reason=text)
    return item


def _cuda_items(plan: Mapping[str, Any], phase: Optional[Mapping[str, Any]]) -> List[Item]:
    containers = list((plan.get("checks") or {}).get("cuda") or [])
    items: List[Item] = []
    ran = phase is not None and isinstance(phase.get("results"), list) \
        and bool(phase["results"] or not containers)
    by_name = {}
    if ran:
        by_name = {str(r.get("container")): r for r in phase["results"] if isinstance(r, Mapping)}
    for container in containers:
        item: Item = {"check": "cuda", "container": container, "group": container,
                      "status": SKIPPED, "reason": NOT_CHECKED, "cause": "phase:cuda",
                      "failed_step": None, "error": None, "gpus": [], "driver_version": None,
                      "lab": None}
        items.append(item)
        if phase is None:
            continue
        if not ran:
            item.update(status=FAILED, reason="cuda_check did not run: %s" % _error_text(phase),
                        cause="run:cuda")
            continue
        item["cause"] = None
        entry = by_name.get(container)
        if entry is None:
            item.update(status=FAILED, reason="cuda_check returned no result for this container")
            continue
        status = entry.get("status")
        item.update(failed_step=entry.get("failed_step"), error=entry.get("error"),
                    gpus=[g.get("name") for g in entry.get("gpus") or [] if isinstance(g, Mapping)],
                    driver_version=entry.get("driver_version"), lab=entry.get("lab"))
        reason = entry.get("reason")
        kernel = entry.get("kernel_result")
        if status == PASSED and isinstance(kernel, Mapping) and kernel.get("ok") is False:
            item.update(status=FAILED, reason="reported passed, but the kernel result was not verified")
        elif status == PASSED:
            item.update(status=PASSED, reason=reason or "CUDA kernel verified")
        elif status == SKIPPED:
            item.update(status=SKIPPED, reason=reason or "skipped by cuda_check")
        elif status == FAILED:
            text = reason or "failed"
            if entry.get("failed_step"):
                text = "failed at %s" % entry["failed_step"]
                if entry.get("error"):
                    text += ": %s" % entry["error"]
            item.update(status=FAILED, reason=text)
        else:
            item.update(status=FAILED, reason="cuda_check reported an unknown status %r" % (status,))
    return items


def _unit_items(plan: Mapping[str, Any], phase: Optional[Mapping[str, Any]]) -> Tuple[List[Item], List[str]]:
    items: List[Item] = []
    warnings: List[str] = []
    planned = list(plan.get("units") or [])
    ran = phase is not None and isinstance(phase.get("units"), list) \
        and bool(phase["units"] or not planned)
    by_service = {}
    if ran:
        by_service = {str(u.get("service")): u for u in phase["units"] if isinstance(u, Mapping)}
    for unit in planned:
        item: Item = {"check": "units", "group": unit["group"], "service": unit["service"],
                      "container": unit.get("container"), "healthcheck": bool(unit.get("healthcheck")),
                      "status": SKIPPED, "reason": NOT_CHECKED, "cause": "phase:units",
                      "active_state": None, "sub_state": None, "health": None, "restarts": None,
                      "active_since": None, "uptime_s": None, "container_state": None,
                      "container_started_at": None}
        items.append(item)
        if phase is None:
            continue
        if not ran:
            item.update(status=FAILED, reason="unit_health did not run: %s" % _error_text(phase),
                        cause="run:units")
            continue
        item["cause"] = None
        state = by_service.get(unit["service"])
        if state is None:
            item.update(status=FAILED, reason="unit_health returned no result for this unit")
            continue
        for key in ("active_state", "sub_state", "health", "restarts", "active_since", "uptime_s",
                    "container_state", "container_started_at"):
            item[key] = state.get(key)
        ok, problem = judge_unit(dict(state, container=state.get("container") or unit.get("container")),
                                 expect_health=bool(unit.get("healthcheck")))
        item.update(status=PASSED if ok else FAILED, reason=problem or "active, %s" % (
            state.get("health") or "no health check"))
        if state.get("restarts"):
            warnings.append("unit %s was restarted %d times by systemd"
                            % (unit["service"], state["restarts"]))
    return items, warnings


def _zmq_item(base: Item, phase: Optional[Mapping[str, Any]],
              by_container: Optional[Dict[str, Mapping[str, Any]]], entry: Mapping[str, Any]) -> Item:
    item = dict(base, status=SKIPPED, reason=NOT_CHECKED, cause="phase:links", failed_stage=None,
                detail=None, rtt_ms=None, reply_status=None, verdict=None, message=None)
    if phase is None or by_container is None:
        return item
    container = str(entry.get("container"))
    result = by_container.get(container)
    if result is None:
        item.update(status=FAILED, failed_stage=CONTAINER_STAGE, cause=None,
                    reason="no ZMQ check ran in container %s" % container)
        return item
    if not isinstance(result.get("endpoints"), list):
        why = _error_text(result)
        if container not in why:
            why = "ZMQ checks could not run in container %s: %s" % (container, why)
        item.update(status=FAILED, failed_stage=CONTAINER_STAGE, cause="zmq:%s" % container, reason=why)
        return item
    item["cause"] = None
    wanted = _endpoint_key(entry)
    found = next((e for e in result["endpoints"]
                  if isinstance(e, Mapping) and _endpoint_key(e) == wanted), None)
    if found is None:
        item.update(status=FAILED, failed_stage=CONTAINER_STAGE,
                    reason="zmq_check returned no result for this endpoint")
        return item
    reply = found.get("reply")
    message = found.get("message")
    item.update(rtt_ms=found.get("rtt_ms"),
                reply_status=reply.get("status") if isinstance(reply, Mapping) else None,
                verdict=found.get("verdict"), message=None if message in (None, "") else str(message))
    message = item["message"]
    rtt = _rtt_text(found.get("rtt_ms")) or "n/a"
    if found.get("ok"):
        if entry.get("kind") == "greeting":
            zmtp = found.get("zmtp") or {}
            item.update(status=PASSED,
                        reason="ZMQ greeting from a %s socket" % (zmtp.get("socket_type") or "ZMQ"))
        elif item["verdict"] == VERDICT_DEGRADED:
            # Alive and serving, but the agent says it is degraded.
            text = "status %s" % (item["reply_status"] or VERDICT_DEGRADED)
            item.update(status=DEGRADED, reason="%s: %s" % (text, message) if message else text)
        elif item["verdict"] == VERDICT_REACHABLE:
            # A link that is not strict: any well-formed reply proves it.
            text = "reachable, rtt median %s" % rtt
            item.update(status=PASSED, reason="%s, replied: %s" % (text, message) if message else text)
        else:
            item.update(status=PASSED, reason="status %s, rtt median %s" % (item["reply_status"] or "ok", rtt))
        return item
    reason = str(found.get("reason") or "failed")
    if message and message not in reason:
        reason += "; replied: %s" % message
    item.update(status=FAILED, failed_stage=found.get("failed_stage") or "unknown",
                reason=reason, detail=found.get("detail"))
    return item


def _link_items(plan: Mapping[str, Any], phase: Optional[Mapping[str, Any]]) -> Tuple[List[Item], List[Item]]:
    by_container = _zmq_by_container(phase)
    checks = plan.get("checks") or {}
    links = []
    for entry in checks.get("links") or []:
        base = {"check": "links", "from_group": entry.get("from_group"),
                "container": entry.get("container"), "name": entry.get("name"),
                "to_host": entry.get("to_host"), "to_group": entry.get("to_group"),
                "address": entry.get("address"), "port": entry.get("port"),
                "kind": entry.get("kind", "main"), "cross_host": bool(entry.get("cross_host"))}
        links.append(_zmq_item(base, phase, by_container, entry))
    health = []
    for entry in checks.get("health") or []:
        base = {"check": "health", "group": entry.get("group"), "container": entry.get("container"),
                "name": entry.get("name"), "address": entry.get("address"), "port": entry.get("port"),
                "kind": entry.get("kind", "health")}
        item = _zmq_item(base, phase, by_container, entry)
        if item.get("cause") == "phase:links":
            item["cause"] = "phase:health"
        health.append(item)
    return links, health


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------

def _counts(items: Iterable[Item]) -> Dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for item in items:
        counts[item["status"]] += 1
    return counts


def _worst(statuses: Iterable[str]) -> str:
    """Failed, else degraded (an answer that needs a look), else skipped, else passed."""
    seen = set(statuses)
    for status in (FAILED, DEGRADED, SKIPPED):
        if status in seen:
            return status
    return PASSED if seen else SKIPPED


def describe(host: str, item: Item) -> str:
    """One line naming a check: host, kind of check and what it is about."""
    check = item["check"]
    if check == "gpu":
        return "%s: GPU" % host
    if check == "cuda":
        return "%s: CUDA in %s" % (host, item["container"])
    if check == "units":
        return "%s: unit %s" % (host, item["service"])
    where = "%s:%s (%s)" % (item["address"], item["port"], item["kind"])
    if check == "links":
        return "%s: link %s -> %s/%s %s %s" % (host, item["from_group"], item["to_host"],
                                               item["to_group"], item["name"], where)
    return "%s: health socket %s/%s %s" % (host, item["group"], item["name"], where)


def _problem_text(host: str, item: Item) -> str:
    if item["check"] in ("links", "health"):
        text = "%s: %s failed: %s" % (describe(host, item), item["failed_stage"], item["reason"])
        if item.get("detail"):
            text += " (%s)" % item["detail"]
        return text
    return "%s: %s" % (describe(host, item), item["reason"])


def _cause_text(host: str, cause: str, items: Sequence[Item]) -> str:
    """One line for every check that shares one root cause."""
    counts: Dict[str, int] = {}
    for item in items:
        counts[item["check"]] = counts.get(item["check"], 0) + 1
    scope = ", ".join("%d %s%s" % (n, CHECK_NOUNS[c], "" if n == 1 else "s") for c, n in counts.items())
    kind, dummy, what = cause.partition(":")
    if kind == "host":
        return "%s: not verified: %s (%s)" % (host, NOT_VERIFIED, scope)
    if kind == "phase":
        return "%s: %s: %s (%s)" % (host, CHECK_TITLES[what], NOT_CHECKED, scope)
    return "%s: %s (%s)" % (host, items[0]["reason"], scope)


def _lines(host: str, items: Sequence[Item], status: str) -> List[str]:
    """Problem (or skip, or degraded) lines: one per check, or one per shared
    cause such as a container in which the ZMQ checks could not run."""
    order: List[Tuple[str, str]] = []
    causes: Dict[str, List[Item]] = {}
    for item in items:
        if item["status"] != status:
            continue
        cause = item.get("cause")
        if cause:
            if cause not in causes:
                causes[cause] = []
                order.append(("cause", cause))
            causes[cause].append(item)
        elif status == FAILED:
            order.append(("line", _problem_text(host, item)))
        else:
            order.append(("line", "%s: %s: %s" % (describe(host, item), status.upper(), item["reason"])))
    return [_cause_text(host, text, causes[text]) if kind == "cause" else text
            for kind, text in order]


def _group_summary(plan: Mapping[str, Any], items: Mapping[str, List[Item]]) -> Dict[str, Dict[str, Any]]:
    groups: Dict[str, Dict[str, Any]] = {}
    for unit in plan.get("units") or []:
        name = unit["group"]
        unit_item = next((i for i in items["units"] if i["group"] == name), None)
        cuda = next((i for i in items["cuda"] if i["container"] == unit.get("container")), None)
        links = [i for i in items["links"] if i["from_group"] == name]
        health = [i for i in items["health"] if i["group"] == name]
        own = [i for i in [unit_item, cuda] if i] + links + health
        groups[name] = {
            "service": unit.get("service"), "container": unit.get("container"),
            "gpu": bool(unit.get("gpu")), "agents": len(unit.get("agents") or []),
            "status": _worst(i["status"] for i in own),
            "unit": unit_item["status"] if unit_item else None,
            "active_state": unit_item.get("active_state") if unit_item else None,
            "sub_state": unit_item.get("sub_state") if unit_item else None,
            "health": unit_item.get("health") if unit_item else None,
            "restarts": unit_item.get("restarts") if unit_item else None,
            "cuda": cuda["status"] if cuda else None,
            "links": _counts(links), "health_sockets": _counts(health),
            # The group's own agents that said they are degraded.
            "degraded_agents": sorted({str(i["name"]) for i in health if i["status"] == DEGRADED}),
        }
    return groups


def _degraded_agents(host: str, items: Iterable[Item]) -> List[str]:
    """``host/agent`` of every agent that said it is degraded, where it runs:
    a health socket's agent is on ``host``, a link's on its ``to_host``."""
    names = set()
    for item in items:
        if item["status"] != DEGRADED:
            continue
        where = item.get("to_host") if item["check"] == "links" else host
        names.add("%s/%s" % (where or host, item.get("name")))
    return sorted(names)


def _host_report(name: str, plan: Mapping[str, Any], host_results: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    verified = isinstance(host_results, Mapping)
    lab = bool(host_results.get("lab")) if verified else False
    gpu = _gpu_item(plan, _phase(host_results, "gpu"), lab)
    cuda = _cuda_items(plan, _phase(host_results, "cuda"))
    units, warnings = _unit_items(plan, _phase(host_results, "units"))
    links, health = _link_items(plan, _phase(host_results, "zmq"))
    items = {"gpu": [gpu] if gpu else [], "cuda": cuda, "units": units, "links": links,
             "health": health}
    everything = [i for check in CHECKS for i in items[check]]
    if not verified:
        for item in everything:
            item.update(status=FAILED, reason=NOT_VERIFIED, cause="host:%s" % name)
            if item["check"] in ("links", "health"):
                item["failed_stage"] = None
    return {
        "host": name,
        "lan_address": plan.get("lan_address"),
        "verified": verified,
        "lab": lab,
        "status": _worst(i["status"] for i in everything) if everything else PASSED,
        "counts": _counts(everything),
        "checks": {check: _counts(items[check]) for check in CHECKS},
        "gpu": gpu,
        "cuda": cuda,
        "units": units,
        "links": links,
        "health": health,
        "groups": _group_summary(plan, items),
        "problems": _lines(name, everything, FAILED),
        "degraded": _lines(name, everything, DEGRADED),
        "degraded_agents": _degraded_agents(name, everything),
        "skipped": _lines(name, everything, SKIPPED),
        "warnings": ["%s: %s" % (name, w) for w in warnings],
    }


def _timestamp(now: Optional[datetime]) -> datetime:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).replace(microsecond=0)


def build_report(plan_hosts: Mapping[str, Mapping[str, Any]], results: Mapping[str, Any],
                 hosts: Optional[Sequence[str]] = None, now: Optional[datetime] = None,
                 fail_on_skip: bool = False, fail_on_degraded: bool = False) -> Dict[str, Any]:
    """Judge every host's results against its plan.

    ``plan_hosts``: host name -> that host's plan (``stack_plan``'s ``plan``).
    ``results``: host name -> ``{"lab": bool, "gpu": gpu_facts result,
    "cuda": cuda_check result, "units": unit_health result, "zmq": {container:
    zmq_check result} or the registered loop over ``zmq_endpoints``}``; a phase
    that is missing, ``None`` or skipped was not checked in this run.
    ``hosts``: the hosts that were to be verified (default: every planned
    host); one of them without results was not verified, which is a problem.
    With ``fail_on_skip``, skipped checks count as problems too; with
    ``fail_on_degraded``, so do degraded links and health sockets (by
    default they are listed under ``degraded`` and the report stays ok).
    """
    stamp = _timestamp(now)
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
        report = _host_report(name, plan_hosts[name], results.get(name))
        host_reports[name] = report
        problems.extend(report["problems"])
        degraded.extend(report["degraded"])
        degraded_agents.extend(a for a in report["degraded_agents"] if a not in degraded_agents)
        skipped.extend(report["skipped"])
        warnings.extend(report["warnings"])
    for name in sorted(plan_hosts):
        if name not in wanted:
            skipped.append("%s: not part of this run" % name)
    checks = {check: {s: sum(h["checks"][check][s] for h in host_reports.values()) for s in STATUSES}
              for check in CHECKS}
    counts = {s: sum(checks[c][s] for c in CHECKS) for s in STATUSES}
    if fail_on_degraded:
        problems.extend("%s (degraded agents count as problems)" % line for line in degraded)
    if fail_on_skip:
        problems.extend("%s (skipped checks count as problems)" % line for line in skipped)
    return {
        "format": FORMAT_VERSION,
        "generated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ok": not problems,
        "complete": not skipped,
        "fail_on_skip": bool(fail_on_skip),
        "fail_on_degraded": bool(fail_on_degraded),
        "counts": counts,
        "checks": checks,
        "problems": problems,
        "degraded": degraded,
        "degraded_agents": sorted(degraded_agents),
        "skipped": skipped,
        "warnings": warnings,
        "hosts": host_reports,
        "topology": _topology(plan_hosts),
    }


def _topology(plan_hosts: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Every planned host's groups, so the diagram shows hosts that were not verified too."""
    return {name: {"lan_address": plan.get("lan_address"),
                   "groups": [u["group"] for u in plan.get("units") or []]}
            for name, plan in sorted(plan_hosts.items())}


def _verdict_word(report: Mapping[str, Any]) -> str:
    """``PASSED``, ``FAILED``, or ``PASSED with`` degraded agents and/or skipped checks."""
    if not report["ok"]:
        return "FAILED"
    notes = []
    if report["counts"].get(DEGRADED):
        notes.append("degraded agents")
    if not report["complete"]:
        notes.append("skipped checks")
    return "PASSED with %s" % " and ".join(notes) if notes else "PASSED"


def verdict(report: Mapping[str, Any]) -> str:
    """One line: the overall result and the counts, naming the degraded agents."""
    counts = report["counts"]
    text = "%s: %d passed" % (_verdict_word(report), counts[PASSED])
    if counts.get(DEGRADED):
        names = list(report.get("degraded_agents") or [])
        shown = ", ".join(names[:VERDICT_NAMES])
        if len(names) > VERDICT_NAMES:
            shown += ", +%d more" % (len(names) - VERDICT_NAMES)
        text += ", %d degraded" % counts[DEGRADED] + (" (%s)" % shown if shown else "")
    return text + ", %d failed, %d skipped" % (counts[FAILED], counts[SKIPPED])


# --------------------------------------------------------------------------
# Text for the terminal
# --------------------------------------------------------------------------

def _ratio(counts: Mapping[str, int]) -> str:
    """Passed out of all, and how many of the rest are degraded."""
    total = sum(counts.values())
    if not total:
        return "-"
    text = "%d/%d" % (counts[PASSED], total)
    if counts[SKIPPED] == total:
        return "skipped"
    if counts.get(DEGRADED):
        text += ", %d degraded" % counts[DEGRADED]
    return text


def _answer_text(item: Mapping[str, Any]) -> str:
    """What a link or health socket answered, for passed and degraded ones:
    the round trip, and the agent's words when it was degraded or replied
    something else than a health answer (a ``reachable`` link)."""
    text = _rtt_text(item.get("rtt_ms"))
    said = item.get("message")
    if item["status"] == DEGRADED:
        said = "degraded" + (": %s" % said if said else "")
    elif item.get("verdict") == VERDICT_REACHABLE and said:
        said = "replied: %s" % said
    else:
        said = None
    return ", ".join(t for t in (text, said) if t)


def _unit_state(group: Mapping[str, Any]) -> str:
    if group["unit"] == SKIPPED or group["active_state"] is None:
        return "-" if group["unit"] != FAILED else "?"
    return "%s/%s" % (group["active_state"], group["sub_state"] or "?")


TEXT_WIDTHS = (26, 20, 10, 8, 8, 7, 7)


def render_text(report: Mapping[str, Any]) -> List[str]:
    """A readable table for the terminal, one string per line."""
    lines = ["AI system verification %s -- %s" % (report["generated_at"], verdict(report))]
    # HEALTH: the container's health check; SOCKETS: the agents' health sockets.
    for name, host in report["hosts"].items():
        head = "%s (%s): %s" % (name, host["lan_address"], host["status"].upper())
        if not host["verified"]:
            head += " -- " + NOT_VERIFIED
        elif host["lab"]:
            head += " (lab)"
        lines.append(head)
        gpu = host["gpu"]
        if gpu:
            lines.append("  GPU: %s -- %s" % (gpu["status"], gpu["reason"]))
        rows = [("GROUP", "UNIT", "HEALTH", "RESTARTS", "CUDA", "LINKS", "SOCKETS", "RESULT")]
        rows += [(gname, _unit_state(group), group["health"] or "-",
                  "-" if group["restarts"] is None else str(group["restarts"]),
                  group["cuda"] or "-", _ratio(group["links"]), _ratio(group["health_sockets"]),
                  group["status"]) for gname, group in host["groups"].items()]
        # Columns as wide as their widest cell (e.g. "4/5, 1 degraded"), at least TEXT_WIDTHS.
        widths = [max([width] + [len(r[i]) for r in rows]) for i, width in enumerate(TEXT_WIDTHS)]
        lines.extend("  " + " ".join(cell.ljust(width) for cell, width in zip(r, widths)) + " " + r[-1]
                     for r in rows)
        broken = [i for i in host["links"] if i["status"] == FAILED]
        degraded = [i for i in host["links"] if i["status"] == DEGRADED]
        remote = [i for i in host["links"] if i["cross_host"]]
        if remote:
            lines.append("  links to other hosts:")
            for item in remote:
                answer = _answer_text(item) if item["status"] in (PASSED, DEGRADED) else ""
                lines.append("    %-26s -> %s/%s %s:%s  %s" % (
                    item["from_group"], item["to_host"], item["name"], item["address"], item["port"],
                    answer or item["status"]))
        if broken:
            lines.append("  broken links: %d" % len(broken))
        if degraded:
            lines.append("  links to degraded agents: %d" % len(degraded))
    for title, key in (("Problems", "problems"), ("Degraded", "degraded"), ("Skipped", "skipped"),
                       ("Warnings", "warnings")):
        if report[key]:
            lines.append("%s (%d):" % (title, len(report[key])))
            lines.extend("  - %s" % line for line in report[key])
    return lines


# --------------------------------------------------------------------------
# Markdown with a Mermaid diagram
# --------------------------------------------------------------------------

def _md(value: Any) -> str:
    """A table cell: no line breaks, pipes escaped."""
    if value is None or value == "":
        return "-"
    return " ".join(str(value).split()).replace("|", "\\|")


def _mermaid_text(text: str) -> str:
    """Text that is safe in a Mermaid label or edge text."""
    text = re.sub(r"[^A-Za-z0-9 _:/.,=+@-]", " ", str(text))
    text = re.sub(r"\.+(?=-)", " ", text)
    return " ".join(text.split())


STATUS_STYLE = {
    PASSED: "fill:#dcfce7,stroke:#16a34a,color:#14532d",
    # Amber/orange: answered, but degraded (apart from the yellow of skipped).
    DEGRADED: "fill:#ffedd5,stroke:#ea580c,color:#7c2d12",
    FAILED: "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    SKIPPED: "fill:#fef9c3,stroke:#ca8a04,color:#713f12",
    "unknown": "fill:#f3f4f6,stroke:#9ca3af,color:#374151",
}


def render_mermaid(report: Mapping[str, Any]) -> List[str]:
    """``flowchart LR``: a subgraph per host, a node per group, an edge per link
    (solid with the agent and round trip, orange when the agent is degraded;
    dotted and red when broken; dotted when not checked)."""
    lines = ["flowchart LR"]
    ids: Dict[Tuple[str, str], str] = {}
    classes: Dict[str, List[str]] = {}
    for h_index, (hname, topo) in enumerate(report["topology"].items()):
        host = report["hosts"].get(hname)
        title = "%s %s" % (hname, topo.get("lan_address") or "")
        if host is None:
            title += " not part of this run"
        elif not host["verified"]:
            title += " not verified"
        lines.append('  subgraph h%d["%s"]' % (h_index, _mermaid_text(title)))
        for gname in topo["groups"]:
            node = "n%d" % len(ids)
            ids[(hname, gname)] = node
            group = host["groups"].get(gname) if host else None
            label = _mermaid_text(gname)
            status = group["status"] if group else "unknown"
            if group and group["active_state"]:
                label += "<br/>%s" % _mermaid_text(
                    group["active_state"] + (", " + group["health"] if group["health"] else ""))
            if group and group.get("degraded_agents"):
                label += "<br/>%s" % _mermaid_text("degraded: " + " ".join(group["degraded_agents"]))
            lines.append('    %s["%s"]' % (node, label))
            classes.setdefault(status, []).append(node)
        lines.append("  end")
    broken: List[str] = []
    degraded: List[str] = []
    unchecked: List[str] = []
    count = 0
    for hname, host in report["hosts"].items():
        for item in host["links"]:
            source = ids.get((hname, item["from_group"]))
            target = ids.get((item["to_host"], item["to_group"]))
            if not source or not target:
                continue
            agent = _mermaid_text(item["name"])
            if item["status"] in (PASSED, DEGRADED):
                rtt = _rtt_text(item.get("rtt_ms")) or ("ZMTP" if item["kind"] == "greeting" else "ok")
                if item["status"] == DEGRADED:
                    rtt += " degraded"
                    degraded.append(str(count))
                elif item.get("verdict") == VERDICT_REACHABLE:
                    rtt += " reachable"
                lines.append('  %s -->|"%s %s"| %s' % (source, agent, _mermaid_text(rtt), target))
            elif item["status"] == FAILED:
                why = "%s: %s" % (item["failed_stage"], item["reason"]) if item.get("failed_stage") \
                    else "not verified"
                # Dotted with the label in quotes (`-.->|"..."|`): unquoted dotted
                # edge text (`-. text .->`) may not hold a dot, as in "3.0s".
                lines.append('  %s -.->|"broken %s %s"| %s' % (source, agent, _mermaid_text(why), target))
                broken.append(str(count))
            else:
                lines.append('  %s -.->|"not checked %s"| %s' % (source, agent, target))
                unchecked.append(str(count))
            count += 1
    for status in (PASSED, DEGRADED, FAILED, SKIPPED, "unknown"):
        if classes.get(status):
            lines.append("  classDef %s %s" % (status, STATUS_STYLE[status]))
            lines.append("  class %s %s" % (",".join(classes[status]), status))
    if broken:
        lines.append("  linkStyle %s stroke:#dc2626,stroke-width:2px,color:#dc2626" % ",".join(broken))
    if degraded:
        lines.append("  linkStyle %s stroke:#ea580c,stroke-width:2px,color:#c2410c" % ",".join(degraded))
    if unchecked:
        lines.append("  linkStyle %s stroke:#ca8a04" % ",".join(unchecked))
    return lines


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> List[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out.extend("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)
    return out


def _status_cell(status: Optional[str]) -> str:
    return {PASSED: "passed", DEGRADED: "DEGRADED", FAILED: "**FAILED**",
            SKIPPED: "SKIPPED"}.get(status or "", "-")


def _zmq_reason(item: Mapping[str, Any]) -> Optional[str]:
    """The Reason cell of a link or health socket: why it did not pass, or
    what a reachable link's agent replied."""
    if item["status"] == PASSED:
        if item.get("verdict") == VERDICT_REACHABLE and item.get("message"):
            return "replied: %s" % item["message"]
        return None
    if item["status"] == DEGRADED:
        return item["reason"]
    return _join(item["reason"], item.get("detail"))


def render_markdown(report: Mapping[str, Any]) -> str:
    """The whole report as Markdown: verdict, per-host summary, problems,
    the Mermaid topology, then per host its GPU, groups, CUDA, links and
    health sockets."""
    word = "FAILED"
    if report["ok"]:
        word = "PASSED with degraded agents" if report["counts"].get(DEGRADED) else "PASSED"
    out = ["# AI system verification: %s" % word, "",
           "Generated %s. %s." % (report["generated_at"], verdict(report)), ""]
    rows = []
    for name, host in report["hosts"].items():
        gpu = host["checks"]["gpu"]
        rows.append([name, "yes" if host["verified"] else "**no**",
                     _ratio(gpu) if sum(gpu.values()) else "-",
                     _ratio(host["checks"]["cuda"]), _ratio(host["checks"]["units"]),
                     _ratio(host["checks"]["links"]), _ratio(host["checks"]["health"]),
                     _status_cell(host["status"])])
    out += _table(["Host", "Verified", "GPU", "CUDA", "Units", "Links", "Health sockets", "Result"], rows)
    for title, key in (("Problems", "problems"), ("Degraded", "degraded"), ("Skipped", "skipped"),
                       ("Warnings", "warnings")):
        if report[key]:
            out += ["", "## %s" % title, ""]
            out += ["- %s" % " ".join(line.split()) for line in report[key]]
    out += ["", "## Topology", "",
            "Solid edges: the link answered (agent, median round trip; `reachable` when the agent "
            "answered the health request with something else, orange and `degraded` when it said it "
            "is degraded). Dotted: broken (the stage that failed) or not checked. Orange groups run "
            "a degraded agent or link to one.", "", "```mermaid"]
    out += render_mermaid(report)
    out += ["```"]
    for name, host in report["hosts"].items():
        out += ["", "## %s (%s)%s" % (name, host["lan_address"], " -- lab" if host["lab"] else "")]
        if not host["verified"]:
            out += ["", "Not verified: %s." % NOT_VERIFIED]
        gpu = host["gpu"]
        if gpu:
            out += ["", "### GPU", ""]
            out += _table(["Expected", "Found", "Driver", "CUDA", "Result", "Detail"], [[
                gpu["expected_model"], ", ".join(str(g.get("name")) for g in gpu["gpus"]),
                gpu["driver_version"], gpu["cuda_driver_version"], _status_cell(gpu["status"]),
                gpu["reason"]]])
        out += ["", "### Groups", ""]
        out += _table(["Group", "Unit", "State", "Health", "Restarts", "Active since", "CUDA", "Links",
                       "Health sockets", "Result"],
                      [[g, group["service"], _unit_state(group), group["health"], group["restarts"],
                        next((u["active_since"] for u in host["units"] if u["group"] == g), None),
                        _status_cell(group["cuda"]) if group["cuda"] else "-", _ratio(group["links"]),
                        _ratio(group["health_sockets"]), _status_cell(group["status"])]
                       for g, group in host["groups"].items()])
        units = [u for u in host["units"] if u["status"] != PASSED]
        if units:
            out += ["", "Units that did not pass:", ""]
            out += ["- `%s`: %s %s" % (u["service"], _status_cell(u["status"]), _md(u["reason"]))
                    for u in units]
        if host["cuda"]:
            out += ["", "### CUDA", ""]
            out += _table(["Container", "Result", "GPUs", "Driver", "Reason"],
                          [[c["container"], _status_cell(c["status"]), ", ".join(str(g) for g in c["gpus"]),
                            c["driver_version"], c["reason"]] for c in host["cuda"]])
        if host["links"]:
            out += ["", "### Links", ""]
            out += _table(["From", "Agent", "To", "Address", "Kind", "Result", "RTT median",
                           "Failed stage", "Reason"],
                          [[i["from_group"], i["name"], "%s/%s" % (i["to_host"], i["to_group"]),
                            "%s:%s" % (i["address"], i["port"]), i["kind"], _status_cell(i["status"]),
                            _rtt_text(i.get("rtt_ms")), i.get("failed_stage"), _zmq_reason(i)]
                           for i in host["links"]])
        if host["health"]:
            out += ["", "### Health sockets", ""]
            out += _table(["Group", "Agent", "Port", "Result", "RTT median", "Failed stage", "Reason"],
                          [[i["group"], i["name"], i["port"], _status_cell(i["status"]),
                            _rtt_text(i.get("rtt_ms")), i.get("failed_stage"), _zmq_reason(i)]
                           for i in host["health"]])
    return "\n".join(out) + "\n"


def _join(reason: Any, detail: Any) -> str:
    return "%s (%s)" % (reason, detail) if detail else str(reason)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def report_paths(dest: str, generated_at: str) -> Dict[str, str]:
    """Where a report is written: ``verify-<UTC stamp>.json`` and ``.md`` plus
    ``latest.json`` and ``latest.md``, under ``dest`` (made absolute)."""
    stamp = generated_at.replace("-", "").replace(":", "")
    base = os.path.abspath(os.path.expanduser(dest))
    return {
        "json": os.path.join(base, "verify-%s.json" % stamp),
        "markdown": os.path.join(base, "verify-%s.md" % stamp),
        "latest_json": os.path.join(base, "latest.json"),
        "latest_markdown": os.path.join(base, "latest.md"),
    }


def _write_atomic(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_report(dest: str, report: Mapping[str, Any], markdown: str) -> Dict[str, str]:
    """Write the report's JSON and Markdown (and the ``latest`` copies); return the paths.

    A second report in the same second gets a ``-2``, ``-3``... suffix rather
    than replacing the first.
    """
    paths = report_paths(dest, report["generated_at"])
    os.makedirs(os.path.dirname(paths["json"]), exist_ok=True)
    suffix = 1
    while os.path.exists(paths["json"]) or os.path.exists(paths["markdown"]):
        suffix += 1
        for key in ("json", "markdown"):
            root, ext = os.path.splitext(report_paths(dest, report["generated_at"])[key])
            paths[key] = "%s-%d%s" % (root, suffix, ext)
    document = json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"
    _write_atomic(paths["json"], document)
    _write_atomic(paths["markdown"], markdown)
    _write_atomic(paths["latest_json"], document)
    _write_atomic(paths["latest_markdown"], markdown)
    return paths
