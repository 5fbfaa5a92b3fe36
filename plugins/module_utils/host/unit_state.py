# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""State of a group's systemd unit and of its container, and the judgement on it.

Pure Python (3.8+), no Ansible imports.  On the managed host,
:func:`read_unit_states` reads every unit with one ``systemctl show`` and every
container with one ``podman container inspect``; :func:`judge` says whether a
unit is ``ok``, ``waiting`` or ``failed`` and why.  The deploy's wait
(``stack_units``), ``unit_health`` and the controller-side report all judge
with :func:`judge`, so a unit is judged the same way everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

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

# Restarts by systemd while a unit is still converging after which it counts
# as crash-looping: it will not settle, so waiting longer is pointless.
CRASH_LOOP_RESTARTS = 3

# Verdicts of :func:`judge`.
OK = "ok"
WAITING = "waiting"
FAILED = "failed"

# A command runner: argv -> (rc, stdout, stderr), like AnsibleModule.run_command.
Runner = Callable[[List[str]], Tuple[int, str, str]]


def name_problem(option: str, value: Any, what: str, tools: str = "systemctl and podman",
                 article: str = "a") -> Optional[str]:
    """Why ``value`` cannot be the ``what`` (unit, container, image ...) named by
    ``option`` on the command line of ``tools``; None when it can.

    A name is refused when it is empty, starts with ``-`` (the tools would read
    it as an option) or holds white space or a control character.
    """
    if not isinstance(value, str) or not value.strip():
        return "%s must be %s %s name, got %r" % (option, article, what, value)
    if value.startswith("-"):
        return ("%s %r is not %s %s name: it starts with '-', which %s "
                "would read as an option" % (option, value, article, what, tools))
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "%s %r is not %s %s name: it holds white space or a control character" % (
            option, value, article, what)
    return None


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

def systemctl_show_command(systemctl: str, services: Sequence[str], user: bool = False,
                           properties: Sequence[str] = SYSTEMD_PROPERTIES) -> List[str]:
    """argv of one ``systemctl show`` for every service."""
    argv = [systemctl]
    if user:
        argv.append("--user")
    argv += ["show", "--no-pager", "--property=" + ",".join(properties), "--"]
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


def first_line(text: str) -> str:
    """The first non-empty line of a command's output, for an error message."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def read_systemd(runner: Runner, systemctl: str, services: Sequence[str],
                 user: bool = False, properties: Sequence[str] = SYSTEMD_PROPERTIES,
                 ) -> Tuple[List[Dict[str, str]], Optional[str]]:
    """(``systemctl show`` properties per service in the order asked, error).

    ``properties`` must include ``Id``: a block without it is not a unit's.
    """
    if not services:
        return [], None
    rc, out, err = runner(systemctl_show_command(systemctl, services, user, properties))
    if rc != 0:
        return [], "systemctl show failed (rc=%d): %s" % (rc, first_line(err or out))
    blocks = parse_systemctl_show(out)
    if len(blocks) != len(services):
        return [], "systemctl show returned %d unit(s) for the %d asked for: %s" % (
            len(blocks), len(services), first_line(out or err))
    for name, block in zip(services, blocks):
        if not block.get("Id"):
            return [], ("systemctl show printed no unit properties for %s (no Id=): %s"
                        % (name, first_line(out)))
    return blocks, None


def read_containers(runner: Runner, podman: str,
                    containers: Sequence[str]) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """(inspected containers, error).  A container that does not exist is not an
    error here: Podman then still prints the others and exits 125."""
    if not containers:
        return [], None
    rc, out, err = runner(podman_inspect_command(podman, containers))
    try:
        inspected = parse_podman_inspect(out)
    except ValueError as exc:
        return [], "podman container inspect printed no JSON (rc=%d): %s -- %s" % (
            rc, first_line(err or out), exc)
    if rc != 0 and "no such" not in (err or "").lower():
        return [], "podman container inspect failed (rc=%d): %s" % (rc, first_line(err or out))
    return inspected, None


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


def find_container(inspected: Sequence[Mapping[str, Any]], name: str) -> Optional[Mapping[str, Any]]:
    """The inspected container called ``name`` (or whose ID starts with it)."""
    for item in inspected:
        if str(item.get("Name", "")).lstrip("/") == name:
            return item
    for item in inspected:
        if len(name) >= 12 and str(item.get("Id", "")).startswith(name):
            return item
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> Optional[str]:
    """A string field of Podman's JSON as text; None when empty or not a string."""
    return value if isinstance(value, str) and value else None


