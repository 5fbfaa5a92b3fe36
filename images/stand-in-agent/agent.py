"""Stand-in for the system's ZMQ agents.

Binds, for every agent the deployment plan gives this container, a ZMQ REP
socket on the agent's main port and one on its health port, and answers
them the way the real agent does. The real agents do not all answer alike,
so each agent plays a *profile* (default ``base``):

``base``
    BaseAgent. Health port: any request gets the full BaseAgent health
    reply (``status``, ``ready``, ``initialized``, ``message``,
    ``timestamp`` (ISO 8601, UTC), ``uptime``, ``active_threads``,
    ``health_status`` and ``health_checks`` {``redis_connected``,
    ``ready_signal``, ``port_accessible``}): ``status`` "ok" and
    ``health_status`` "healthy", then, ``AI_SYSTEM_STANDIN_DEGRADE_AFTER``
    seconds after start (BaseAgent's Redis "ready" key expires after 300 s),
    ``status`` and ``health_status`` "degraded" with
    ``health_checks.ready_signal`` false; ``ready`` and ``initialized`` stay
    true and the agent keeps serving. Main port:
    ``{"action": "ping" | "health" | "health_check"}`` gets the health reply,
    any other action ``{"status": "error", "error": "Unknown action: <action>"}``
    and a request that is not a JSON object an error reply.
``memory-client``
    MemoryClient. Health reply: ``status`` "HEALTHY" (never degrades) plus
    ``service`` (the agent's name), ``request_count`` (requests this agent
    has received on either port, this one included), ``uptime_seconds`` and
    the base fields. Main port as ``base``.
``knowledge-base``
    KnowledgeBase. Health reply: exactly ``status`` "HEALTHY", ``service``,
    ``request_count``, ``timestamp`` (epoch seconds, a float) and
    ``uptime_seconds``. Main port as ``base``.
``unknown-action-error``
    SystemDigitalTwin, whose own request handler knows none of the health
    actions: the main port answers every request
    ``{"status": "error", "error": "Unknown action: <action>"}``. Health
    port as ``base``.
``unknown-action-message``
    MemoryOrchestratorService, HealthMonitor: the same with the text under
    ``"message"`` instead of ``"error"``.
``command``
    UnifiedWebAgent, which dispatches on ``"command"``: the main port
    answers ``{"command": "ping" | "health" | "health_check"}`` with the
    health reply and anything else with
    ``{"status": "error", "message": "Unknown command: <command>"}`` (a
    request with only ``"action"`` has command None). Health port as
    ``base``.
``broken``
    A health handler that raises (MemoryOrchestratorService at the original
    HEAD): every health reply is ``{"status": "error", "error":
    "'<Agent>' object has no attribute 'error_bus_pub'"}``, on the health
    port and for the main port's health actions. Main port as ``base``.

The agent list comes from the JSON file named by ``AI_SYSTEM_CONFIG``
(default ``/etc/ai-system/endpoints.json``)::

    {"group": "core-services", "host": "mainpc",
     "agents": {"SystemDigitalTwin": {"port": 7120, "health_port": 8120}},
     "endpoints": {...}}

and, when that file does not exist, from ``AI_SYSTEM_AGENTS``
(``Name:port:health_port,Name2:port:health_port``). Other keys of an
agent's entry (``socket``, ...) are ignored: every agent, a PUB one too, is
served by two REP sockets.

Other settings:

* ``AI_SYSTEM_STANDIN_PROFILES``: ``Agent=profile,Agent2=profile``; agents
  not listed play ``base``, entries for agents this container does not serve
  are ignored (one list may serve a whole host). A malformed entry or an
  unknown profile is a configuration error.
* ``AI_SYSTEM_STANDIN_DEGRADE_AFTER``: seconds after start at which the
  profiles with BaseAgent's health reply turn "degraded" (default 300); a
  value <= 0 means never.
* ``AI_SYSTEM_STANDIN_STATUS``: any value but ``ok`` makes every health
  reply carry that status (and, where the reply has them, ``ready`` and
  ``initialized`` false), whatever the profile: for fault tests.
* ``AI_SYSTEM_BIND_ADDRESS``: the interface to bind (default ``*``).
* ``AI_SYSTEM_STANDIN_BIND_PORTS``: ``Agent=port:health_port,...``: these
  agents bind the ports given here instead of their declared ones, as real
  agents that ignore their configuration do (for tests of "nothing on the
  declared port; the container listens on ..."). Entries for agents this
  container does not serve are ignored; a malformed entry is a
  configuration error.

The application's contract (docs/application.md):

* ``AI_SYSTEM_STANDIN_AGENT_GROUPS``: when set, the stand-in behaves as the
  original system's starter: this list (``core_services,memory_system``) is
  its configuration's ``agent_groups``, and it reads ``CONTAINER_GROUP``
  from the environment and looks it up there. A name that is missing or not
  listed (``core-services`` with a hyphen) starts nothing: it prints
  ``no agents found for container group ...`` and exits 3, as the original
  starter logs that no agents were found and exits.
* ``AI_SYSTEM_STANDIN_CALLS``: ``Agent=host:port,...``: at start, each
  listed agent this container serves calls that peer as the real agents
  register with SystemDigitalTwin at ``localhost:7120``: it sends
  ``{"action": "health_check"}`` and waits for any reply, retrying for
  ``AI_SYSTEM_STANDIN_CALL_TIMEOUT`` seconds (default 30). It prints
  ``<Agent>: reached <host>:<port> ...`` or ``<Agent>: cannot reach
  <host>:<port> ...``; an agent that could not reach its peer keeps serving
  but reports ``degraded`` with the reason in its health message.

Prints one line per agent (its sockets and profile). Exits 0 on SIGTERM or
SIGINT, 2 on a configuration error, 3 when ``CONTAINER_GROUP`` names no
group of ``AI_SYSTEM_STANDIN_AGENT_GROUPS`` and 1 when a port cannot be
bound.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import zmq

DEFAULT_CONFIG = "/etc/ai-system/endpoints.json"
HEALTH_ACTIONS = frozenset({"ping", "health", "health_check"})
DEFAULT_DEGRADE_AFTER = 300.0
DEFAULT_CALL_TIMEOUT = 30.0
NO_AGENTS_EXIT = 3

#: Profile -> (health reply kind, main-port kind).
PROFILES: Dict[str, Tuple[str, str]] = {
    "base": ("base", "action"),
    "memory-client": ("memory-client", "action"),
    "knowledge-base": ("knowledge-base", "action"),
    "unknown-action-error": ("base", "unknown-action-error"),
    "unknown-action-message": ("base", "unknown-action-message"),
    "command": ("base", "command"),
    "broken": ("broken", "action"),
}
DEFAULT_PROFILE = "base"


class ConfigError(Exception):
    """The agent list is missing or malformed."""


class Agent(NamedTuple):
    name: str
    port: int
    health_port: int


def _port(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected a port number, got {value!r}")
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: expected a port number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{what}: port {port} is outside 1-65535")
    return port


def agents_from_config(data: Any, source: str) -> Tuple[List[Agent], Dict[str, Any]]:
    """Agents and context (group, host) from the plan's endpoints document."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    agents = data.get("agents")
    if not isinstance(agents, dict) or not agents:
        raise ConfigError(f"{source}: 'agents' must be a non-empty object")
    result = []
    for name, spec in agents.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: agent {name!r} must be an object")
        for key in ("port", "health_port"):
            if key not in spec:
                raise ConfigError(f"{source}: agent {name!r} has no {key!r}")
        result.append(
            Agent(
                name,
                _port(spec["port"], f"{source}: {name}.port"),
                _port(spec["health_port"], f"{source}: {name}.health_port"),
            )
        )
    context = {key: data[key] for key in ("group", "host") if key in data}
    return result, context


