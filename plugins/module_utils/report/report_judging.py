# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the verification report judges each kind of check: its findings.

Pure Python, no Ansible imports.  A judge turns a host's module result and
the host's plan into items (dicts with ``check``, ``status``, ``reason``,
``cause`` and the check's own fields): :meth:`CheckJudge.judge`.  It says
nothing about how they are shown; ``report_views`` does that, and the report
class of a check (``verify_checks``) is its view and its judge together.

The modules judge what they see; a judge takes their verdicts as they are
(``cuda_check``'s ``status``, ``unit_health``'s ``ok`` and ``problem``,
``zmq_check``'s ``ok`` and ``verdict``, ``report_zmq_judging``) and adds only
what the plan says on top (the GPU model, a unit that must have a health
check).  Every item ends ``passed``, ``degraded``, ``failed`` or ``skipped``
(with the reason); a skipped item is never counted as passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import (
    FAILED, MODULE, NOT_CHECKED, PASSED, PHASE, SKIPPED, Cause, Item,
)


# --------------------------------------------------------------------------
# Reading the gathered results
# --------------------------------------------------------------------------

def _first_line(text: Any) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def error_text(result: Mapping[str, Any]) -> str:
    """Why a task produced no data: its msg, and the module's last stderr line."""
    text = _first_line(result.get("msg")) or "no result"
    stderr = [line.strip() for line in str(result.get("module_stderr") or "").splitlines()
              if line.strip()]
    if stderr:
        text += " (%s)" % stderr[-1]
    return text


@dataclass(frozen=True)
class HostInput:
    """One host as the checks see it: its plan and what the verify playbook
    gathered there (``None``: the host returned no results)."""

    name: str
    plan: Mapping[str, Any]
    results: Optional[Mapping[str, Any]]
    #: Every host's results (host name -> results), for checks that look at a peer.
    peers: Optional[Mapping[str, Any]] = None

    def peer(self, name: Any) -> Optional[Mapping[str, Any]]:
        """Another host's results, or None when it returned none."""
        value = (self.peers or {}).get(str(name)) if name is not None else None
        return value if isinstance(value, Mapping) else None

    @property
    def verified(self) -> bool:
        return isinstance(self.results, Mapping)

    @property
    def lab(self) -> bool:
        return bool(self.results.get("lab")) if isinstance(self.results, Mapping) else False

    def result(self, key: str) -> Optional[Mapping[str, Any]]:
        """A phase's registered result, or None when the phase did not run."""
        if not isinstance(self.results, Mapping):
            return None
        value = self.results.get(key)
        if not isinstance(value, Mapping):
            return None
        # Ansible's own flag (a task skipped by `when`, or a loop whose every
        # item was), not a module's count such as `skipped_count`.
        if value.get("skipped") is True:
            return None
        return value


def entries_by(result: Optional[Mapping[str, Any]], key: str, field: str,
               planned: Sequence[Any]) -> Tuple[bool, Dict[str, Mapping[str, Any]]]:
    """Whether the module ran (its result has the list ``key``, not empty
    when something is ``planned``), and that list's entries by ``field``."""
    ran = result is not None and isinstance(result.get(key), list) and bool(result[key] or not planned)
    if not ran or result is None:
        return False, {}
    return True, dict((str(entry.get(field)), entry) for entry in result[key] if isinstance(entry, Mapping))


# --------------------------------------------------------------------------
# A kind of check
# --------------------------------------------------------------------------

class CheckJudge:
    """How one kind of check judges a host: its findings (items) from the
    module's result and the host's plan.  Subclasses set the attributes and
    :meth:`judge`; every other method has a default that adds nothing."""

    #: Key of the check in the report (``checks``, each host's items).
    name = ""
    #: In lines such as ``pc2: units: not checked in this run``.
    title = ""
    #: One checked thing, counted in lines such as ``(6 units)``.
    noun = ""
    #: Key of a host's results that holds the module's registered result.
    result_key = ""
    #: The module whose result it judges, in lines such as ``cuda_check did not run: ...``.
    module = ""
    #: At most one item per host: the host's entry is the item or ``None``.
    single = False

    def not_checked(self, host: HostInput) -> Cause:
        return Cause(PHASE, host.name, check=self.name)

    def item(self, host: HostInput, **fields: Any) -> Item:
        """A new item of this check, skipped until judged."""
        item: Item = {"check": self.name}
        item.update(fields)
        item.update(status=SKIPPED, reason=NOT_CHECKED, cause=self.not_checked(host))
        return item

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        """The host's items: ``result`` is the module's registered result
        (``None``: the phase did not run), judged against ``host.plan``."""
        raise NotImplementedError

    def entry_of(self, host: HostInput, item: Item, result: Optional[Mapping[str, Any]], ran: bool,
                 entries: Mapping[str, Mapping[str, Any]], key: str, what: str) -> Optional[Mapping[str, Any]]:
        """The entry of the module's result for ``item`` (``entries[key]``),
        or None with ``item`` judged: left not checked (``result`` None),
        failed when the module did not run (``ran`` false) or returned no
        entry for the ``what`` of the item."""
        if result is None:
            return None
        if not ran:
            item.update(status=FAILED, reason="%s did not run: %s" % (self.module, error_text(result)),
                        cause=Cause(MODULE, host.name, check=self.name))
            return None
        item["cause"] = None
        entry = entries.get(key)
        if entry is None:
            item.update(status=FAILED, reason="%s returned no result for this %s" % (self.module, what))
        return entry

    def degraded_agent(self, host: str, item: Item) -> str:
        """``host/agent`` of a degraded item, where the agent runs."""
        return "%s/%s" % (host, item.get("name"))

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        """The items that belong to the group of the plan's ``unit``."""
        return []

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        """What the check adds to a group's summary, from the group's items."""
        return {}


# --------------------------------------------------------------------------
# GPU
# --------------------------------------------------------------------------

class GpuJudge(CheckJudge):
    """``gpu_facts``: a usable driver, the planned GPU model and VRAM budgets that fit."""

    name, title, noun, result_key = "gpu", "GPU", "GPU check", "gpu"
    single = True

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        gpu_plan = host.plan.get("gpu") or {}
        if not gpu_plan.get("required") and not gpu_plan.get("model"):
            return []
        item = self.item(host, expected_model=gpu_plan.get("model"),
                         expected_memory_mib=gpu_plan.get("memory_mib"),
                         required=bool(gpu_plan.get("required")), available=None, driver_version=None,
                         cuda_driver_version=None, gpus=[], vram=None)
        if result is None:
            return [item]
        item["cause"] = None
        if "available" not in result:
            item.update(status=FAILED, reason="gpu_facts did not run: %s" % error_text(result))
            return [item]
        gpus = [{k: g.get(k) for k in ("index", "name", "uuid", "memory_total_mib", "memory_used_mib",
                                       "memory_free_mib", "compute_capability")}
                for g in result.get("gpus") or [] if isinstance(g, Mapping)]
        item.update(available=bool(result.get("available")), driver_version=result.get("driver_version"),
                    cuda_driver_version=result.get("cuda_driver_version"), gpus=gpus,
                    vram=result.get("vram_check"))
        if not result.get("available"):
            why = result.get("reason") or "no usable NVIDIA driver"
            if host.lab:
                item.update(status=SKIPPED, reason="lab host: %s" % why)
            else:
                item.update(status=FAILED, reason=why)
            return [item]
        problems = []
        expected = item["expected_model"]
        names = [str(g.get("name") or "") for g in gpus]
        if expected and not any(n.strip().lower() == str(expected).strip().lower() for n in names):
            problems.append("expected %s, found %s" % (expected, ", ".join(names) or "no GPU"))
        vram = result.get("vram_check") or {}
        if vram.get("checked") and vram.get("ok") is False:
            problems.append("VRAM budgets need %s MiB (budgets %s + reserve %s), GPU %s has %s MiB" % (
                vram.get("required_mib"), vram.get("budget_sum_mib"), vram.get("reserve_mib"),
                vram.get("gpu_index"), vram.get("gpu_total_mib")))
        if problems:
            item.update(status=FAILED, reason="; ".join(problems))
            return [item]
        first = gpus[0] if gpus else {}
        text = ", ".join(names) or "GPU"
        if item["driver_version"]:
            text += ", driver %s" % item["driver_version"]
        if item["cuda_driver_version"]:
            text += ", CUDA %s" % item["cuda_driver_version"]
        if first.get("memory_total_mib") is not None:
            text += ", %s/%s MiB used" % (first.get("memory_used_mib"), first.get("memory_total_mib"))
        item.update(status=PASSED, reason=text)
        return [item]


# --------------------------------------------------------------------------
# CUDA
# --------------------------------------------------------------------------

class CudaJudge(CheckJudge):
    """``cuda_check``: a CUDA kernel ran in every GPU container (``checks.cuda`` of the plan).

    The module's ``status`` per container is the verdict; a failure is shown
    as its failed step and error. A container with a VRAM budget
    (``checks.cuda_budgets``) carries the module's budget verdict: enforced
    (CUDA MPS refused the allocation over it), not enforced (no MPS: a
    warning, never a pass), skipped (lab, no driver) or failed (its step).
    """

    name, title, noun, result_key, module = "cuda", "CUDA", "CUDA check", "cuda", "cuda_check"

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        containers = list((host.plan.get("checks") or {}).get("cuda") or [])
        ran, by_name = entries_by(result, "results", "container", containers)
        items: List[Item] = []
        budgets = (host.plan.get("checks") or {}).get("cuda_budgets") or {}
        for container in containers:
            item = self.item(host, container=container, group=container, failed_step=None, error=None,
                             gpus=[], driver_version=None, lab=None, budget_mib=budgets.get(container),
                             budget=None, budget_reason=None)
            items.append(item)
            entry = self.entry_of(host, item, result, ran, by_name, container, "container")
            if entry is None:
                continue
            item.update(failed_step=entry.get("failed_step"), error=entry.get("error"),
                        gpus=[g.get("name") for g in entry.get("gpus") or [] if isinstance(g, Mapping)],
                        driver_version=entry.get("driver_version"), lab=entry.get("lab"))
            budget = entry.get("budget")
            if isinstance(budget, Mapping):
                item.update(budget=budget.get("status"), budget_reason=budget.get("reason"))
            item.update(self._verdict(entry))
        return items

    @staticmethod
    def _verdict(entry: Mapping[str, Any]) -> Dict[str, str]:
        """The module's status for one container, with its reason."""
        status, reason = entry.get("status"), entry.get("reason")
        if status == PASSED:
            return {"status": PASSED, "reason": reason or "CUDA kernel verified"}
        if status == SKIPPED:
            return {"status": SKIPPED, "reason": reason or "skipped by cuda_check"}
        if status == FAILED:
            text = reason or "failed"
            if entry.get("failed_step"):
                text = "failed at %s" % entry["failed_step"]
                if entry.get("error"):
                    text += ": %s" % entry["error"]
            return {"status": FAILED, "reason": text}
        return {"status": FAILED, "reason": "cuda_check reported an unknown status %r" % (status,)}

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["container"] == unit.get("container")][:1]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        return {"cuda": items[0]["status"] if items else None}


