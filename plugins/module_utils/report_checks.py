# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of the verification report, and :func:`build_report`, which judges them.

Pure Python, no Ansible imports.  Each kind of check is one class in
:data:`REGISTRY`, in the order the report lists them:

* ``gpu``    :class:`GpuCheck`, ``gpu_facts``: a usable driver, the planned GPU
  model, VRAM budgets that fit;
* ``cuda``   :class:`CudaCheck`, ``cuda_check``: a CUDA kernel ran inside every
  GPU container;
* ``units``  :class:`UnitsCheck`, ``unit_health``: every group's unit active,
  its container running and healthy;
* ``links``  :class:`LinksCheck`, ``zmq_check`` from inside each consuming
  container: every agent a group ``connects_to`` answers;
* ``health`` :class:`HealthCheck`, ``zmq_check`` inside each container: every
  agent's health socket answers healthy.
* ``firewall`` :class:`FirewallCheck`, ``nft_table`` in check mode: the
  host's nftables table is loaded as the plan wants it.

A check class says everything about its kind: its name, title and noun, how
a host's module result and the host's plan become items (:meth:`Check.judge`),
how an item is named in a line, what it adds to a group, its columns in the
terminal and Markdown tables, its details, and how it draws in the Mermaid
diagram.  The renderers (``report_render``) and :func:`build_report` only
iterate the registry.