def agents_from_env(value: str) -> List[Agent]:
    """Agents from ``Name:port:health_port,...``."""
    result = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 3 or not parts[0]:
            raise ConfigError(
                f"AI_SYSTEM_AGENTS: {item!r} is not Name:port:health_port"
            )
        name, port, health_port = parts
        result.append(
            Agent(
                name,
                _port(port, f"AI_SYSTEM_AGENTS: {name} port"),
                _port(health_port, f"AI_SYSTEM_AGENTS: {name} health port"),
            )
        )
    if not result:
        raise ConfigError("AI_SYSTEM_AGENTS lists no agents")
    return result


def load_agents(environ: Dict[str, str]) -> Tuple[List[Agent], Dict[str, Any], str]:
    """The agent list, its context and where it came from."""
    path = environ.get("AI_SYSTEM_CONFIG") or DEFAULT_CONFIG
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        agents, context = agents_from_config(data, path)
        source = path
    elif environ.get("AI_SYSTEM_AGENTS", "").strip():
        agents, context = agents_from_env(environ["AI_SYSTEM_AGENTS"]), {}
        source = "AI_SYSTEM_AGENTS"
    else:
        raise ConfigError(f"no agent list: {path} does not exist and AI_SYSTEM_AGENTS is not set")

    seen: Dict[int, str] = {}
    for agent in agents:
        for port in (agent.port, agent.health_port):
            if port in seen:
                raise ConfigError(f"port {port} is used by both {seen[port]} and {agent.name}")
            seen[port] = agent.name
    return agents, context, source