BUDGET_NOT_ENFORCED = "not_enforced"


# --------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------

UNIT_FIELDS = ("active_state", "sub_state", "health", "restarts", "active_since", "uptime_s",
               "container_state", "container_started_at")


class UnitsJudge(CheckJudge):
    """``unit_health``: every group's unit (``units`` of the plan).

    ``unit_health``'s ``ok`` and ``problem`` per unit are the verdict; the
    plan adds one rule the module cannot know: a unit the plan gives a health
    check must run a container that has one.
    """

    name, title, noun, result_key, module = "units", "units", "unit", "units", "unit_health"

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        planned = list(host.plan.get("units") or [])
        ran, by_service = entries_by(result, "units", "service", planned)
        items: List[Item] = []
        for unit in planned:
            item = self.item(host, group=unit["group"], service=unit["service"], container=unit.get("container"),
                             healthcheck=bool(unit.get("healthcheck")), **{key: None for key in UNIT_FIELDS})
            items.append(item)
            state = self.entry_of(host, item, result, ran, by_service, unit["service"], "unit")
            if state is None:
                continue
            for key in UNIT_FIELDS:
                item[key] = state.get(key)
            item.update(self._verdict(state))
        return items

    @staticmethod
    def _verdict(state: Mapping[str, Any]) -> Dict[str, str]:
        """unit_health's ``ok`` and ``problem`` for one unit."""
        if "ok" not in state:
            return {"status": FAILED, "reason": "unit_health returned no verdict for this unit"}
        if not state["ok"]:
            return {"status": FAILED, "reason": str(state.get("problem") or "not ok")}
        return {"status": PASSED, "reason": "active, %s" % (state.get("health") or "no health check")}

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["group"] == unit["group"]][:1]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        item = items[0] if items else {}
        return {"unit": item.get("status"), "active_state": item.get("active_state"),
                "sub_state": item.get("sub_state"), "health": item.get("health"),
                "restarts": item.get("restarts")}


