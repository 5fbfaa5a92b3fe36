# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdict of ``cuda_check``: what ``podman exec`` of the probe gave, judged.

Pure Python, no Ansible imports.  :func:`container_result` turns one
container's exit code, stdout and stderr into its result, ``passed``,
``failed`` or ``skipped`` with the reason (and, when failed, the step and the
error); :func:`merge_after_reload` keeps the worse of two runs around
``systemctl daemon-reload``; :func:`summarize` counts the containers and
gives the module's message, or its error.

These verdicts are final: the verification report reads them as they are.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_probe

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
# Worse is higher: with daemon_reload, a container gets the worse of its two runs.
STATUS_RANK = {PASSED: 0, SKIPPED: 1, FAILED: 2}
PODMAN_RC = {
    125: "podman could not run the exec session",
    126: "the interpreter exists in the container but could not be run",
    127: "the interpreter was not found in the container",
}
# Exit codes of `timeout` (124, or 137 after --kill-after) and of the probe's own alarm.
TIMED_OUT_RC = (124, 137, 128 + 14)

Result = Dict[str, Any]


def last_progress_step(stderr: Optional[str]) -> Optional[str]:
    """The step the probe announced last on stderr (the one running when it died)."""
    step = None
    for line in (stderr or "").splitlines():
        if line.startswith(cuda_probe.PROGRESS_PREFIX):
            step = line[len(cuda_probe.PROGRESS_PREFIX):].strip()
    return step


def stderr_tail(stderr: Optional[str], lines: int = 8) -> str:
    """The last ``lines`` lines of stderr, without the probe's progress."""
    kept = [line for line in (stderr or "").splitlines() if not line.startswith(cuda_probe.PROGRESS_PREFIX)]
    return "\n".join(kept[-lines:])


def parse_probe_output(stdout: Optional[str]) -> Optional[Dict[str, Any]]:
    """The probe's JSON document from stdout, or None when there is none."""
    text = (stdout or "").strip()
    candidates = [text] + [line.strip() for line in reversed(text.splitlines())]
    for candidate in candidates:
        if not candidate.startswith("{"):
            continue
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("probe") == cuda_probe.PROBE_NAME:
            return doc
    return None