def parse_profiles(value: str) -> Dict[str, str]:
    """``Agent=profile,...`` from ``AI_SYSTEM_STANDIN_PROFILES``."""
    valid = ", ".join(PROFILES)
    result: Dict[str, str] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, profile = (part.strip() for part in item.partition("="))
        if not sep or not name or not profile:
            raise ConfigError(
                f"AI_SYSTEM_STANDIN_PROFILES: {item!r} is not Agent=profile "
                f"(profiles: {valid})"
            )
        if profile not in PROFILES:
            raise ConfigError(
                f"AI_SYSTEM_STANDIN_PROFILES: {item!r} names unknown profile {profile!r} "
                f"(profiles: {valid})"
            )
        if name in result and result[name] != profile:
            raise ConfigError(
                f"AI_SYSTEM_STANDIN_PROFILES: {name} is given two profiles, "
                f"{result[name]!r} and {profile!r}"
            )
        result[name] = profile
    return result


def parse_bind_ports(value: str) -> Dict[str, Tuple[int, int]]:
    """``Agent=port:health_port,...`` from ``AI_SYSTEM_STANDIN_BIND_PORTS``."""
    result: Dict[str, Tuple[int, int]] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, ports = (part.strip() for part in item.partition("="))
        port, colon, health = ports.partition(":")
        if not sep or not name or not colon:
            raise ConfigError(f"AI_SYSTEM_STANDIN_BIND_PORTS: {item!r} is not Agent=port:health_port")
        result[name] = (
            _port(port, f"AI_SYSTEM_STANDIN_BIND_PORTS: {name} port"),
            _port(health, f"AI_SYSTEM_STANDIN_BIND_PORTS: {name} health port"),
        )
    return result


def rebind(agents: List[Agent], ports: Dict[str, Tuple[int, int]]) -> List[Agent]:
    """``agents`` with the ports of those named in ``ports`` replaced."""
    return [agent._replace(port=ports[agent.name][0], health_port=ports[agent.name][1])
            if agent.name in ports else agent for agent in agents]


def parse_degrade_after(value: Optional[str]) -> Optional[float]:
    """Seconds from start to "degraded"; None: never."""
    if value is None or not value.strip():
        return DEFAULT_DEGRADE_AFTER
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(
            f"AI_SYSTEM_STANDIN_DEGRADE_AFTER: expected a number of seconds, got {value!r}"
        ) from None
    if math.isnan(seconds):
        raise ConfigError(
            f"AI_SYSTEM_STANDIN_DEGRADE_AFTER: expected a number of seconds, got {value!r}"
        )
    if seconds <= 0 or math.isinf(seconds):
        return None
    return seconds


