# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions for bringing a host's Quadlet units to their wanted state.

Pure functions (no Ansible imports) over plain data, so each decision is unit
tested: which services to stop, restart and start, which containers and units
are orphans, and how one poll of the wait for them is judged (with
:func:`unit_state.judge`, as everywhere else).

The record of what is applied
-----------------------------
A unit's *inputs* are what its running container was made from: the digest of
its unit file, of each endpoint map and watched host file, and the identity of
each secret (Podman's ID and update time, so a re-created secret differs).
After a unit came up healthy, the host keeps its inputs and their hash in a
record (:func:`record_text`). A unit whose wanted inputs differ from the
record, or that has no record, is *stale*: it is restarted (or started), and
recorded again once healthy. A run that dies between writing files and
restarting leaves its units stale for the next run; nothing depends on the
interrupted run's own list of what it changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    PlanShapeError, UnitPlan,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet import (
    service_name as service_of,
)
from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import (
    FAILED, OK, WAITING, Judgement, judge, name_problem,
)

# systemd ActiveStates of a unit that runs or is on its way to running.
RUNNING_STATES = ("active", "activating", "reloading")

# The labels every container of the plan carries, and the one Podman adds to a
# container that a systemd unit runs.
MANAGED_LABEL = "io.ai-system.managed-by"
MANAGED_VALUE = "ai_system.containers"
SYSTEMD_UNIT_LABEL = "PODMAN_SYSTEMD_UNIT"

RECORD_FORMAT = 1
# What a unit's record says when an input file or secret does not exist.
ABSENT = None

_CONTAINER_ID_RE = re.compile(r"[0-9a-f]{12,64}\Z")


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------