The modules judge what they see; a check takes their verdicts as they are
(``cuda_check``'s ``status``, ``unit_health``'s ``ok`` and ``problem``,
``zmq_check``'s ``ok`` and ``verdict``) and adds only what the plan says on
top (the GPU model, a unit that must have a health check).

Every check ends ``passed``, ``degraded``, ``failed`` or ``skipped`` (with the
reason); a skipped check is never counted as passed.  ``degraded`` is a link or
health socket whose agent answered but said it is degraded: it is listed and
counted apart, and fails the report only with ``fail_on_degraded``.  Checks
that share one root cause (:class:`~report_model.Cause`) share one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.report_model import (
    CONTAINER, DEGRADED, FAILED, HOST, MODULE, NOT_CHECKED, NOT_VERIFIED, PASSED, PHASE, SKIPPED,
    STATUSES, Cause, Column, Edge, Item, Markup, counts, join, md_cell, md_code, md_text, mermaid_text, ratio,
    rtt_text, status_cell, table, worst,
)

FORMAT_VERSION = 1
# zmq_check's verdicts (besides "healthy" and "failing") that the report reads.
VERDICT_DEGRADED, VERDICT_REACHABLE = "degraded", "reachable"
# The stage a link is given when the checks could not run in its container.
CONTAINER_STAGE = "container"
# Where a check comes in a host's section: before the group table (a
# host-wide check), the group's own unit (its columns first, its details right
# under the table), or after.  Columns and details follow the sections, then
# the registry's order.
BEFORE_GROUPS, UNDER_GROUPS, AFTER_GROUPS = "before_groups", "under_groups", "after_groups"


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


# --------------------------------------------------------------------------
# A kind of check
# --------------------------------------------------------------------------

class Check:
    """One kind of check.  Subclasses set the attributes and :meth:`judge`;
    every other method has a default that adds nothing."""

    #: Key of the check in the report (``checks``, each host's items).
    name = ""
    #: In lines such as ``pc2: units: not checked in this run``.
    title = ""
    #: One checked thing, counted in lines such as ``(6 units)``.
    noun = ""
    #: Key of a host's results that holds the module's registered result.
    result_key = ""
    #: At most one item per host: the host's entry is the item or ``None``.
    single = False
    #: Where the columns and details go in a host's section (``BEFORE_GROUPS``...).
    section = AFTER_GROUPS
    #: Columns of the group table in the terminal and in Markdown.
    text_columns: Tuple[Column, ...] = ()
    markdown_columns: Tuple[Column, ...] = ()
    #: ``(style name, Mermaid linkStyle)`` of the edges the check draws, in order.
    edge_styles: Tuple[Tuple[str, str], ...] = ()
    #: What the check's edges mean, under the diagram's title.
    diagram_legend = ""

    @property
    def heading(self) -> str:
        """The title as a heading or column: ``Units``, ``Health sockets``."""
        return self.title[:1].upper() + self.title[1:]

    def not_checked(self, host: HostInput) -> Cause:
        return Cause(PHASE, host.name, check=self.name)

    def item(self, host: HostInput, **fields: Any) -> Item:
        """A new item of this check, skipped until judged."""
        item: Item = {"check": self.name}
        item.update(fields)
        item.update(status=SKIPPED, reason=NOT_CHECKED, cause=self.not_checked(host))
        return item

    # -- judging -----------------------------------------------------------

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        """The host's items: ``result`` is the module's registered result
        (``None``: the phase did not run), judged against ``host.plan``."""
        raise NotImplementedError

    def notes(self, host: str, items: Sequence[Item]) -> List[str]:
        """Things that passed but deserve a look."""
        return []

    def degraded_agent(self, host: str, item: Item) -> str:
        """``host/agent`` of a degraded item, where the agent runs."""
        return "%s/%s" % (host, item.get("name"))

    def describe(self, host: str, item: Item) -> str:
        """One line naming an item: host, kind of check and what it is about."""
        return "%s: %s" % (host, self.title)

    def problem(self, host: str, item: Item) -> str:
        """The problem line of a failed item."""
        return "%s: %s" % (self.describe(host, item), item["reason"])

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        """The items that belong to the group of the plan's ``unit``."""
        return []

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        """What the check adds to a group's summary, from the group's items."""
        return {}

    # -- presenting --------------------------------------------------------

    def text_lines(self, host: Mapping[str, Any]) -> List[str]:
        """The check's lines in a host's terminal section: for a single-item
        check, ``  Heading: status -- reason``."""
        item = host.get(self.name) if self.single else None
        return ["  %s: %s -- %s" % (self.heading, item["status"], item["reason"])] if item else []

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        """The check's details in a host's Markdown section."""
        return []

    def diagram_label(self, group: Mapping[str, Any]) -> Optional[str]:
        """A line the check adds to a group's node, or None."""
        return None

    def diagram_edges(self, host: str, report: Mapping[str, Any]) -> List[Edge]:
        """The edges the check draws from the host's report."""
        return []


# --------------------------------------------------------------------------
# GPU
# --------------------------------------------------------------------------

class GpuCheck(Check):
    """``gpu_facts``: a usable driver, the planned GPU model and VRAM budgets that fit."""

    name, title, noun, result_key = "gpu", "GPU", "GPU check", "gpu"
    single = True
    section = BEFORE_GROUPS

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

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        gpu = host.get(self.name)
        if not gpu:
            return []
        return ["", "### %s" % self.heading, ""] + table(
            ["Expected", "Found", "Driver", "CUDA", "Result", "Detail"],
            [[gpu["expected_model"], ", ".join(str(g.get("name")) for g in gpu["gpus"]),
              gpu["driver_version"], gpu["cuda_driver_version"], status_cell(gpu["status"]), gpu["reason"]]])


# --------------------------------------------------------------------------
# CUDA
# --------------------------------------------------------------------------

class CudaCheck(Check):
    """``cuda_check``: a CUDA kernel ran in every GPU container (``checks.cuda`` of the plan).

    The module's ``status`` per container is the verdict; a failure is shown
    as its failed step and error. A container with a VRAM budget
    (``checks.cuda_budgets``) carries the module's budget verdict: enforced
    (CUDA MPS refused the allocation over it), not enforced (no MPS: a
    warning, never a pass), skipped (lab, no driver) or failed (its step).
    """

    name, title, noun, result_key = "cuda", "CUDA", "CUDA check", "cuda"
    text_columns = (Column("CUDA", lambda g, group, host: group["cuda"] or "-", 8),)
    markdown_columns = (Column("CUDA", lambda g, group, host: status_cell(group["cuda"]) if group["cuda"]
                               else "-"),)

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        containers = list((host.plan.get("checks") or {}).get("cuda") or [])
        ran = result is not None and isinstance(result.get("results"), list) \
            and bool(result["results"] or not containers)
        by_name = {}
        if ran:
            by_name = {str(r.get("container")): r for r in result["results"] if isinstance(r, Mapping)}
        items: List[Item] = []
        budgets = (host.plan.get("checks") or {}).get("cuda_budgets") or {}
        for container in containers:
            item = self.item(host, container=container, group=container, failed_step=None, error=None,
                             gpus=[], driver_version=None, lab=None, budget_mib=budgets.get(container),
                             budget=None, budget_reason=None)
            items.append(item)
            if result is None:
                continue
            if not ran:
                item.update(status=FAILED, reason="cuda_check did not run: %s" % error_text(result),
                            cause=Cause(MODULE, host.name, check=self.name))
                continue
            item["cause"] = None
            entry = by_name.get(container)
            if entry is None:
                item.update(status=FAILED, reason="cuda_check returned no result for this container")
                continue
            item.update(failed_step=entry.get("failed_step"), error=entry.get("error"),
                        gpus=[g.get("name") for g in entry.get("gpus") or [] if isinstance(g, Mapping)],
                        driver_version=entry.get("driver_version"), lab=entry.get("lab"))
            budget = entry.get("budget")
            if isinstance(budget, Mapping):
                item.update(budget=budget.get("status"), budget_reason=budget.get("reason"))
            item.update(self._verdict(entry))
        return items

    def notes(self, host: str, items: Sequence[Item]) -> List[str]:
        return ["%s: CUDA in %s: %s" % (host, i["container"], i["budget_reason"] or
                                        "VRAM budget of %s MiB not enforced" % i["budget_mib"])
                for i in items if i.get("budget") == BUDGET_NOT_ENFORCED]

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

    def describe(self, host: str, item: Item) -> str:
        return "%s: CUDA in %s" % (host, item["container"])

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["container"] == unit.get("container")][:1]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        return {"cuda": items[0]["status"] if items else None}

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        if not host.get(self.name):
            return []
        return ["", "### %s" % self.heading, ""] + table(
            ["Container", "Result", "GPUs", "Driver", "VRAM budget", "Reason"],
            [[c["container"], status_cell(c["status"]), ", ".join(str(g) for g in c["gpus"]),
              c["driver_version"], budget_cell(c.get("budget_mib"), c.get("budget")), c["reason"]]
             for c in host[self.name]])