# The probe document's fields and the JSON types each must have (None: null allowed).
_TEXT_OR_NULL = (str, type(None))
DOC_SHAPE: Dict[str, Tuple[type, ...]] = {
    "status": (str,),
    "reason": _TEXT_OR_NULL,
    "failed_step": _TEXT_OR_NULL,
    "error": _TEXT_OR_NULL,
    "lab": (bool,),
    "python": _TEXT_OR_NULL,
    "driver_version": _TEXT_OR_NULL,
    "cuda_driver_version": _TEXT_OR_NULL,
    "gpus": (list,),
    "cuda_devices": (list,),
    "libraries": (list,),
    "steps": (list,),
    "kernel_result": (dict,),
    "total_ms": (int, float),
    "budget": (dict, type(None)),
}
# Lists whose entries must be JSON objects.
DOC_OBJECT_LISTS = ("gpus", "cuda_devices", "libraries", "steps")
KERNEL_SHAPE: Dict[str, Tuple[type, ...]] = {
    "ok": (bool,),
    "n_elements": (int,),
    "devices_tested": (int,),
    "mismatches": (int,),
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _wrong_type(value: Any, types: Tuple[type, ...]) -> bool:
    # bool is an int to Python, never to the probe.
    return not isinstance(value, types) or (isinstance(value, bool) and bool not in types)


def shape_problem(doc: Mapping[str, Any]) -> Optional[str]:
    """What is wrong with the shape of a probe document, or None.

    Fields may be missing (an older probe), but a field that is there must
    have the type the probe writes.
    """
    for key, types in DOC_SHAPE.items():
        if key in doc and _wrong_type(doc[key], types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            return "%s is %s, expected %s" % (key, _type_name(doc[key]), wanted)
    for key in DOC_OBJECT_LISTS:
        for position, entry in enumerate(doc.get(key) or ()):
            if not isinstance(entry, dict):
                return "%s[%d] is %s, expected an object" % (key, position, _type_name(entry))
    for key, types in KERNEL_SHAPE.items():
        value = (doc.get("kernel_result") or {}).get(key)
        if value is not None and _wrong_type(value, types):
            return "kernel_result.%s is %s, expected %s" % (key, _type_name(value), types[0].__name__)
    return None


def empty_result(container: str) -> Result:
    """A failed result with nothing known yet."""
    return {
        "container": container,
        "status": FAILED,
        "reason": None,
        "failed_step": None,
        "error": None,
        "lab": False,
        "driver_version": None,
        "cuda_driver_version": None,
        "gpus": [],
        "cuda_devices": [],
        "libraries": [],
        "steps": [],
        "kernel_result": {"ok": False, "n_elements": 0, "devices_tested": 0, "mismatches": 0,
                          "first_mismatch": None},
        "total_ms": 0.0,
        "exec": {"rc": None, "timed_out": False, "stderr_tail": ""},
        "budget": None,
    }


BUDGET_STATUSES = (cuda_probe.BUDGET_ENFORCED, cuda_probe.BUDGET_NOT_ENFORCED, cuda_probe.BUDGET_FAILED,
                   cuda_probe.BUDGET_SKIPPED)


def judge_budget(result: Result, doc: Mapping[str, Any], budget_mib: int, mps: bool) -> None:
    """The container's VRAM budget verdict, from the probe's ``budget``.

    ``enforced`` only when MPS was expected and the probe proved it; without
    MPS the budget is at best ``not_enforced``; a lab or driverless container
    is ``skipped``. A container whose budget check failed fails.
    """
    budget = cuda_probe.new_budget(budget_mib, mps)
    got = doc.get("budget")
    problem = None
    if not isinstance(got, dict):
        problem = "the probe did not check the VRAM budget (an older probe?)"
    elif got.get("vram_mib") != budget_mib or bool(got.get("mps")) != mps:
        problem = "the probe checked a budget of %r MiB (mps %r), expected %d MiB (mps %s)" % (
            got.get("vram_mib"), got.get("mps"), budget_mib, mps)
    elif got.get("status") not in BUDGET_STATUSES:
        problem = "the probe reported an unknown budget status %r" % (got.get("status"),)
    elif got.get("status") == cuda_probe.BUDGET_ENFORCED and not mps:
        problem = "the probe reported the budget enforced without MPS"
    if problem is None and isinstance(got, dict):
        for key in ("status", "reason", "failed_step", "error", "within_mib", "over_mib"):
            budget[key] = got.get(key)
    if result["status"] == SKIPPED:
        if budget["status"] != cuda_probe.BUDGET_SKIPPED:
            budget.update(status=cuda_probe.BUDGET_SKIPPED, failed_step=None, error=None,
                          reason="%s: the %d MiB budget is not checked" % (result["reason"], budget_mib))
    elif problem is not None:
        budget.update(status=cuda_probe.BUDGET_FAILED, failed_step="probe result", error=problem,
                      reason="VRAM budget: %s" % problem)
    elif result["status"] == PASSED and budget["status"] != (
            cuda_probe.BUDGET_ENFORCED if mps else cuda_probe.BUDGET_NOT_ENFORCED):
        budget.update(status=cuda_probe.BUDGET_FAILED, failed_step="probe result",
                      error="budget status %r after a passed CUDA check" % (budget["status"],),
                      reason="VRAM budget: the probe passed but reported the budget %s" % budget["status"])
    result["budget"] = budget
    if budget["status"] == cuda_probe.BUDGET_FAILED and result["status"] != FAILED:
        result.update(status=FAILED, failed_step=budget["failed_step"], error=budget["error"],
                      reason=budget["reason"])


def exec_failure(result: Result, rc: int, stderr: Optional[str], timeout: int, python: str) -> Result:
    """Fill in a failed result for a probe that produced no JSON."""
    running = last_progress_step(stderr)
    tail = stderr_tail(stderr)
    last_line = tail.splitlines()[-1] if tail else ""
    if rc in TIMED_OUT_RC:
        result["exec"]["timed_out"] = True
        result["failed_step"] = running or "podman exec"
        result["error"] = "no result within %d seconds" % timeout
        result["reason"] = "the probe timed out after %d seconds%s" % (
            timeout, " during step %s" % running if running else "")
    elif rc in PODMAN_RC and not running:
        result["failed_step"] = "podman exec"
        result["error"] = last_line or PODMAN_RC[rc]
        what = PODMAN_RC[rc] if rc == 125 else "%s (%s)" % (PODMAN_RC[rc], python)
        result["reason"] = "%s, rc %d: %s" % (what, rc, result["error"])
    elif rc > 128 and running:
        result["failed_step"] = running
        result["error"] = "killed by signal %d" % (rc - 128)
        result["reason"] = "the probe crashed (signal %d) during step %s" % (rc - 128, running)
    else:
        result["failed_step"] = running or "podman exec"
        result["error"] = last_line or "no output"
        result["reason"] = "the probe exited with rc %d without a result%s: %s" % (
            rc, " during step %s" % running if running else "", result["error"])
    return result


def not_a_result(result: Result, stdout: str) -> Result:
    """A failed result for output that is not the probe's JSON document."""
    shown = " ".join(stdout.split())
    if len(shown) > 120:
        shown = shown[:120] + "..."
    result["failed_step"] = "probe result"
    result["error"] = "output is not the probe's JSON result: %s" % shown
    result["reason"] = "the probe printed no result: %s" % result["error"]
    return result


def container_result(container: str, rc: int, stdout: Optional[str], stderr: Optional[str], timeout: int,
                     python: str = "python3", lab: bool = False, expect_gpus: Optional[int] = None,
                     budget_mib: Optional[int] = None, mps: bool = False) -> Result:
    """One container's result from the exit code and output of ``podman exec``.

    ``timeout`` and ``python`` are those the probe ran with (for the reason of
    a probe that gave no result); ``lab``: the container carries the lab CDI
    device; ``expect_gpus``: the number of GPUs a passing container must see;
    ``budget_mib``: the container's VRAM budget, which MPS enforces when ``mps``.
    """
    result = empty_result(container)
    result["exec"].update(rc=rc, stderr_tail=stderr_tail(stderr))
    doc = parse_probe_output(stdout)
    problem = None if doc is None else shape_problem(doc)
    if doc is None or problem:
        if doc is not None:
            result.update(failed_step="probe result", error="malformed result: %s" % problem,
                          reason="the probe's result is malformed: %s" % problem)
        elif rc == 0 and (stdout or "").strip():
            # It exited 0 and printed something, but not the probe's document.
            not_a_result(result, stdout)
        else:
            exec_failure(result, rc, stderr, timeout, python)
        if budget_mib is not None:
            result["budget"] = dict(cuda_probe.new_budget(budget_mib, mps), status=cuda_probe.BUDGET_SKIPPED,
                                    reason="not checked: the CUDA check failed at %s" % result["failed_step"])
        return result
    for key in ("status", "reason", "failed_step", "error", "lab", "driver_version", "cuda_driver_version",
                "cuda_devices", "libraries", "steps", "kernel_result", "python", "total_ms"):
        if key in doc:
            result[key] = doc[key]
    result["gpus"] = [dict((k, gpu.get(k)) for k in ("index", "name", "memory_total_mib", "uuid"))
                      for gpu in doc.get("gpus") or []]
    kernel = result["kernel_result"] or {}
    if result["status"] not in STATUS_RANK:
        result.update(status=FAILED, failed_step="probe result",
                      error="unknown status %r" % (doc.get("status"),),
                      reason="the probe returned an unknown status %r" % (doc.get("status"),))
    elif result["status"] == PASSED and not (kernel.get("ok") and kernel.get("devices_tested", 0) > 0):
        result.update(status=FAILED, failed_step="probe result", error="kernel_result is not ok",
                      reason="the probe said passed but did not verify a kernel result")
    if result["status"] == SKIPPED and lab and not result["lab"]:
        result.update(lab=True, reason=cuda_probe.REASON_LAB)
    if result["status"] == PASSED and expect_gpus is not None and len(result["gpus"]) != expect_gpus:
        seen = len(result["gpus"])
        result.update(status=FAILED, failed_step="expect_gpus",
                      error="sees %d GPU(s), expected %d" % (seen, expect_gpus),
                      reason="the container sees %d GPU(s) but expect_gpus is %d" % (seen, expect_gpus))
    if budget_mib is not None:
        judge_budget(result, doc, budget_mib, mps)
    return result


def merge_after_reload(initial: Sequence[Result], after: Sequence[Result]) -> List[Result]:
    """Attach the second run to the first; the container gets the worse status."""
    merged = []
    for first, second in zip(initial, after):
        entry = dict(first)
        entry["after_daemon_reload"] = dict((k, v) for k, v in second.items() if k != "container")
        if STATUS_RANK[second["status"]] > STATUS_RANK[first["status"]]:
            entry["status"] = FAILED
            entry["failed_step"] = second["failed_step"]
            entry["error"] = second["error"]
            if second["status"] == FAILED:
                entry["reason"] = "after systemctl daemon-reload: %s" % second["reason"]
            else:
                entry["failed_step"] = entry["failed_step"] or "after systemctl daemon-reload"
                entry["error"] = entry["error"] or second["reason"]
                entry["reason"] = "%s before systemctl daemon-reload, but skipped after it: %s" % (
                    first["status"], second["reason"])
        merged.append(entry)
    return merged


def describe_failure(entry: Mapping[str, Any]) -> str:
    """``container: step STEP: ERROR`` of a failed container."""
    where = entry["container"]
    if entry.get("after_daemon_reload") and entry["after_daemon_reload"]["status"] != PASSED \
            and (entry["reason"] or "").startswith("after systemctl daemon-reload"):
        where += " (after systemctl daemon-reload)"
    return "%s: step %s: %s" % (where, entry["failed_step"] or "unknown", entry["error"] or entry["reason"])


def summarize(results: List[Result], fail_on_skip: bool = False,
              reload_done: bool = False) -> Tuple[Dict[str, Any], Optional[str]]:
    """``(summary, error)``: the counts, the results and the message, or the
    error that fails the module (any container failed; any skipped, with
    ``fail_on_skip``)."""
    counts = dict((status, sum(1 for r in results if r["status"] == status)) for status in STATUS_RANK)
    summary: Dict[str, Any] = dict(("%s_count" % status, count) for status, count in counts.items())
    summary["results"] = results
    total = len(results)
    if counts[FAILED]:
        failed = [describe_failure(r) for r in results if r["status"] == FAILED]
        return summary, "CUDA check failed in %d of %d container(s): %s" % (counts[FAILED], total, "; ".join(failed))
    skipped = ["%s: %s" % (r["container"], r["reason"]) for r in results if r["status"] == SKIPPED]
    if skipped and fail_on_skip:
        return summary, "CUDA check skipped in %d of %d container(s) and fail_on_skip is true: %s" % (
            counts[SKIPPED], total, "; ".join(skipped))
    if counts[PASSED]:
        msg = "CUDA kernel verified in %d container(s)" % counts[PASSED]
        if reload_done:
            msg += " before and after systemctl daemon-reload"
        if skipped:
            msg += "; skipped in %d: %s" % (counts[SKIPPED], "; ".join(skipped))
    else:
        msg = "CUDA check skipped in %d container(s), none passed: %s" % (counts[SKIPPED], "; ".join(skipped))
    summary["msg"] = msg
    return summary, None
