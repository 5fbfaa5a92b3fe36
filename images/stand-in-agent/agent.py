"""Stand-in for the system's ZMQ agents.

Binds, for every agent the deployment plan gives this container, a ZMQ REP
socket on the agent's main port and one on its health port, and answers the
agents' health protocol on both:

* health port: any request is answered with the health reply;
* main port: ``{"action": "ping" | "health" | "health_check"}`` is answered
  with the health reply, any other action or a request that is not a JSON
  object with an error reply.

The agent list comes from the JSON file named by ``AI_SYSTEM_CONFIG``
(default ``/etc/ai-system/endpoints.json``)::

    {"group": "core-services", "host": "mainpc",
     "agents": {"SystemDigitalTwin": {"port": 7120, "health_port": 8120}},
     "endpoints": {...}}

and, when that file does not exist, from ``AI_SYSTEM_AGENTS``
(``Name:port:health_port,Name2:port:health_port``).

Other settings: ``AI_SYSTEM_BIND_ADDRESS`` (interface to bind, default
``*``) and ``AI_SYSTEM_STANDIN_STATUS`` (the status to report, default
``ok``; anything else makes the stand-in report itself not ready, for fault
tests).

Exits 0 on SIGTERM or SIGINT, 2 on a configuration error and 1 when a port
cannot be bound.
"""

from __future__ import annotations

import json
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


class StandIn:
    """Serves every agent's main and health socket from one poll loop."""

    def __init__(self, agents: List[Agent], bind_address: str = "*", status: str = "ok"):
        self.agents = agents
        self.bind_address = bind_address
        self.status = status
        self.started = time.monotonic()
        self.context = zmq.Context()
        self.poller = zmq.Poller()
        # socket -> (agent, is_health_socket)
        self.sockets: Dict[zmq.Socket, Tuple[Agent, bool]] = {}
        self._wakeup_r: Optional[socket.socket] = None
        self._wakeup_w: Optional[socket.socket] = None
        self._stopping = False

    def health_reply(self, agent: Agent) -> Dict[str, Any]:
        ok = self.status == "ok"
        return {
            "status": self.status,
            "ready": ok,
            "initialized": ok,
            "message": f"{agent.name} stand-in ready" if ok else f"{agent.name} stand-in reports {self.status}",
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "uptime": time.monotonic() - self.started,
            "active_threads": threading.active_count(),
        }

    def reply_to(self, agent: Agent, health_socket: bool, request: bytes) -> Dict[str, Any]:
        if health_socket:
            return self.health_reply(agent)
        try:
            message = json.loads(request.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {"status": "error", "message": "invalid request: not JSON"}
        if not isinstance(message, dict):
            return {"status": "error", "message": "invalid request: expected a JSON object"}
        action = message.get("action")
        if action in HEALTH_ACTIONS:
            return self.health_reply(agent)
        return {"status": "error", "message": f"unknown action {action!r}"}

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
            print(f"{agent.name}: serving {endpoints[0]} (main) and {endpoints[1]} (health)", flush=True)

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
    except ConfigError as exc:
        print(f"stand-in-agent: {exc}", file=sys.stderr, flush=True)
        return 2

    where = " ".join(f"{key}={value}" for key, value in sorted(context.items()))
    print(
        f"stand-in-agent: {len(agents)} agent(s) from {source}" + (f" ({where})" if where else ""),
        flush=True,
    )
    server = StandIn(
        agents,
        bind_address=os.environ.get("AI_SYSTEM_BIND_ADDRESS") or "*",
        status=os.environ.get("AI_SYSTEM_STANDIN_STATUS") or "ok",
    )
    server.install_signal_handlers()
    try:
        server.bind()
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