def starter_group(environ: Dict[str, str]) -> Optional[str]:
    """The original starter's lookup: ``CONTAINER_GROUP`` in its
    ``agent_groups`` (``AI_SYSTEM_STANDIN_AGENT_GROUPS``). Returns None when
    the stand-in does not play the starter; raises LookupError with the
    starter's message when the group is not found."""
    known = environ.get("AI_SYSTEM_STANDIN_AGENT_GROUPS")
    if known is None or not known.strip():
        return None
    groups = [g.strip() for g in known.split(",") if g.strip()]
    name = environ.get("CONTAINER_GROUP", "")
    if name not in groups:
        shown = repr(name) if name else "(CONTAINER_GROUP is not set)"
        raise LookupError(
            f"no agents found for container group {shown} in agent_groups "
            f"({', '.join(groups)})"
        )
    return name


def parse_calls(value: str) -> Dict[str, Tuple[str, int]]:
    """``Agent=host:port,...`` from ``AI_SYSTEM_STANDIN_CALLS``."""
    result: Dict[str, Tuple[str, int]] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, target = (part.strip() for part in item.partition("="))
        host, colon, port = target.rpartition(":")
        if not sep or not name or not colon or not host:
            raise ConfigError(f"AI_SYSTEM_STANDIN_CALLS: {item!r} is not Agent=host:port")
        result[name] = (host, _port(port, f"AI_SYSTEM_STANDIN_CALLS: {name}"))
    return result


def parse_call_timeout(value: Optional[str]) -> float:
    if value is None or not value.strip():
        return DEFAULT_CALL_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if math.isnan(seconds) or seconds <= 0 or math.isinf(seconds):
        raise ConfigError(
            f"AI_SYSTEM_STANDIN_CALL_TIMEOUT: expected a positive number of seconds, got {value!r}"
        )
    return seconds