BUDGET_NOT_ENFORCED = "not_enforced"
_BUDGET_CELLS = {"enforced": "enforced", BUDGET_NOT_ENFORCED: "NOT ENFORCED (no MPS)", "skipped": "SKIPPED",
                 "failed": Markup("**FAILED**")}


def budget_cell(mib: Any, status: Optional[str]) -> str:
    """A container's VRAM budget and its verdict as a Markdown cell."""
    if mib is None:
        return "-"
    return Markup("%s MiB, %s" % (md_text(mib), _BUDGET_CELLS.get(status or "", "not checked")))


# --------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------

UNIT_FIELDS = ("active_state", "sub_state", "health", "restarts", "active_since", "uptime_s",
               "container_state", "container_started_at")


def _unit_state(group: Mapping[str, Any]) -> str:
    if group["unit"] == SKIPPED or group["active_state"] is None:
        return "-" if group["unit"] != FAILED else "?"
    return "%s/%s" % (group["active_state"], group["sub_state"] or "?")


def _active_since(name: str, host: Mapping[str, Any]) -> Any:
    return next((u["active_since"] for u in host["units"] if u["group"] == name), None)


class UnitsCheck(Check):
    """``unit_health``: every group's unit (``units`` of the plan).

    ``unit_health``'s ``ok`` and ``problem`` per unit are the verdict; the
    plan adds one rule the module cannot know: a unit the plan gives a health
    check must run a container that has one.
    """

    name, title, noun, result_key = "units", "units", "unit", "units"
    section = UNDER_GROUPS
    text_columns = (
        Column("UNIT", lambda g, group, host: _unit_state(group), 20),
        Column("HEALTH", lambda g, group, host: group["health"] or "-", 10),
        Column("RESTARTS", lambda g, group, host: "-" if group["restarts"] is None else str(group["restarts"]),
               8),
    )
    markdown_columns = (
        Column("Unit", lambda g, group, host: group["service"]),
        Column("State", lambda g, group, host: _unit_state(group)),
        Column("Health", lambda g, group, host: group["health"]),
        Column("Restarts", lambda g, group, host: group["restarts"]),
        Column("Active since", lambda g, group, host: _active_since(g, host)),
    )

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        planned = list(host.plan.get("units") or [])
        ran = result is not None and isinstance(result.get("units"), list) \
            and bool(result["units"] or not planned)
        by_service = {}
        if ran:
            by_service = {str(u.get("service")): u for u in result["units"] if isinstance(u, Mapping)}
        items: List[Item] = []
        for unit in planned:
            item = self.item(host, group=unit["group"], service=unit["service"], container=unit.get("container"),
                             healthcheck=bool(unit.get("healthcheck")), **{key: None for key in UNIT_FIELDS})
            items.append(item)
            if result is None:
                continue
            if not ran:
                item.update(status=FAILED, reason="unit_health did not run: %s" % error_text(result),
                            cause=Cause(MODULE, host.name, check=self.name))
                continue
            item["cause"] = None
            state = by_service.get(unit["service"])
            if state is None:
                item.update(status=FAILED, reason="unit_health returned no result for this unit")
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

    def notes(self, host: str, items: Sequence[Item]) -> List[str]:
        return ["%s: unit %s was restarted %d times by systemd" % (host, i["service"], i["restarts"])
                for i in items if i["restarts"]]

    def describe(self, host: str, item: Item) -> str:
        return "%s: unit %s" % (host, item["service"])

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["group"] == unit["group"]][:1]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        item = items[0] if items else {}
        return {"unit": item.get("status"), "active_state": item.get("active_state"),
                "sub_state": item.get("sub_state"), "health": item.get("health"),
                "restarts": item.get("restarts")}

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        units = [u for u in host[self.name] if u["status"] != PASSED]
        if not units:
            return []
        return ["", "Units that did not pass:", ""] + [
            "- %s: %s %s" % (md_code(u["service"]), status_cell(u["status"]), md_cell(u["reason"])) for u in units]

    def diagram_label(self, group: Mapping[str, Any]) -> Optional[str]:
        if not group.get("active_state"):
            return None
        return group["active_state"] + (", " + group["health"] if group["health"] else "")


