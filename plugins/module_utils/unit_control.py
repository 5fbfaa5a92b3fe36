# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions for bringing a host's Quadlet units to their wanted state.

Pure functions (no Ansible imports) over plain data, so each decision is unit
tested: which services to stop, restart and start, and how one poll of the
wait for them is judged (with :func:`unit_state.judge`, as everywhere else).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Sequence, Set, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.quadlet import (
    service_name as service_of,
)
from ansible_collections.ai_system.containers.plugins.module_utils.unit_state import (
    FAILED, Judgement, judge,
)

# systemd ActiveStates of a unit that runs or is on its way to running.
RUNNING_STATES = ("active", "activating", "reloading")


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


def judge_poll(units: Sequence[Mapping[str, Any]], states: Sequence[Mapping[str, Any]],
               first_restarts: Mapping[str, int]) -> List[Judgement]:
    """The judgement of each unit in one poll of the wait after a start.

    ``units`` are the plan's, in start order, so a dependency is judged before
    the units that depend on it; ``states`` are :func:`unit_state.unit_states`
    of the same units; ``first_restarts`` is each service's restart count at
    the first poll, to tell a crash loop.
    """
    failed: Set[str] = set()
    out = []
    for unit, state in zip(units, states):
        service = unit["service"]
        restarted = (state.get("restarts") or 0) - first_restarts.get(service, 0)
        judgement = judge(state, expect_health=bool(unit.get("healthcheck")),
                          failed_dependencies=[d for d in unit.get("depends_on", ()) if d in failed],
                          converging=True, restarted=restarted)
        if judgement.verdict == FAILED:
            failed.add(service)
        out.append(judgement)
    return out


def restart_counts(states: Sequence[Mapping[str, Any]]) -> Dict[str, int]:
    """Each service's systemd restart count, from :func:`unit_state.unit_states`."""
    return {state["service"]: state.get("restarts") or 0 for state in states}