# --------------------------------------------------------------------------
# Firewall
# --------------------------------------------------------------------------

class FirewallJudge(CheckJudge):
    """``nft_table`` in check mode: the host's nftables table is loaded exactly
    as the plan wants it, and the file that loads it at boot is the plan's.

    The module's ``matches`` and ``file_matches`` are the verdict; its
    ``reason``, ``missing`` and ``extra`` say why.
    """

    name, title, noun, result_key = "firewall", "firewall", "firewall check", "firewall"
    single = True
    #: How many of the missing and extra lines a problem quotes.
    quoted = 2

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        item = self.item(host, table=None, path=None, present=None, matches=None, file_matches=None,
                         missing=[], extra=[])
        if result is None:
            return [item]
        item["cause"] = None
        if not isinstance(result.get("matches"), bool):
            item.update(status=FAILED, reason="nft_table did not run: %s" % error_text(result))
            return [item]
        item.update(table=result.get("table"), path=result.get("path"), present=result.get("present"),
                    matches=result["matches"], file_matches=result.get("file_matches"),
                    missing=[str(line) for line in result.get("missing") or []],
                    extra=[str(line) for line in result.get("extra") or []])
        reason = str(result.get("reason") or "")
        if not result["matches"]:
            parts = [reason or "the loaded table differs from the plan"]
            for label, lines in (("missing", item["missing"]), ("not planned", item["extra"])):
                if lines and item["present"] is not False:
                    more = len(lines) - self.quoted
                    parts.append("%s: %s%s" % (label, "; ".join(lines[:self.quoted]),
                                               " (and %d more)" % more if more > 0 else ""))
            item.update(status=FAILED, reason="; ".join(parts))
        elif result.get("file_matches") is False:
            item.update(status=FAILED, reason="the table is loaded as planned, but %s is not the plan's: "
                        "a boot or reload would load other rules" % (item["path"] or "its file"))
        else:
            item.update(status=PASSED, reason=reason or "loaded as planned")
        return [item]