# --------------------------------------------------------------------------
# Links and health sockets (zmq_check)
# --------------------------------------------------------------------------

class _EveryContainer(Dict[str, Mapping[str, Any]]):
    """The one result of a zmq_check call that returned none per container
    (it could not run at all), as the result of every container."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        super().__init__()
        self.result = result

    def get(self, key: str, default: Any = None) -> Mapping[str, Any]:
        return self.result


def _zmq_by_container(value: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Mapping[str, Any]]]:
    """container -> zmq_check result, from such a mapping, from the registered
    result of one zmq_check call with ``containers`` (its ``containers``), or
    from the registered result of a loop over the plan's ``checks.zmq``
    (``results[].item.container``)."""
    if value is None:
        return None
    if isinstance(value.get("containers"), Mapping):
        value = value["containers"]
    elif "results" not in value and not all(isinstance(v, Mapping) for v in value.values()):
        # A registered result without per-container results: the call failed as a whole.
        return _EveryContainer(value)
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


def answer_text(item: Mapping[str, Any]) -> str:
    """What a link or health socket answered, for passed and degraded ones:
    the round trip, and the agent's words when it was degraded or replied
    something else than a health answer (a ``reachable`` link)."""
    text = rtt_text(item.get("rtt_ms"))
    said = item.get("message")
    if item["status"] == DEGRADED:
        said = "degraded" + (": %s" % said if said else "")
    elif item.get("verdict") == VERDICT_REACHABLE and said:
        said = "replied: %s" % said
    else:
        said = None
    return ", ".join(t for t in (text, said) if t)


def zmq_reason(item: Mapping[str, Any]) -> Optional[str]:
    """The Reason cell of a link or health socket: why it did not pass, or
    what a reachable link's agent replied."""
    if item["status"] == PASSED:
        if item.get("verdict") == VERDICT_REACHABLE and item.get("message"):
            return "replied: %s" % item["message"]
        return None
    if item["status"] == DEGRADED:
        return item["reason"]
    return join(item["reason"], item.get("detail"))