class StandIn:
    """Serves every agent's main and health socket from one poll loop."""

    def __init__(
        self,
        agents: List[Agent],
        bind_address: str = "*",
        status: str = "ok",
        profiles: Optional[Dict[str, str]] = None,
        degrade_after: Optional[float] = DEFAULT_DEGRADE_AFTER,
    ):
        self.agents = agents
        self.bind_address = bind_address
        # None: each profile reports its own status.
        self.status_override = status if status and status != "ok" else None
        profiles = profiles or {}
        self.profiles = {agent.name: profiles.get(agent.name, DEFAULT_PROFILE) for agent in agents}
        self.degrade_after = degrade_after
        self.request_counts = {agent.name: 0 for agent in agents}
        self.started = time.monotonic()
        self.context = zmq.Context()
        self.poller = zmq.Poller()
        # socket -> (agent, is_health_socket)
        self.sockets: Dict[zmq.Socket, Tuple[Agent, bool]] = {}
        self._wakeup_r: Optional[socket.socket] = None
        self._wakeup_w: Optional[socket.socket] = None
        self._stopping = False
        # agent -> why its call to a peer failed (AI_SYSTEM_STANDIN_CALLS)
        self.unreached: Dict[str, str] = {}

    # -- health replies ----------------------------------------------------
    def uptime(self) -> float:
        return time.monotonic() - self.started

    def degraded(self) -> bool:
        """Whether BaseAgent's ready signal has lapsed."""
        return self.degrade_after is not None and self.uptime() >= self.degrade_after

    def base_fields(self, agent: Agent, degrades: bool) -> Dict[str, Any]:
        """BaseAgent's health reply (status "ok" or "degraded")."""
        degraded = degrades and self.degraded()
        if degraded:
            message = (
                f"{agent.name} stand-in degraded: ready signal lapsed "
                f"{self.degrade_after:g}s after start"
            )
        else:
            message = f"{agent.name} stand-in ready"
        return {
            "status": "degraded" if degraded else "ok",
            "ready": True,
            "initialized": True,
            "message": message,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "uptime": self.uptime(),
            "active_threads": threading.active_count(),
            "health_status": "degraded" if degraded else "healthy",
            "health_checks": {
                "redis_connected": True,
                "ready_signal": not degraded,
                "port_accessible": True,
            },
        }

    def health_reply(self, agent: Agent) -> Dict[str, Any]:
        kind = PROFILES[self.profiles[agent.name]][0]
        if kind == "broken":
            reply: Dict[str, Any] = {
                "status": "error",
                "error": f"'{agent.name}' object has no attribute 'error_bus_pub'",
            }
        elif kind == "knowledge-base":
            reply = {
                "status": "HEALTHY",
                "service": agent.name,
                "request_count": self.request_counts[agent.name],
                "timestamp": time.time(),
                "uptime_seconds": self.uptime(),
            }
        elif kind == "memory-client":
            reply = self.base_fields(agent, degrades=False)
            reply.update(
                {
                    "status": "HEALTHY",
                    "service": agent.name,
                    "request_count": self.request_counts[agent.name],
                    "uptime_seconds": self.uptime(),
                }
            )
        else:
            reply = self.base_fields(agent, degrades=True)
        if agent.name in self.unreached and reply.get("status") in ("ok", "HEALTHY"):
            reply["status"] = "degraded"
            if "message" in reply:
                reply["message"] = f"{agent.name} stand-in degraded: {self.unreached[agent.name]}"
                reply["health_status"] = "degraded"
        if self.status_override is not None:
            reply["status"] = self.status_override
            if "ready" in reply:
                reply["ready"] = False
                reply["initialized"] = False
                reply["message"] = f"{agent.name} stand-in reports {self.status_override}"
                reply["health_status"] = "unhealthy"
        return reply

    # -- requests ------------------------------------------------------------
    def reply_to(self, agent: Agent, health_socket: bool, request: bytes) -> Dict[str, Any]:
        self.request_counts[agent.name] += 1
        if health_socket:
            return self.health_reply(agent)
        main_kind = PROFILES[self.profiles[agent.name]][1]
        key = "error" if main_kind in ("action", "unknown-action-error") else "message"
        try:
            message = json.loads(request.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {"status": "error", key: "invalid request: not JSON"}
        if not isinstance(message, dict):
            return {"status": "error", key: "invalid request: expected a JSON object"}
        if main_kind == "command":
            command = message.get("command")
            if command in HEALTH_ACTIONS:
                return self.health_reply(agent)
            return {"status": "error", "message": f"Unknown command: {command}"}
        action = message.get("action")
        if main_kind == "action" and action in HEALTH_ACTIONS:
            return self.health_reply(agent)
        return {"status": "error", key: f"Unknown action: {action}"}

    def bind(self) -> None:
        for agent in self.agents:
            endpoints = []
            for port, health in ((agent.port, False), (agent.health_port, True)):
                sock = self.context.socket(zmq.REP)
                sock.setsockopt(zmq.LINGER, 0)
                endpoint = f"tcp://{self.bind_address}:{port}"
                try:
                    sock.bind(endpoint)
                except zmq.ZMQError as exc:
                    sock.close()
                    raise OSError(f"{agent.name}: cannot bind {endpoint}: {exc}") from None
                self.sockets[sock] = (agent, health)
                self.poller.register(sock, zmq.POLLIN)
                endpoints.append(endpoint)
            print(
                f"{agent.name}: serving {endpoints[0]} (main) and {endpoints[1]} (health), "
                f"profile {self.profiles[agent.name]}",
                flush=True,
            )

    def call_peers(self, calls: Dict[str, Tuple[str, int]], timeout: float) -> None:
        """Each served agent listed in ``calls`` calls its peer once, in its
        own thread, as the real agents register with SystemDigitalTwin."""
        served = {agent.name for agent in self.agents}
        for name, (host, port) in sorted(calls.items()):
            if name in served:
                threading.Thread(target=self._call, args=(name, host, port, timeout),
                                 daemon=True).start()

    def _call(self, name: str, host: str, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        target = f"{host}:{port}"
        last = "no reply"
        while not self._stopping:
            sock = self.context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            wait_ms = int(max(0.1, min(2.0, deadline - time.monotonic())) * 1000)
            sock.setsockopt(zmq.RCVTIMEO, wait_ms)
            sock.setsockopt(zmq.SNDTIMEO, wait_ms)
            try:
                sock.connect(f"tcp://{target}")
                sock.send(json.dumps({"action": "health_check", "agent": name}).encode())
                reply = sock.recv()
            except zmq.ZMQError as exc:
                last = f"no reply ({exc})" if exc.errno != zmq.EAGAIN else "no reply"
            else:
                try:
                    status = json.loads(reply.decode("utf-8")).get("status")
                except (UnicodeDecodeError, ValueError, AttributeError):
                    status = None
                print(f"{name}: reached {target} (it answered status {status})", flush=True)
                return
            finally:
                sock.close(linger=0)
            if time.monotonic() >= deadline:
                break
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        why = f"cannot reach {target}: {last} within {timeout:g} s"
        self.unreached[name] = why
        print(f"{name}: {why}", flush=True)

    def install_signal_handlers(self) -> None:
        # The C-level handler writes to the wakeup socket, which wakes the
        # poll at once; the Python handler only records the request.
        self._wakeup_r, self._wakeup_w = socket.socketpair()
        self._wakeup_r.setblocking(False)
        self._wakeup_w.setblocking(False)
        signal.set_wakeup_fd(self._wakeup_w.fileno())
        self.poller.register(self._wakeup_r.fileno(), zmq.POLLIN)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request_stop)

    def _request_stop(self, signum: int, _frame: Any) -> None:
        self._stopping = True

    def serve(self) -> None:
        while not self._stopping:
            for item, _event in self.poller.poll():
                if not isinstance(item, zmq.Socket):
                    continue  # the wakeup socket: the loop condition decides
                agent, health = self.sockets[item]
                frames = item.recv_multipart(zmq.NOBLOCK)
                reply = self.reply_to(agent, health, frames[0] if frames else b"")
                item.send(json.dumps(reply).encode("utf-8"))

    def close(self) -> None:
        signal.set_wakeup_fd(-1)
        for sock in self.sockets:
            sock.close(linger=0)
        self.sockets.clear()
        self.context.term()
        for end in (self._wakeup_r, self._wakeup_w):
            if end is not None:
                end.close()


def main() -> int:
    try:
        agents, context, source = load_agents(dict(os.environ))
        agents = rebind(agents, parse_bind_ports(os.environ.get("AI_SYSTEM_STANDIN_BIND_PORTS", "")))
        profiles = parse_profiles(os.environ.get("AI_SYSTEM_STANDIN_PROFILES", ""))
        degrade_after = parse_degrade_after(os.environ.get("AI_SYSTEM_STANDIN_DEGRADE_AFTER"))
        calls = parse_calls(os.environ.get("AI_SYSTEM_STANDIN_CALLS", ""))
        call_timeout = parse_call_timeout(os.environ.get("AI_SYSTEM_STANDIN_CALL_TIMEOUT"))
    except ConfigError as exc:
        print(f"stand-in-agent: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        group = starter_group(dict(os.environ))
    except LookupError as exc:
        print(f"stand-in-agent: {exc}", flush=True)
        return NO_AGENTS_EXIT
    if group is not None:
        print(f"stand-in-agent: starting the agents of container group {group}", flush=True)

    where = " ".join(f"{key}={value}" for key, value in sorted(context.items()))
    print(
        f"stand-in-agent: {len(agents)} agent(s) from {source}" + (f" ({where})" if where else ""),
        flush=True,
    )
    server = StandIn(
        agents,
        bind_address=os.environ.get("AI_SYSTEM_BIND_ADDRESS") or "*",
        status=os.environ.get("AI_SYSTEM_STANDIN_STATUS") or "ok",
        profiles=profiles,
        degrade_after=degrade_after,
    )
    server.install_signal_handlers()
    try:
        server.bind()
        server.call_peers(calls, call_timeout)
        server.serve()
    except OSError as exc:
        print(f"stand-in-agent: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        server.close()
    print("stand-in-agent: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