def container_state(item: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The part of a container's state the checks use, from its ``podman inspect`` entry.

    Fields of an unexpected type read as unknown (None), never as an error.
    """
    if item is None:
        return {
            "container_exists": False, "container_id": None, "container_state": None,
            "container_started_at": None, "container_exit_code": None,
            "container_oom_killed": None, "health": None, "health_failing_streak": None,
            "health_output": None,
        }
    state = _mapping(item.get("State"))
    health = _mapping(state.get("Health") or state.get("Healthcheck"))
    log = health.get("Log")
    last = _mapping(log[-1]) if isinstance(log, list) and log else {}
    output = str(last.get("Output") or "").strip()
    if len(output) > HEALTH_OUTPUT_MAX:
        output = output[:HEALTH_OUTPUT_MAX] + "..."
    started = _text(state.get("StartedAt"))
    if started and started.startswith("0001-01-01"):
        started = None
    return {
        "container_exists": True,
        "container_id": str(item.get("Id", ""))[:12] or None,
        "container_state": _text(state.get("Status")),
        "container_started_at": started,
        "container_exit_code": _int(state.get("ExitCode")),
        "container_oom_killed": state.get("OOMKilled") is True,
        "health": _text(health.get("Status")),
        "health_failing_streak": _int(health.get("FailingStreak")),
        "health_output": output or None,
    }


def unit_states(units: Sequence[Tuple[str, Optional[str]]], blocks: Sequence[Mapping[str, str]],
                inspected: Sequence[Mapping[str, Any]],
                now_monotonic: Optional[float] = None) -> List[Dict[str, Any]]:
    """One state per ``(service, container)``, from the show blocks (in the same
    order) and the inspected containers: ``service``, ``container`` and the keys
    of :func:`systemd_state` and :func:`container_state`."""
    states = []
    for (service, container), props in zip(units, blocks):
        state: Dict[str, Any] = {"service": service, "container": container or None}
        state.update(systemd_state(props, now_monotonic))
        state.update(container_state(find_container(inspected, container) if container else None))
        states.append(state)
    return states


def read_unit_states(runner: Runner, systemctl: str, podman: Optional[str],
                     units: Sequence[Tuple[str, Optional[str]]], user: bool = False,
                     monotonic: Optional[Callable[[], float]] = None,
                     blocks: Optional[Sequence[Dict[str, str]]] = None,
                     ) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """(one state per ``(service, container)`` in order, error): one
    ``systemctl show`` for every unit, then one ``podman container inspect`` for
    every container.  ``podman`` may be None when no unit names a container.
    ``blocks``: the units' ``systemctl show`` properties (SYSTEMD_PROPERTIES)
    when the caller has just read them; then systemd is not asked again."""
    if blocks is None:
        blocks, error = read_systemd(runner, systemctl, [service for service, dummy in units], user)
        if error:
            return [], error
    elif len(blocks) != len(units):
        return [], "%d systemd states given for %d units" % (len(blocks), len(units))
    now = monotonic() if monotonic is not None else None
    containers = sorted({container for dummy, container in units if container})
    inspected: List[Dict[str, Any]] = []
    if containers:
        if not podman:
            return [], "podman is needed to read the containers %s" % ", ".join(containers)
        inspected, error = read_containers(runner, podman, containers)
        if error:
            return [], error
    return unit_states(units, blocks, inspected, now), None


# --------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Judgement:
    """The verdict on one unit.

    ``verdict`` is :data:`OK`, :data:`WAITING` (not there yet, but it may still
    get there) or :data:`FAILED`; ``problem`` says what is wrong in one line
    (None when ok); ``description`` is the state in a few words, for example
    ``active/running, health unhealthy, 3 restarts``.
    """

    verdict: str
    problem: Optional[str]
    description: str

    @property
    def ok(self) -> bool:
        return self.verdict == OK


def describe(state: Mapping[str, Any], expect_health: Optional[bool] = None) -> str:
    """A unit's state in a few words: ``active/running, health healthy, 2 restarts``."""
    parts = ["%s/%s" % (state.get("active_state") or "unknown", state.get("sub_state") or "unknown")]
    if state.get("container"):
        if not state.get("container_exists"):
            parts.append("no container")
        elif state.get("container_state") != "running":
            parts.append("container %s" % (state.get("container_state") or "unknown"))
        elif state.get("health") or expect_health:
            parts.append("health %s" % (state.get("health") or "none"))
    if state.get("restarts"):
        parts.append("%d restarts" % state["restarts"])
    return ", ".join(parts)


def _problem(state: Mapping[str, Any], expect_health: Optional[bool],
             failed_dependencies: Sequence[str]) -> Tuple[Optional[str], bool]:
    """(what is wrong, whether it is final whatever happens next); (None, True) when ok."""
    load = state.get("load_state")
    if load == "not-found":
        return ("unit not found (is the Quadlet file installed and "
                "`systemctl daemon-reload` run?)"), True
    if load not in (None, "loaded"):
        return "unit is %s" % load, True
    active, sub = state.get("active_state"), state.get("sub_state")
    if active != "active":
        text = "unit is %s (%s)" % (active or "unknown", sub or "unknown")
        if active == "activating" and sub == "start":
            text += ": still starting (a unit with Notify=healthy waits for its health check)"
        if state.get("result") not in (None, "", "success"):
            text += ", result %s" % state["result"]
        if state.get("exit_status"):
            text += ", exit status %s" % state["exit_status"]
        if state.get("restarts"):
            text += ", restarted %d times" % state["restarts"]
        if active == "inactive" and failed_dependencies:
            # systemd dropped its start job: it stays down until started again.
            return text + ": dependency %s failed" % ", ".join(failed_dependencies), True
        return text, active == "failed"
    container = state.get("container")
    if not container:
        return None, True
    if not state.get("container_exists"):
        return "unit is active but container %s does not exist" % container, False
    cstate = state.get("container_state")
    if cstate != "running":
        text = "container %s is %s" % (container, cstate or "in an unknown state")
        if state.get("container_oom_killed"):
            text += " (killed: out of memory)"
        elif state.get("container_exit_code"):
            text += " (exit code %s)" % state["container_exit_code"]
        return text, False
    health = state.get("health")
    if health in (None, ""):
        if expect_health:
            return "container %s has no health check, but its unit defines one" % container, False
        return None, True
    if health == "healthy":
        return None, True
    if health == "starting":
        return "container %s health check has not passed yet (starting)" % container, False
    # Unhealthy is not final: HealthOnFailure=kill stops the container and
    # systemd restarts its unit.
    text = "container %s is %s" % (container, health)
    if state.get("health_failing_streak"):
        text += " (%d failed checks in a row)" % state["health_failing_streak"]
    if state.get("health_output"):
        text += ": %s" % " ".join(str(state["health_output"]).split())
    return text, False


def judge(state: Mapping[str, Any], expect_health: Optional[bool] = None,
          failed_dependencies: Iterable[str] = (), converging: bool = False,
          restarted: int = 0) -> Judgement:
    """The verdict on one unit's state, as :func:`unit_states` gives it.

    ``expect_health``: True when the unit defines a health check (a running
    container without one is then a problem).  ``failed_dependencies``: the
    services this unit depends on that failed; an inactive unit whose
    dependency failed is failed (systemd dropped its start job).

    ``converging``: False judges the state as final: a unit is ok or failed.
    True judges a unit that was just started or restarted: what may still
    settle (activating, inactive, no container yet, health check starting or
    unhealthy) is ``waiting``; what will not (failed, not found, masked, a
    dependency failed) is ``failed``, and so is a unit systemd ``restarted``
    :data:`CRASH_LOOP_RESTARTS` times or more while converging.  The problem
    text is the same in both modes.
    """
    problem, final = _problem(state, expect_health, tuple(failed_dependencies))
    description = describe(state, expect_health)
    if problem is None:
        return Judgement(OK, None, description)
    if final or not converging:
        return Judgement(FAILED, problem, description)
    if restarted >= CRASH_LOOP_RESTARTS:
        return Judgement(FAILED, "%s; crash loop: systemd restarted it %d times since it was "
                         "started" % (problem, restarted), description)
    return Judgement(WAITING, problem, description)