class ZmqCheck(Check):
    """What links and health sockets share: ``zmq_check`` run inside a
    container, one result per endpoint, its ``ok`` and ``verdict`` the verdict."""

    result_key = "zmq"

    def base(self, entry: Mapping[str, Any]) -> Dict[str, Any]:
        """The item's fields from the plan's entry."""
        raise NotImplementedError

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        by_container = _zmq_by_container(result)
        return [self._judge_one(host, by_container, entry)
                for entry in (host.plan.get("checks") or {}).get(self.name) or []]

    def _judge_one(self, host: HostInput, by_container: Optional[Dict[str, Mapping[str, Any]]],
                   entry: Mapping[str, Any]) -> Item:
        item = self.item(host, **self.base(entry))
        item.update(failed_stage=None, detail=None, rtt_ms=None, reply_status=None, verdict=None, message=None)
        if by_container is None:
            return item
        container = str(entry.get("container"))
        result = by_container.get(container)
        if result is None:
            item.update(status=FAILED, failed_stage=CONTAINER_STAGE, cause=None,
                        reason="no ZMQ check ran in container %s" % container)
            return item
        if not isinstance(result.get("endpoints"), list):
            why = error_text(result)
            if container not in why:
                why = "ZMQ checks could not run in container %s: %s" % (container, why)
            item.update(status=FAILED, failed_stage=CONTAINER_STAGE, reason=why,
                        cause=Cause(CONTAINER, host.name, container=container))
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
        item.update(self._verdict(entry, found, item))
        listening = found.get("listening")
        if item["status"] == FAILED and isinstance(listening, Mapping) and listening.get("text"):
            # Nothing answered on the declared port: what the container listens on instead.
            item["listening"] = {"container": listening.get("container"), "ports": listening.get("ports")}
            item["reason"] = "%s; %s" % (item["reason"], listening["text"])
        return item

    @staticmethod
    def _verdict(entry: Mapping[str, Any], found: Mapping[str, Any], item: Item) -> Dict[str, Any]:
        """zmq_check's ``ok`` and ``verdict`` for one endpoint, with the reason to show."""
        message = item["message"]
        if found.get("ok"):
            rtt = rtt_text(found.get("rtt_ms")) or "n/a"
            if entry.get("kind") == "greeting":
                zmtp = found.get("zmtp") or {}
                return {"status": PASSED,
                        "reason": "ZMQ greeting from a %s socket" % (zmtp.get("socket_type") or "ZMQ")}
            if item["verdict"] == VERDICT_DEGRADED:
                # Alive and serving, but the agent says it is degraded.
                text = "status %s" % (item["reply_status"] or VERDICT_DEGRADED)
                return {"status": DEGRADED, "reason": "%s: %s" % (text, message) if message else text}
            if item["verdict"] == VERDICT_REACHABLE:
                # A link that is not strict: any well-formed reply proves it.
                text = "reachable, rtt median %s" % rtt
                return {"status": PASSED, "reason": "%s, replied: %s" % (text, message) if message else text}
            return {"status": PASSED, "reason": "status %s, rtt median %s" % (item["reply_status"] or "ok", rtt)}
        reason = str(found.get("reason") or "failed")
        if message and message not in reason:
            reason += "; replied: %s" % message
        return {"status": FAILED, "failed_stage": found.get("failed_stage") or "unknown", "reason": reason,
                "detail": found.get("detail")}

    def where(self, item: Item) -> str:
        return "%s:%s (%s)" % (item["address"], item["port"], item["kind"])

    def problem(self, host: str, item: Item) -> str:
        text = "%s: %s failed: %s" % (self.describe(host, item), item["failed_stage"], item["reason"])
        if item.get("detail"):
            text += " (%s)" % item["detail"]
        return text


