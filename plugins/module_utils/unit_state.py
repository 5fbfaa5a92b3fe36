# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""State of a group's systemd unit and of its container, and the verdict on it.

Pure Python (3.8+), no Ansible imports: the ``unit_health`` module uses it on
the managed host to parse ``systemctl show`` and ``podman inspect``, and the
controller-side report uses :func:`judge_unit` to judge the same data, so a
unit is judged the same way everywhere.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

# What `systemctl show` is asked for, in this order.
SYSTEMD_PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "UnitFileState",
    "NRestarts",
    "MainPID",
    "ExecMainStatus",
    "ActiveEnterTimestamp",
    "ActiveEnterTimestampMonotonic",
)

# Longest health check output kept in a result.
HEALTH_OUTPUT_MAX = 300


def systemctl_show_command(systemctl: str, services: Sequence[str], user: bool = False) -> List[str]:
    """argv of one ``systemctl show`` for every service."""
    argv = [systemctl]
    if user:
        argv.append("--user")
    argv += ["show", "--no-pager", "--property=" + ",".join(SYSTEMD_PROPERTIES), "--"]
    return argv + list(services)


def podman_inspect_command(podman: str, containers: Sequence[str]) -> List[str]:
    """argv of one ``podman container inspect`` for every container."""
    return [podman, "container", "inspect", "--format", "json", "--"] + list(containers)


def parse_systemctl_show(text: str) -> List[Dict[str, str]]:
    """``systemctl show`` output of several units -> one dict per unit, in order.

    Units are separated by an empty line; each line is ``Key=Value`` (the
    value may itself contain ``=``).
    """
    blocks: List[Dict[str, str]] = []
    current: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip()] = value
    if current:
        blocks.append(current)
    return blocks


def _int(value: Any) -> Optional[int]:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def systemd_state(props: Mapping[str, str], now_monotonic: Optional[float] = None) -> Dict[str, Any]:
    """The part of a unit's state the checks use, from its ``systemctl show`` properties.

    ``uptime_s`` is computed from ``ActiveEnterTimestampMonotonic`` (CLOCK_MONOTONIC,
    in microseconds) when the unit is active and ``now_monotonic`` is given.
    """
    active_state = props.get("ActiveState") or None
    entered = _int(props.get("ActiveEnterTimestampMonotonic"))
    uptime = None
    if active_state == "active" and entered and now_monotonic is not None:
        uptime = round(max(0.0, now_monotonic - entered / 1e6), 1)
    return {
        "load_state": props.get("LoadState") or None,
        "active_state": active_state,
        "sub_state": props.get("SubState") or None,
        "result": props.get("Result") or None,
        "unit_file_state": props.get("UnitFileState") or None,
        "restarts": _int(props.get("NRestarts")),
        "main_pid": _int(props.get("MainPID")) or None,
        "exit_status": _int(props.get("ExecMainStatus")),
        "active_since": props.get("ActiveEnterTimestamp") or None,
        "active_enter_monotonic_us": entered or None,
        "uptime_s": uptime,
    }


def parse_podman_inspect(text: str) -> List[Dict[str, Any]]:
    """``podman container inspect --format json`` output -> its list of containers.

    Raises ``ValueError`` when the output is not a JSON list.  Podman prints
    the containers it found even when it fails for others, so the caller
    parses stdout whatever the exit status.
    """
    if not text.strip():
        return []
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("expected a JSON list, got %s" % type(data).__name__)
    return [item for item in data if isinstance(item, dict)]


def find_container(inspected: Sequence[Mapping[str, Any]], name: str) -> Optional[Mapping[str, Any]]:
    """The inspected container called ``name`` (or whose ID starts with it)."""
    for item in inspected:
        if str(item.get("Name", "")).lstrip("/") == name:
            return item
    for item in inspected:
        if len(name) >= 12 and str(item.get("Id", "")).startswith(name):
            return item
    return None


def container_state(item: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The part of a container's state the checks use, from its ``podman inspect`` entry."""
    if item is None:
        return {
            "container_exists": False, "container_id": None, "container_state": None,
            "container_started_at": None, "container_exit_code": None,
            "container_oom_killed": None, "health": None, "health_failing_streak": None,
            "health_output": None,
        }
    state = item.get("State") or {}
    health = state.get("Health") or state.get("Healthcheck") or {}
    log = health.get("Log") or []
    last = log[-1] if log and isinstance(log[-1], dict) else {}
    output = str(last.get("Output") or "").strip()
    if len(output) > HEALTH_OUTPUT_MAX:
        output = output[:HEALTH_OUTPUT_MAX] + "..."
    started = state.get("StartedAt") or None
    if started and started.startswith("0001-01-01"):
        started = None
    return {
        "container_exists": True,
        "container_id": str(item.get("Id", ""))[:12] or None,
        "container_state": state.get("Status") or None,
        "container_started_at": started,
        "container_exit_code": _int(state.get("ExitCode")),
        "container_oom_killed": bool(state.get("OOMKilled")),
        "health": health.get("Status") or None,
        "health_failing_streak": _int(health.get("FailingStreak")),
        "health_output": output or None,
    }


def judge_unit(unit: Mapping[str, Any], expect_health: Optional[bool] = None) -> Tuple[bool, Optional[str]]:
    """(ok, problem) for one unit's state as :func:`systemd_state` and
    :func:`container_state` describe it.

    ``expect_health``: ``True`` when the unit defines a health check (a
    container without one is then a problem), ``False`` or ``None`` when it
    need not.  A health check that is present must be ``healthy``.
    """
    load = unit.get("load_state")
    if load == "not-found":
        return False, ("unit not found (is the Quadlet file installed and "
                       "`systemctl daemon-reload` run?)")
    if load not in (None, "loaded"):
        return False, "unit is %s" % load
    active, sub = unit.get("active_state"), unit.get("sub_state")
    if active != "active":
        text = "unit is %s (%s)" % (active or "unknown", sub or "unknown")
        if active == "activating" and sub == "start":
            text += ": still starting (a unit with Notify=healthy waits for its health check)"
        if unit.get("result") not in (None, "", "success"):
            text += ", result %s" % unit["result"]
        if unit.get("exit_status"):
            text += ", exit status %s" % unit["exit_status"]
        if unit.get("restarts"):
            text += ", restarted %d times" % unit["restarts"]
        return False, text
    container = unit.get("container")
    if not container:
        return True, None
    if not unit.get("container_exists"):
        return False, "unit is active but container %s does not exist" % container
    cstate = unit.get("container_state")
    if cstate != "running":
        text = "container %s is %s" % (container, cstate or "in an unknown state")
        if unit.get("container_oom_killed"):
            text += " (killed: out of memory)"
        elif unit.get("container_exit_code"):
            text += " (exit code %s)" % unit["container_exit_code"]
        return False, text
    health = unit.get("health")
    if health in (None, ""):
        if expect_health:
            return False, "container %s has no health check, but its unit defines one" % container
        return True, None
    if health == "healthy":
        return True, None
    if health == "starting":
        return False, "container %s health check has not passed yet (starting)" % container
    text = "container %s is %s" % (container, health)
    if unit.get("health_failing_streak"):
        text += " (%d failed checks in a row)" % unit["health_failing_streak"]
    if unit.get("health_output"):
        text += ": %s" % " ".join(str(unit["health_output"]).split())
    return False, text
