# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions for bringing a host's Quadlet units to their wanted state.

Pure functions (no Ansible imports) over plain data, so each decision is unit
tested: which services to stop, restart and start, and what "healthy" means.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Sequence, Set, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.quadlet import (
    service_name as service_of,
)
from ansible_collections.ai_system.containers.plugins.module_utils.unit_state import (
    parse_systemctl_show,
)


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


def parse_show(text: str) -> Dict[str, Dict[str, str]]:
    """`systemctl show -p Id,ActiveState,... a b` output -> {Id: {prop: value}}."""
    return {props["Id"]: props for props in parse_systemctl_show(text) if props.get("Id")}


def plan_actions(units: Sequence[Mapping[str, Any]], states: Mapping[str, Mapping[str, str]],
                 restart: Iterable[str]) -> Tuple[List[str], List[str]]:
    """(to_start, to_restart): restart what changed and runs, start what does not run."""
    wanted_restart: Set[str] = set(restart)
    to_start, to_restart = [], []
    for unit in units:
        svc = unit["service"]
        active = states.get(svc, {}).get("ActiveState") in ("active", "activating", "reloading")
        if svc in wanted_restart and active:
            to_restart.append(svc)
        elif not active:
            to_start.append(svc)
    return to_start, to_restart


def unit_verdict(unit: Mapping[str, Any], state: Mapping[str, str], health: str,
                 failed_services: Iterable[str] = ()) -> str:
    """'ok', 'waiting' or 'failed' for one unit.

    A unit systemd gave up on is failed; so is one that stays inactive because
    a dependency failed (its start job was dropped). An unhealthy container is
    still waiting: its health check kills it and systemd restarts it.
    """
    active = state.get("ActiveState", "")
    if active == "failed":
        return "failed"
    if active == "inactive" and set(unit.get("depends_on", ())) & set(failed_services):
        return "failed"
    if active != "active":
        return "waiting"
    if unit.get("healthcheck") and health != "healthy":
        return "waiting"
    return "ok"


def describe(unit: Mapping[str, Any], state: Mapping[str, str], health: str) -> str:
    parts = ["%s/%s" % (state.get("ActiveState", "unknown"), state.get("SubState", "unknown"))]
    if unit.get("healthcheck"):
        parts.append("health %s" % (health or "unknown"))
    if state.get("NRestarts") not in (None, "", "0"):
        parts.append("%s restarts" % state["NRestarts"])
    return ", ".join(parts)