LINK_EDGE_STYLES = (
    ("broken", "stroke:#dc2626,stroke-width:2px,color:#dc2626"),
    ("degraded", "stroke:#ea580c,stroke-width:2px,color:#c2410c"),
    ("unchecked", "stroke:#ca8a04"),
)


BLOCKED_BEFORE_HOST = "blocked before the host (Windows / Hyper-V firewall?)"


def blocked_before_host(item: Mapping[str, Any], peer: Optional[Mapping[str, Any]]) -> bool:
    """Whether a failed cross-host link was most likely dropped before the
    target host: its TCP connect timed out, the target is a WSL2 host (whose
    LAN traffic passes Windows' Hyper-V firewall first) and the target's own
    nftables table is loaded as planned, so it admits the link."""
    if item.get("status") != FAILED or item.get("failed_stage") != "tcp" or not item.get("cross_host"):
        return False
    if not str(item.get("reason") or "").startswith("timed out"):
        return False
    if not peer or not peer.get("wsl"):
        return False
    firewall = peer.get("firewall")
    return (isinstance(firewall, Mapping) and firewall.get("matches") is True
            and firewall.get("file_matches") is not False)


class LinksCheck(ZmqCheck):
    """Every agent a group ``connects_to`` answers, from inside the consuming
    container (``checks.links`` of the plan); an edge of the diagram each."""

    name, title, noun = "links", "links", "link"
    text_columns = (Column("LINKS", lambda g, group, host: ratio(group["links"]), 7),)
    markdown_columns = (Column("Links", lambda g, group, host: ratio(group["links"])),)
    edge_styles = LINK_EDGE_STYLES
    diagram_legend = (
        "Solid edges: the link answered (agent, median round trip; `reachable` when the agent "
        "answered the health request with something else, orange and `degraded` when it said it "
        "is degraded). Dotted: broken (the stage that failed) or not checked. Orange groups run "
        "a degraded agent or link to one.")

    def base(self, entry: Mapping[str, Any]) -> Dict[str, Any]:
        return {"from_group": entry.get("from_group"), "container": entry.get("container"),
                "name": entry.get("name"), "to_host": entry.get("to_host"), "to_group": entry.get("to_group"),
                "address": entry.get("address"), "port": entry.get("port"), "kind": entry.get("kind", "main"),
                "cross_host": bool(entry.get("cross_host")), "note": entry.get("note") or ""}

    def _judge_one(self, host: HostInput, by_container: Optional[Dict[str, Mapping[str, Any]]],
                   entry: Mapping[str, Any]) -> Item:
        item = super()._judge_one(host, by_container, entry)
        if blocked_before_host(item, host.peer(item.get("to_host"))):
            item["reason"] = "%s; %s: %s's own table admits it" % (
                item["reason"], BLOCKED_BEFORE_HOST, item["to_host"])
        # What the plan knows about why this link cannot work (a localhost
        # link across network namespaces) goes with its failure.
        if item.get("status") == FAILED and item.get("note") and item["note"] not in (item.get("reason") or ""):
            item["reason"] = "%s -- %s" % (item.get("reason") or "failed", item["note"])
        return item

    def degraded_agent(self, host: str, item: Item) -> str:
        return "%s/%s" % (item.get("to_host") or host, item.get("name"))

    def describe(self, host: str, item: Item) -> str:
        return "%s: link %s -> %s/%s %s %s" % (host, item["from_group"], item["to_host"], item["to_group"],
                                               item["name"], self.where(item))

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["from_group"] == unit["group"]]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        return {"links": counts(items)}

    def text_lines(self, host: Mapping[str, Any]) -> List[str]:
        links = host[self.name]
        lines = []
        remote = [i for i in links if i["cross_host"]]
        if remote:
            lines.append("  links to other hosts:")
            for item in remote:
                answer = answer_text(item) if item["status"] in (PASSED, DEGRADED) else ""
                lines.append("    %-26s -> %s/%s %s:%s  %s" % (
                    item["from_group"], item["to_host"], item["name"], item["address"], item["port"],
                    answer or item["status"]))
        broken = sum(1 for i in links if i["status"] == FAILED)
        if broken:
            lines.append("  broken links: %d" % broken)
        degraded = sum(1 for i in links if i["status"] == DEGRADED)
        if degraded:
            lines.append("  links to degraded agents: %d" % degraded)
        return lines

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        if not host[self.name]:
            return []
        return ["", "### %s" % self.heading, ""] + table(
            ["From", "Agent", "To", "Address", "Kind", "Result", "RTT median", "Failed stage", "Reason"],
            [[i["from_group"], i["name"], "%s/%s" % (i["to_host"], i["to_group"]),
              "%s:%s" % (i["address"], i["port"]), i["kind"], status_cell(i["status"]),
              rtt_text(i.get("rtt_ms")), i.get("failed_stage"), zmq_reason(i)] for i in host[self.name]])

    def diagram_edges(self, host: str, report: Mapping[str, Any]) -> List[Edge]:
        """Solid with the agent and round trip (orange when the agent is
        degraded); dotted and red when broken; dotted when not checked."""
        edges = []
        for item in report[self.name]:
            source, target = (host, item["from_group"]), (item["to_host"], item["to_group"])
            agent = mermaid_text(item["name"])
            if item["status"] in (PASSED, DEGRADED):
                rtt = rtt_text(item.get("rtt_ms")) or ("ZMTP" if item["kind"] == "greeting" else "ok")
                style = None
                if item["status"] == DEGRADED:
                    rtt += " degraded"
                    style = "degraded"
                elif item.get("verdict") == VERDICT_REACHABLE:
                    rtt += " reachable"
                edges.append(Edge(source, target, "%s %s" % (agent, mermaid_text(rtt)), style=style))
            elif item["status"] == FAILED:
                why = "%s: %s" % (item["failed_stage"], item["reason"]) if item.get("failed_stage") \
                    else "not verified"
                edges.append(Edge(source, target, "broken %s %s" % (agent, mermaid_text(why)), dotted=True,
                                  style="broken"))
            else:
                edges.append(Edge(source, target, "not checked %s" % agent, dotted=True, style="unchecked"))
        return edges