class MonitoringJudge(CheckJudge):
    """``prometheus_check`` on the Prometheus host (``ai_monitoring``): its
    targets API shows every exporter of the plan scraped, and its alerts API
    no alert firing. Hosts without Prometheus have no item."""

    name, title, noun, result_key = "monitoring", "monitoring", "monitoring check", "prometheus"
    single = True
    #: How many firing alerts a problem names.
    quoted = 3

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        mon = host.plan.get("monitoring") or {}
        if not mon.get("prometheus"):
            return []
        item = self.item(host, url=None, exporters=[], firing=[])
        if result is None:
            return [item]
        item["cause"] = None
        if not isinstance(result.get("exporters"), list) or not isinstance(result.get("firing"), list):
            item.update(status=FAILED, reason="prometheus_check did not run: %s" % error_text(result))
            return [item]
        exporters = [dict(e) for e in result["exporters"] if isinstance(e, Mapping)]
        firing = [dict(a) for a in result["firing"] if isinstance(a, Mapping)]
        item.update(url=result.get("url"), exporters=exporters, firing=firing)
        scraped = [e for e in exporters if e.get("status") == PASSED]
        problems = ["exporter of %s (%s): %s" % (e.get("host"), e.get("instance"), e.get("reason"))
                    for e in exporters if e.get("status") != PASSED]
        if firing:
            named = ["%s (%s)" % (a.get("alertname"), ", ".join(
                "%s=%s" % (k, v) for k, v in sorted((a.get("labels") or {}).items()) if k != "severity"))
                for a in firing[:self.quoted]]
            more = len(firing) - self.quoted
            problems.append("firing: %s%s" % ("; ".join(named), " (and %d more)" % more if more > 0 else ""))
        if problems:
            item.update(status=FAILED, reason="; ".join(problems))
        else:
            item.update(status=PASSED, reason="%d/%d exporters scraped, no alert firing"
                        % (len(scraped), len(exporters)))
        return [item]