def _relative_problem(option: str, path: Any) -> Optional[str]:
    if not isinstance(path, str) or not path:
        return "%s must be a path, got %r" % (option, path)
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or any(
            ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return ("%s %r must be relative, without '.', '..', empty segments or control "
                "characters" % (option, path))
    return None


def _absolute_problem(option: str, path: Any) -> Optional[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        return "%s must be an absolute path, got %r" % (option, path)
    if any(p in (".", "..") for p in path.split("/")) or any(
            ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "%s %r must not hold '.', '..' or control characters" % (option, path)
    return None


def units_problem(units: Sequence[Any]) -> Optional[str]:
    """The first problem with stack_units' ``units`` option, or None.

    Each unit must have the plan's shape (:meth:`UnitPlan.from_dict`, which
    locates a missing, unknown or mistyped key); then every name that reaches
    a command line is checked (:func:`name_problem`), and every file name
    must stay under the directory it is read from.
    """
    seen: Dict[str, Set[str]] = {"service": set(), "container": set()}
    for index, raw in enumerate(units):
        where = "units[%d]" % index
        try:
            unit = UnitPlan.from_dict(raw, where)
        except PlanShapeError as exc:
            return "%s; pass the plan's units (plan.units)" % exc
        for key, what in (("service", "unit"), ("container", "container"),
                          ("unit_file", "unit file")):
            problem = name_problem("%s.%s" % (where, key), getattr(unit, key), what)
            if problem:
                return problem
        if "/" in unit.unit_file:
            return "%s.unit_file %r must be a file name, without '/'" % (where, unit.unit_file)
        for key in ("service", "container"):
            if getattr(unit, key) in seen[key]:
                return "%s.%s %r is listed twice" % (where, key, getattr(unit, key))
            seen[key].add(getattr(unit, key))
        for key, check in (("secrets", lambda o, v: name_problem(o, v, "secret")),
                           ("config_files", _relative_problem),
                           ("restart_on_change", _absolute_problem),
                           ("depends_on", lambda o, v: name_problem(o, v, "unit"))):
            for position, value in enumerate(getattr(unit, key)):
                problem = check("%s.%s[%d]" % (where, key, position), value)
                if problem:
                    return problem
    return None


def names_problem(option: str, names: Iterable[Any], what: str) -> Optional[str]:
    """The first name of ``names`` that cannot reach a command line, or None."""
    for position, name in enumerate(names):
        problem = name_problem("%s[%d]" % (option, position), name, what)
        if problem:
            return problem
    return None


def removed_services(removed_files: Iterable[str]) -> List[str]:
    """Services to stop because their .container file was removed."""
    return [service_of(f) for f in sorted(removed_files) if f.endswith(".container")]


def restart_set(units: Sequence[Mapping[str, Any]], changed_files: Iterable[str],
                changed_secrets: Iterable[str]) -> List[str]:
    """Services whose unit file, endpoint map or secret changed, in unit order."""
    files = set(changed_files)
    secrets = set(changed_secrets)
    out = []
    for unit in units:
        touched = unit["unit_file"] in files or any(
            c in files for c in unit.get("config_files", ())) or any(
            s in secrets for s in unit.get("secrets", ()))
        if touched:
            out.append(unit["service"])
    return out


# --------------------------------------------------------------------------
# The record of what is applied
# --------------------------------------------------------------------------

def unit_inputs(unit_file: Optional[str], config_files: Mapping[str, Optional[str]],
                watched: Mapping[str, Optional[str]],
                secrets: Mapping[str, Optional[str]]) -> Dict[str, Any]:
    """A unit's inputs: digests of its files (None for a missing one) and its
    secrets' identities (None for a missing secret)."""
    return {"unit_file": unit_file, "config_files": dict(config_files),
            "restart_on_change": dict(watched), "secrets": dict(secrets)}


def inputs_hash(inputs: Mapping[str, Any]) -> str:
    """One sha256 over a unit's inputs, independent of key order."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_entry(unit: Mapping[str, Any], inputs: Mapping[str, Any]) -> Dict[str, Any]:
    """What the record keeps of a unit that came up healthy from ``inputs``."""
    return {"hash": inputs_hash(inputs), "unit_file": unit["unit_file"],
            "container": unit["container"], "inputs": dict(inputs)}


def parse_record(text: Optional[str]) -> Tuple[Dict[str, Dict[str, Any]], Optional[str]]:
    """(entries by service, why the text is not a usable record or None).

    A missing record (``None`` or empty text) is an empty one. A record that
    cannot be read is treated as empty too, so every unit is restarted once.
    """
    if text is None or not text.strip():
        return {}, None
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, "it is not JSON (%s)" % exc
    if not isinstance(data, Mapping) or data.get("format") != RECORD_FORMAT \
            or not isinstance(data.get("units"), Mapping):
        return {}, "it is not a record of format %d" % RECORD_FORMAT
    entries = {}
    for service, entry in data["units"].items():
        if isinstance(entry, Mapping) and isinstance(entry.get("hash"), str):
            entries[str(service)] = dict(entry)
    return entries, None


def record_text(entries: Mapping[str, Mapping[str, Any]]) -> str:
    """The record's file text: stable, so an unchanged record is never rewritten."""
    return json.dumps({"format": RECORD_FORMAT, "units": entries}, sort_keys=True,
                      indent=2) + "\n"


def stale_reasons(wanted: Mapping[str, Any], recorded: Optional[Mapping[str, Any]]) -> List[str]:
    """Why a unit does not run what its inputs say ([] when it does, as recorded)."""
    if not recorded:
        return ["no record of what it runs"]
    if recorded.get("hash") == inputs_hash(wanted):
        return []
    before = recorded.get("inputs")
    before = before if isinstance(before, Mapping) else {}
    reasons = []
    if before.get("unit_file") != wanted["unit_file"]:
        reasons.append("unit file changed")
    for key, text in (("config_files", "%s changed"), ("restart_on_change", "%s changed"),
                      ("secrets", "secret %s changed")):
        old = before.get(key)
        old = old if isinstance(old, Mapping) else {}
        new = wanted.get(key) or {}
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                reasons.append(text % name)
    return reasons or ["its record differs"]


def stale_units(units: Sequence[Mapping[str, Any]], wanted: Mapping[str, Mapping[str, Any]],
                record: Mapping[str, Mapping[str, Any]]) -> Dict[str, List[str]]:
    """{service: reasons} of every stale unit."""
    out = {}
    for unit in units:
        reasons = stale_reasons(wanted[unit["service"]], record.get(unit["service"]))
        if reasons:
            out[unit["service"]] = reasons
    return out


def record_after(record: Mapping[str, Mapping[str, Any]], units: Sequence[Mapping[str, Any]],
                 wanted: Mapping[str, Mapping[str, Any]], healthy: Iterable[str] = (),
                 stale: Iterable[str] = ()) -> Dict[str, Dict[str, Any]]:
    """The record to keep: only the plan's units; a stale unit's entry dropped
    (until it is healthy again); every ``healthy`` unit recorded from its
    wanted inputs."""
    by_service = {u["service"]: u for u in units}
    dropped = set(stale)
    out = {s: dict(e) for s, e in record.items() if s in by_service and s not in dropped}
    for service in healthy:
        out[service] = record_entry(by_service[service], wanted[service])
    return out


# --------------------------------------------------------------------------
# Orphans
# --------------------------------------------------------------------------

def orphan_containers(units: Sequence[Mapping[str, Any]],
                      listed: Sequence[Any]) -> List[Dict[str, Any]]:
    """Containers of ``podman ps -a --format json`` that carry the plan's
    managed-by label but are not the plan's: a name no unit has (a pruned group,
    an interrupted prune), or a plan name run by another unit than the plan's
    (a renamed unit prefix).

    Each: ``{container, id, service, state}``; ``service`` is the unit that runs
    it (Podman's ``PODMAN_SYSTEMD_UNIT`` label) when that label is a usable unit
    name, else None; ``id`` is its full ID when usable, else None.
    """
    wanted = {u["container"]: u["service"] for u in units}
    out = []
    for item in listed:
        if not isinstance(item, Mapping):
            continue
        labels = item.get("Labels")
        labels = labels if isinstance(labels, Mapping) else {}
        if labels.get(MANAGED_LABEL) != MANAGED_VALUE:
            continue
        names = item.get("Names")
        name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) \
            else item.get("Name")
        name = name if isinstance(name, str) else None
        service = labels.get(SYSTEMD_UNIT_LABEL)
        if not isinstance(service, str) or not service.endswith(".service") \
                or name_problem("label", service, "unit"):
            service = None
        if name in wanted and service in (None, wanted[name]):
            continue
        cid = item.get("Id")
        cid = cid if isinstance(cid, str) and _CONTAINER_ID_RE.match(cid) else None
        state = item.get("State")
        out.append({"container": name, "id": cid, "service": service,
                    "state": state if isinstance(state, str) else None})
    return out


def removable_container(orphan: Mapping[str, Any]) -> Optional[str]:
    """The argument ``podman rm -f --`` takes for an orphan: its ID, or its name
    when Podman gave no usable ID; None when neither can be passed safely."""
    if orphan.get("id"):
        return orphan["id"]
    name = orphan.get("container")
    if name and not name_problem("container", name, "container"):
        return name
    return None


def orphan_units(plan_services: Iterable[str], candidates: Sequence[Mapping[str, Any]]
                 ) -> List[Dict[str, Any]]:
    """The loaded units to stop, and unit files to remove, that are not the plan's.

    Each candidate: ``service``, ``active_state``, ``source`` (the unit's
    Quadlet file when it lies in the plan's Quadlet directory and is a
    ``.container`` file, else None), ``source_state`` (``ours``: it exists and
    carries the collection's marker; ``foreign``: it exists without it;
    ``gone``: it does not exist; None without a source) and ``known``
    (its container carries the managed-by label, it is in the record, its
    generated unit carries the label, or this run removed its file).

    A unit is an orphan when it is not in the plan and either its file is
    ours, or it is known. Its file is removed when it is ours; it is stopped
    when it runs or is on its way to running. A foreign file is never
    touched, nor a unit only a foreign file proves.
    """
    planned = set(plan_services)
    out = []
    for cand in candidates:
        service = cand["service"]
        if service in planned:
            continue
        ours = cand.get("source_state") == "ours"
        if not (ours or cand.get("known")):
            continue
        stop = cand.get("active_state") in RUNNING_STATES
        remove = cand["source"] if ours else None
        if stop or remove:
            out.append({"service": service, "stop": stop, "remove_file": remove})
    return out


def plan_actions(units: Sequence[Mapping[str, Any]], states: Mapping[str, Mapping[str, str]],
                 restart: Iterable[str]) -> Tuple[List[str], List[str]]:
    """(to_start, to_restart): restart what changed and runs, start what does not run.

    ``states``: ``systemctl show`` properties by service.
    """
    wanted_restart: Set[str] = set(restart)
    to_start, to_restart = [], []
    for unit in units:
        svc = unit["service"]
        active = states.get(svc, {}).get("ActiveState") in RUNNING_STATES
        if svc in wanted_restart and active:
            to_restart.append(svc)
        elif not active:
            to_start.append(svc)
    return to_start, to_restart


def checks_to_hasten(units: Sequence[Mapping[str, Any]], states: Sequence[Mapping[str, Any]],
                     judgements: Sequence[Judgement]) -> List[str]:
    """The containers whose health check the wait runs at once, in unit order.

    Podman runs a container's first check when it starts, usually before its
    agents listen, and the next one a whole interval later; with
    ``Notify=healthy`` the unit, and every unit that requires it, waits for
    that. A container the wait is waiting for, running, with a health check
    whose status is still ``starting`` and no failure counted yet
    (``FailingStreak`` 0: inside its start period a failure does not count),
    has its check run early. Once a failure counts (after the start period)
    only the container's own timer runs it, so the wait never brings a
    container closer to ``unhealthy`` than one check would.
    """
    out = []
    for unit, state, judgement in zip(units, states, judgements):
        if (judgement.verdict == WAITING and unit.get("healthcheck") and unit.get("container")
                and state.get("container_exists") and state.get("container_state") == "running"
                and state.get("health") == "starting" and not state.get("health_failing_streak")):
            out.append(unit["container"])
    return out


def judge_poll(units: Sequence[Mapping[str, Any]], states: Sequence[Mapping[str, Any]],
               first_restarts: Mapping[str, int],
               restarted_after: Optional[Mapping[str, int]] = None) -> List[Judgement]:
    """The judgement of each unit in one poll of the wait after a start.

    ``units`` are the plan's, in start order, so a dependency is judged before
    the units that depend on it; ``states`` are :func:`unit_state.unit_states`
    of the same units; ``first_restarts`` is each service's restart count at
    the first poll, to tell a crash loop. ``restarted_after``: for each service
    that was asked to restart, when it last became active before that
    (``ActiveEnterTimestampMonotonic``); until it became active again later, it
    still runs the old container and is waited for.
    """
    failed: Set[str] = set()
    out = []
    before = restarted_after or {}
    for unit, state in zip(units, states):
        service = unit["service"]
        restarted = (state.get("restarts") or 0) - first_restarts.get(service, 0)
        judgement = judge(state, expect_health=bool(unit.get("healthcheck")),
                          failed_dependencies=[d for d in unit.get("depends_on", ()) if d in failed],
                          converging=True, restarted=restarted)
        entered = state.get("active_enter_monotonic_us")
        if judgement.ok and service in before and entered is not None \
                and entered <= before[service]:
            judgement = Judgement(WAITING, "the restart has not happened yet",
                                  judgement.description)
        if judgement.verdict == FAILED:
            failed.add(service)
        out.append(judgement)
    return out


def restart_counts(states: Sequence[Mapping[str, Any]]) -> Dict[str, int]:
    """Each service's systemd restart count, from :func:`unit_state.unit_states`."""
    return {state["service"]: state.get("restarts") or 0 for state in states}


# --------------------------------------------------------------------------
# Progress of the wait
# --------------------------------------------------------------------------

def unit_word(entry: Mapping[str, Any]) -> str:
    """What a unit of the wait's report is doing, in a word or two
    (``activating``, ``starting``, ``unhealthy``, ``no container``, ...)."""
    active = entry.get("active") or "unknown"
    if active != "active":
        return active
    health = entry.get("health") or ""
    if health == "absent":
        return "no container"
    if health and health != "healthy":
        return health
    if entry.get("verdict") == WAITING:
        return "restart pending"
    return entry.get("sub") or active


def track_since(report: Sequence[Mapping[str, Any]], before: Mapping[str, Any],
                started: float, now: float) -> Dict[str, List[Any]]:
    """{service: [word, since]} of every unit that is not ok: since when it is
    doing what :func:`unit_word` says, as far as the polls saw; ``started`` for
    a unit that did so since the wait began."""
    out: Dict[str, List[Any]] = {}
    for entry in report:
        if entry.get("verdict") == OK:
            continue
        word = unit_word(entry)
        old = before.get(entry["service"])
        if isinstance(old, (list, tuple)) and len(old) == 2 and old[0] == word \
                and isinstance(old[1], (int, float)):
            out[entry["service"]] = [word, old[1]]
        else:
            out[entry["service"]] = [word, started if not before else now]
    return out


def progress_line(report: Sequence[Mapping[str, Any]], since: Mapping[str, Sequence[Any]],
                  now: float) -> str:
    """One line on the wait: ``4/6 healthy; waiting for core (starting, 34 s),
    app (activating, 12 s); failed: db (failed, 3 s)``."""
    def listed(entries: Sequence[Mapping[str, Any]]) -> str:
        parts = []
        for entry in entries:
            word, start = since.get(entry["service"]) or (unit_word(entry), now)
            parts.append("%s (%s, %d s)" % (entry["group"], word, max(0, int(now - start))))
        return ", ".join(parts)

    ok = [e for e in report if e.get("verdict") == OK]
    waiting = [e for e in report if e.get("verdict") == WAITING]
    failed = [e for e in report if e.get("verdict") == FAILED]
    line = "%d/%d healthy" % (len(ok), len(report))
    if waiting:
        line += "; waiting for " + listed(waiting)
    if failed:
        line += "; failed: " + listed(failed)
    return line


def wait_state_problem(state: Any) -> Optional[str]:
    """The first problem with stack_units' ``wait_state`` option, or None."""
    if not isinstance(state, Mapping):
        return "wait_state must be the wait_state of the call before, got %r" % (state,)
    for key, kind in (("deadline", (int, float)), ("started", (int, float)),
                      ("timeout", int), ("restarted_after", Mapping), ("since", Mapping)):
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            return "wait_state.%s is missing or not a %s; pass the wait_state of the call " \
                "before" % (key, "mapping" if kind is Mapping else "number")
    first = state.get("first_restarts")
    if first is not None and not isinstance(first, Mapping):
        return "wait_state.first_restarts must be a mapping"
    return None