class HealthCheck(ZmqCheck):
    """Every agent's own health socket answers healthy on 127.0.0.1 inside
    its container (``checks.health`` of the plan)."""

    name, title, noun = "health", "health sockets", "health socket"
    text_columns = (Column("SOCKETS", lambda g, group, host: ratio(group["health_sockets"]), 7),)
    markdown_columns = (Column("Health sockets", lambda g, group, host: ratio(group["health_sockets"])),)

    def base(self, entry: Mapping[str, Any]) -> Dict[str, Any]:
        return {"group": entry.get("group"), "container": entry.get("container"), "name": entry.get("name"),
                "address": entry.get("address"), "port": entry.get("port"), "kind": entry.get("kind", "health")}

    def describe(self, host: str, item: Item) -> str:
        return "%s: health socket %s/%s %s" % (host, item["group"], item["name"], self.where(item))

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["group"] == unit["group"]]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        # The group's own agents that said they are degraded.
        return {"health_sockets": counts(items),
                "degraded_agents": sorted({str(i["name"]) for i in items if i["status"] == DEGRADED})}

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        if not host[self.name]:
            return []
        return ["", "### %s" % self.heading, ""] + table(
            ["Group", "Agent", "Port", "Result", "RTT median", "Failed stage", "Reason"],
            [[i["group"], i["name"], i["port"], status_cell(i["status"]), rtt_text(i.get("rtt_ms")),
              i.get("failed_stage"), zmq_reason(i)] for i in host[self.name]])

    def diagram_label(self, group: Mapping[str, Any]) -> Optional[str]:
        agents = group.get("degraded_agents")
        return "degraded: " + " ".join(agents) if agents else None


# --------------------------------------------------------------------------
# Firewall
# --------------------------------------------------------------------------

class FirewallCheck(Check):
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

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        item = host.get(self.name)
        if not item:
            return []
        lines = ["", "### %s" % self.heading, ""] + table(
            ["Table", "File", "Result", "Detail"],
            [[item["table"], item["path"], status_cell(item["status"]), item["reason"]]])
        for label, key in (("Missing", "missing"), ("Not planned", "extra")):
            if item[key] and item["present"] is not False:
                lines += ["", "%s:" % label, ""] + ["- %s" % md_code(line) for line in item[key]]
        return lines


class MonitoringCheck(Check):
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

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        item = host.get(self.name)
        if not item:
            return []
        lines = ["", "### %s" % self.heading, ""] + table(
            ["Exporter", "Address", "Result", "Detail"],
            [[e.get("host"), e.get("instance"), status_cell(e.get("status")), e.get("reason")]
             for e in item["exporters"]] or [["-", "-", status_cell(item["status"]), item["reason"]]])
        if item["firing"]:
            lines += ["", "Firing alerts:", ""] + [
                "- %s %s" % (md_code(a.get("alertname")), md_text(a.get("summary") or ""))
                for a in item["firing"]]
        return lines


#: Every kind of check, in the order of the report.
REGISTRY: Tuple[Check, ...] = (GpuCheck(), CudaCheck(), UnitsCheck(), LinksCheck(), HealthCheck(),
                               FirewallCheck(), MonitoringCheck())


def registry(checks: Optional[Sequence[Check]] = None) -> Tuple[Check, ...]:
    """``checks``, or the registry."""
    return tuple(checks) if checks is not None else REGISTRY


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------

def _cause_line(cause: Cause, items: Sequence[Item], by_name: Mapping[str, Check]) -> str:
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


def _lines(host: str, items: Sequence[Item], status: str, by_name: Mapping[str, Check]) -> List[str]:
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


def _groups(plan: Mapping[str, Any], checks: Sequence[Check],
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


def _host_report(host: HostInput, checks: Sequence[Check]) -> Dict[str, Any]:
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


def _timestamp(now: Optional[datetime]) -> datetime:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).replace(microsecond=0)


def _topology(plan_hosts: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Every planned host's groups, so the diagram shows hosts that were not verified too."""
    return {name: {"lan_address": plan.get("lan_address"),
                   "groups": [u["group"] for u in plan.get("units") or []]}
            for name, plan in sorted(plan_hosts.items())}


def build_report(plan_hosts: Mapping[str, Mapping[str, Any]], results: Mapping[str, Any],
                 hosts: Optional[Sequence[str]] = None, now: Optional[datetime] = None,
                 fail_on_skip: bool = False, fail_on_degraded: bool = False,
                 checks: Optional[Sequence[Check]] = None) -> Dict[str, Any]:
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
    ``checks``: the kinds of check (default :data:`REGISTRY`).
    """
    checks = registry(checks)
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
        "generated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
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
