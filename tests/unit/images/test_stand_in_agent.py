"""The stand-in agent (images/stand-in-agent/agent.py) over real ZMQ sockets.

Each test starts agent.py as a subprocess on free loopback ports and talks
to it with REQ sockets, as the health checks of the deployed system do.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import zmq

AGENT = Path(__file__).resolve().parents[3] / "images" / "stand-in-agent" / "agent.py"
HEALTH_KEYS = frozenset({
    "status", "ready", "initialized", "message", "timestamp", "uptime", "active_threads",
    "health_status", "health_checks",
})
HEALTH_CHECK_KEYS = {"redis_connected", "ready_signal", "port_accessible"}
MEMORY_CLIENT_KEYS = HEALTH_KEYS | {"service", "request_count", "uptime_seconds"}
KNOWLEDGE_BASE_KEYS = {"status", "service", "request_count", "timestamp", "uptime_seconds"}
PROFILES = [
    "base", "memory-client", "knowledge-base", "unknown-action-error",
    "unknown-action-message", "command", "broken",
]
START_TIMEOUT = 10.0
REPLY_TIMEOUT_MS = 3000


def free_ports(count):
    """Distinct TCP ports that are free on the loopback interface right now."""
    holders = []
    try:
        while len(holders) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            holders.append(sock)
        return [sock.getsockname()[1] for sock in holders]
    finally:
        for sock in holders:
            sock.close()


class StandIn:
    """A running agent.py and the lines it printed."""

    def __init__(self, env, expect_agents):
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONUNBUFFERED": "1",
            "AI_SYSTEM_BIND_ADDRESS": "127.0.0.1",
        }
        full_env.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, str(AGENT)],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        self.ports = {}
        self._output = queue.Queue()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self.wait_for_lines(1 + expect_agents)

    def _read_stdout(self):
        for line in self.proc.stdout:
            self._output.put(line.rstrip("\n"))
        self._output.put(None)

    def wait_for_lines(self, count, timeout=START_TIMEOUT):
        """Waits until the stand-in has printed `count` lines (or exited)."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            try:
                line = self._output.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(
                    f"stand-in printed {self.lines!r}, expected {count} lines; "
                    f"rc={self.proc.poll()} stderr={self._stderr()!r}"
                )
            self.lines.append(line)

    def _stderr(self):
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def zmq_context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def start_stand_in():
    started = []

    def start(env, expect_agents):
        stand_in = StandIn(env, expect_agents)
        started.append(stand_in)
        return stand_in

    yield start
    for stand_in in started:
        stand_in.stop()


def request(ctx, port, payload):
    """Sends one request (bytes) to 127.0.0.1:port and returns the decoded reply."""
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, REPLY_TIMEOUT_MS)
    sock.setsockopt(zmq.SNDTIMEO, REPLY_TIMEOUT_MS)
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        sock.send(payload)
        return json.loads(sock.recv())
    finally:
        sock.close()


def assert_health_reply(reply, agent, *, status="ok", min_uptime=0.0, keys=HEALTH_KEYS,
                        degraded_after=None):
    """BaseAgent's health reply: `status` "ok", "degraded" (the ready signal
    lapsed `degraded_after` seconds after start) or a fault status."""
    assert set(reply) == keys
    assert reply["status"] == status
    checks = reply["health_checks"]
    assert set(checks) == HEALTH_CHECK_KEYS
    assert checks["redis_connected"] is True
    assert checks["port_accessible"] is True
    if degraded_after is not None:
        assert status == "degraded"
        assert reply["ready"] is True
        assert reply["initialized"] is True
        assert reply["health_status"] == "degraded"
        assert checks["ready_signal"] is False
        assert reply["message"] == (
            f"{agent} stand-in degraded: ready signal lapsed {degraded_after:g}s after start"
        )
    elif status in ("ok", "HEALTHY"):
        assert reply["ready"] is True
        assert reply["initialized"] is True
        assert reply["health_status"] == "healthy"
        assert checks["ready_signal"] is True
        assert reply["message"] == f"{agent} stand-in ready"
    else:
        assert reply["ready"] is False
        assert reply["initialized"] is False
        assert reply["health_status"] == "unhealthy"
        assert reply["message"] == f"{agent} stand-in reports {status}"
    stamp = datetime.fromisoformat(reply["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - stamp) < timedelta(seconds=30)
    assert isinstance(reply["uptime"], float)
    assert min_uptime <= reply["uptime"] < 60
    assert isinstance(reply["active_threads"], int) and not isinstance(reply["active_threads"], bool)
    assert reply["active_threads"] >= 1


@pytest.fixture
def two_agents(start_stand_in, tmp_path):
    """A stand-in serving two agents from AI_SYSTEM_AGENTS (no config file)."""
    p1, h1, p2, h2 = free_ports(4)
    env = {
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"SystemDigitalTwin:{p1}:{h1},RequestCoordinator:{p2}:{h2}",
    }
    stand_in = start_stand_in(env, expect_agents=2)
    stand_in.ports = {
        "SystemDigitalTwin": {"main": p1, "health": h1},
        "RequestCoordinator": {"main": p2, "health": h2},
    }
    return stand_in


def test_logs_one_line_per_bound_agent(two_agents):
    assert two_agents.lines[0] == "stand-in-agent: 2 agent(s) from AI_SYSTEM_AGENTS"
    for line, (name, ports) in zip(two_agents.lines[1:], two_agents.ports.items()):
        assert line == (
            f"{name}: serving tcp://127.0.0.1:{ports['main']} (main) "
            f"and tcp://127.0.0.1:{ports['health']} (health), profile base"
        )


@pytest.mark.parametrize("payload", [b"", b"anything", b'{"action": "shutdown"}', b"\xff\xfe"])
def test_health_port_answers_any_request(two_agents, zmq_context, payload):
    for name, ports in two_agents.ports.items():
        assert_health_reply(request(zmq_context, ports["health"], payload), name)


@pytest.mark.parametrize("action", ["ping", "health", "health_check"])
def test_main_port_health_actions(two_agents, zmq_context, action):
    for name, ports in two_agents.ports.items():
        reply = request(zmq_context, ports["main"], json.dumps({"action": action}).encode())
        assert_health_reply(reply, name)


def test_uptime_grows(two_agents, zmq_context):
    ports = two_agents.ports["SystemDigitalTwin"]
    first = request(zmq_context, ports["health"], b"ping")["uptime"]
    time.sleep(0.2)
    second = request(zmq_context, ports["main"], b'{"action": "ping"}')["uptime"]
    assert second >= first + 0.15


def test_main_port_unknown_action(two_agents, zmq_context):
    port = two_agents.ports["RequestCoordinator"]["main"]
    reply = request(zmq_context, port, b'{"action": "reboot"}')
    assert reply == {"status": "error", "error": "Unknown action: reboot"}
    reply = request(zmq_context, port, b'{"command": "ping"}')
    assert reply == {"status": "error", "error": "Unknown action: None"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"ping", "invalid request: not JSON"),
        (b"\xff\xfe", "invalid request: not JSON"),
        (b"", "invalid request: not JSON"),
        (b'["ping"]', "invalid request: expected a JSON object"),
        (b'"ping"', "invalid request: expected a JSON object"),
    ],
)
def test_main_port_rejects_malformed_requests(two_agents, zmq_context, payload, message):
    port = two_agents.ports["SystemDigitalTwin"]["main"]
    assert request(zmq_context, port, payload) == {"status": "error", "error": message}
    # A REP socket that failed to answer would be stuck; it still answers.
    assert_health_reply(request(zmq_context, port, b'{"action": "ping"}'), "SystemDigitalTwin")


def test_sigterm_exits_zero_quickly(two_agents, zmq_context):
    stand_in = two_agents
    port = stand_in.ports["SystemDigitalTwin"]["main"]
    request(zmq_context, port, b'{"action": "ping"}')
    started = time.monotonic()
    stand_in.proc.send_signal(signal.SIGTERM)
    assert stand_in.proc.wait(timeout=5) == 0
    assert time.monotonic() - started < 2
    stand_in.wait_for_lines(len(stand_in.lines) + 1, timeout=5)
    assert stand_in.lines[-1] == "stand-in-agent: stopped"
    # The ports are released.
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", port))
    finally:
        probe.close()


def test_config_file_takes_precedence(start_stand_in, zmq_context, tmp_path):
    port, health, unused_port, unused_health = free_ports(4)
    config = tmp_path / "endpoints.json"
    config.write_text(
        json.dumps(
            {
                "group": "core-services",
                "host": "mainpc",
                "agents": {"SystemDigitalTwin": {"port": port, "health_port": health}},
                "endpoints": {"SystemDigitalTwin": f"tcp://mainpc:{port}"},
            }
        )
    )
    env = {
        "AI_SYSTEM_CONFIG": str(config),
        "AI_SYSTEM_AGENTS": f"Other:{unused_port}:{unused_health}",
    }
    stand_in = start_stand_in(env, expect_agents=1)
    assert stand_in.lines[0] == (
        f"stand-in-agent: 1 agent(s) from {config} (group=core-services host=mainpc)"
    )
    assert_health_reply(request(zmq_context, health, b"{}"), "SystemDigitalTwin")
    assert_health_reply(
        request(zmq_context, port, b'{"action": "health_check"}'), "SystemDigitalTwin"
    )


def test_fault_status(start_stand_in, zmq_context, tmp_path):
    port, health = free_ports(2)
    env = {
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"ModelManagerAgent:{port}:{health}",
        "AI_SYSTEM_STANDIN_STATUS": "degraded",
    }
    start_stand_in(env, expect_agents=1)
    assert_health_reply(request(zmq_context, health, b"x"), "ModelManagerAgent", status="degraded")
    assert_health_reply(
        request(zmq_context, port, b'{"action": "health"}'), "ModelManagerAgent", status="degraded"
    )


def run_to_exit(env):
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AI_SYSTEM_BIND_ADDRESS": "127.0.0.1"}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, str(AGENT)], env=full_env, capture_output=True, text=True, timeout=20, check=False
    )


@pytest.mark.parametrize(
    ("agents", "error"),
    [
        ("", "no agent list"),
        ("Broken:1", "'Broken:1' is not Name:port:health_port"),
        ("A:70000:7001", "port 70000 is outside 1-65535"),
        ("A:x:7001", "expected a port number, got 'x'"),
        ("A:7000:7001,B:7001:7002", "port 7001 is used by both A and B"),
    ],
)
def test_configuration_errors_exit_2(tmp_path, agents, error):
    result = run_to_exit({"AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"), "AI_SYSTEM_AGENTS": agents})
    assert result.returncode == 2
    assert error in result.stderr


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("not json", "Expecting value"),
        ("[]", "expected a JSON object"),
        ('{"agents": {}}', "'agents' must be a non-empty object"),
        ('{"agents": {"A": {"port": 7000}}}', "agent 'A' has no 'health_port'"),
        ('{"agents": {"A": {"port": true, "health_port": 7001}}}', "expected a port number, got True"),
    ],
)
def test_bad_config_file_exits_2(tmp_path, document, error):
    config = tmp_path / "endpoints.json"
    config.write_text(document)
    result = run_to_exit({"AI_SYSTEM_CONFIG": str(config)})
    assert result.returncode == 2
    assert error in result.stderr


def test_port_in_use_exits_1(tmp_path):
    port, health = free_ports(2)
    holder = zmq.Context()
    busy = holder.socket(zmq.REP)
    busy.bind(f"tcp://127.0.0.1:{health}")
    try:
        result = run_to_exit(
            {"AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"), "AI_SYSTEM_AGENTS": f"A:{port}:{health}"}
        )
    finally:
        busy.close(linger=0)
        holder.term()
    assert result.returncode == 1
    assert f"A: cannot bind tcp://127.0.0.1:{health}" in result.stderr


# -- profiles ------------------------------------------------------------------

def standin_env(tmp_path, agents, **extra):
    """Env for a stand-in serving `agents` (name -> (port, health_port)) from a
    config file whose entries carry keys the stand-in does not use."""
    config = tmp_path / "endpoints.json"
    config.write_text(
        json.dumps(
            {
                "group": "lab",
                "host": "mainpc",
                "agents": {
                    name: {"port": port, "health_port": health, "socket": "rep",
                           "health_policy": {"request": {"action": "health_check"},
                                             "healthy": ["ok", "healthy"],
                                             "degraded": ["degraded"],
                                             "required_keys": ["status"]}}
                    for name, (port, health) in agents.items()
                },
                "endpoints": {},
            }
        )
    )
    env = {"AI_SYSTEM_CONFIG": str(config)}
    env.update(extra)
    return env


def start_agents(start_stand_in, tmp_path, profiles, **extra):
    """A stand-in serving one agent per entry of `profiles` (agent -> profile,
    None: not listed); returns it with .ports filled in."""
    ports = free_ports(2 * len(profiles))
    agents = {name: (ports[2 * i], ports[2 * i + 1]) for i, name in enumerate(profiles)}
    listed = ",".join(f"{name}={profile}" for name, profile in profiles.items() if profile)
    # Entries for agents this container does not serve are ignored.
    listed += ",ModelManagerAgent=broken, ,"
    env = standin_env(tmp_path, agents, AI_SYSTEM_STANDIN_PROFILES=listed, **extra)
    stand_in = start_stand_in(env, expect_agents=len(agents))
    stand_in.ports = {name: {"main": main, "health": health}
                      for name, (main, health) in agents.items()}
    return stand_in


ALL_PROFILES = {
    "SystemDigitalTwin": "unknown-action-error",
    "MemoryClient": "memory-client",
    "KnowledgeBase": "knowledge-base",
    "MemoryOrchestratorService": "unknown-action-message",
    "UnifiedWebAgent": "command",
    "BrokenAgent": "broken",
    "ModelManagerSuite": "base",
    "RequestCoordinator": None,  # not listed: base
}


@pytest.fixture
def every_profile(start_stand_in, tmp_path):
    return start_agents(start_stand_in, tmp_path, ALL_PROFILES)


def send(ctx, port, message):
    return request(ctx, port, json.dumps(message).encode())


def test_logs_each_agents_profile(every_profile):
    assert every_profile.lines[0].startswith("stand-in-agent: 8 agent(s) from ")
    for line, (name, profile) in zip(every_profile.lines[1:], ALL_PROFILES.items()):
        ports = every_profile.ports[name]
        assert line == (
            f"{name}: serving tcp://127.0.0.1:{ports['main']} (main) "
            f"and tcp://127.0.0.1:{ports['health']} (health), profile {profile or 'base'}"
        )


@pytest.mark.parametrize("name", ["ModelManagerSuite", "RequestCoordinator"])
def test_base_profile(every_profile, zmq_context, name):
    ports = every_profile.ports[name]
    assert_health_reply(request(zmq_context, ports["health"], b"anything"), name)
    for action in ("ping", "health", "health_check"):
        assert_health_reply(send(zmq_context, ports["main"], {"action": action}), name)
    assert send(zmq_context, ports["main"], {"action": "get_state"}) == {
        "status": "error", "error": "Unknown action: get_state"}
    assert send(zmq_context, ports["main"], {"command": "health_check"}) == {
        "status": "error", "error": "Unknown action: None"}
    assert request(zmq_context, ports["main"], b"[1]") == {
        "status": "error", "error": "invalid request: expected a JSON object"}


def test_memory_client_profile(every_profile, zmq_context):
    ports = every_profile.ports["MemoryClient"]
    first = request(zmq_context, ports["health"], b'{"action": "health_check"}')
    assert_health_reply(first, "MemoryClient", status="HEALTHY", keys=MEMORY_CLIENT_KEYS)
    assert first["service"] == "MemoryClient"
    assert first["request_count"] == 1
    assert isinstance(first["uptime_seconds"], float) and 0 <= first["uptime_seconds"] < 60
    second = send(zmq_context, ports["main"], {"action": "health_check"})
    assert_health_reply(second, "MemoryClient", status="HEALTHY", keys=MEMORY_CLIENT_KEYS)
    assert second["request_count"] == 2
    assert second["uptime_seconds"] >= first["uptime_seconds"]
    assert send(zmq_context, ports["main"], {"action": "store"}) == {
        "status": "error", "error": "Unknown action: store"}
    assert request(zmq_context, ports["health"], b"x")["request_count"] == 4


def test_knowledge_base_profile(every_profile, zmq_context):
    ports = every_profile.ports["KnowledgeBase"]
    for count, (port, payload) in enumerate(
        [(ports["health"], b"x"), (ports["main"], b'{"action": "ping"}')], start=1
    ):
        reply = request(zmq_context, port, payload)
        assert set(reply) == KNOWLEDGE_BASE_KEYS
        assert reply["status"] == "HEALTHY"
        assert reply["service"] == "KnowledgeBase"
        assert reply["request_count"] == count
        assert isinstance(reply["timestamp"], float)
        assert abs(time.time() - reply["timestamp"]) < 30
        assert isinstance(reply["uptime_seconds"], float) and 0 <= reply["uptime_seconds"] < 60
    assert send(zmq_context, ports["main"], {"action": "search"}) == {
        "status": "error", "error": "Unknown action: search"}


@pytest.mark.parametrize(
    ("name", "key"),
    [("SystemDigitalTwin", "error"), ("MemoryOrchestratorService", "message")],
)
def test_unknown_action_profiles(every_profile, zmq_context, name, key):
    ports = every_profile.ports[name]
    for action in ("ping", "health", "health_check", "register_agent"):
        assert send(zmq_context, ports["main"], {"action": action}) == {
            "status": "error", key: f"Unknown action: {action}"}
    assert send(zmq_context, ports["main"], {}) == {"status": "error", key: "Unknown action: None"}
    assert request(zmq_context, ports["main"], b"ping") == {
        "status": "error", key: "invalid request: not JSON"}
    # Their health port is BaseAgent's.
    assert_health_reply(request(zmq_context, ports["health"], b"x"), name)


def test_command_profile(every_profile, zmq_context):
    ports = every_profile.ports["UnifiedWebAgent"]
    for command in ("ping", "health", "health_check"):
        assert_health_reply(send(zmq_context, ports["main"], {"command": command}), "UnifiedWebAgent")
    assert send(zmq_context, ports["main"], {"command": "navigate"}) == {
        "status": "error", "message": "Unknown command: navigate"}
    assert send(zmq_context, ports["main"], {"action": "health_check"}) == {
        "status": "error", "message": "Unknown command: None"}
    assert request(zmq_context, ports["main"], b'"x"') == {
        "status": "error", "message": "invalid request: expected a JSON object"}
    assert_health_reply(request(zmq_context, ports["health"], b"x"), "UnifiedWebAgent")


def test_broken_profile(every_profile, zmq_context):
    ports = every_profile.ports["BrokenAgent"]
    broken = {"status": "error", "error": "'BrokenAgent' object has no attribute 'error_bus_pub'"}
    assert request(zmq_context, ports["health"], b'{"action": "health_check"}') == broken
    assert send(zmq_context, ports["main"], {"action": "health_check"}) == broken
    assert send(zmq_context, ports["main"], {"action": "other"}) == {
        "status": "error", "error": "Unknown action: other"}


def test_base_health_degrades_after_delay(start_stand_in, tmp_path, zmq_context):
    delay = 1.5
    stand_in = start_agents(
        start_stand_in, tmp_path,
        {"SystemDigitalTwin": "unknown-action-error", "UnifiedWebAgent": "command",
         "HealthMonitor": "unknown-action-message", "ModelManagerSuite": None,
         "MemoryClient": "memory-client", "KnowledgeBase": "knowledge-base"},
        AI_SYSTEM_STANDIN_DEGRADE_AFTER=str(delay),
    )
    ports = stand_in.ports
    first = request(zmq_context, ports["ModelManagerSuite"]["health"], b"x")
    if first["uptime"] < delay:  # a slow start may already be past the delay
        assert_health_reply(first, "ModelManagerSuite")
    deadline = time.monotonic() + 10
    while request(zmq_context, ports["ModelManagerSuite"]["health"], b"x")["status"] == "ok":
        assert time.monotonic() < deadline, "never turned degraded"
        time.sleep(0.1)
    for name in ("SystemDigitalTwin", "UnifiedWebAgent", "HealthMonitor", "ModelManagerSuite"):
        reply = request(zmq_context, ports[name]["health"], b"x")
        assert_health_reply(reply, name, status="degraded", degraded_after=delay, min_uptime=delay)
    # The main ports keep answering as before, health actions with "degraded".
    assert_health_reply(send(zmq_context, ports["ModelManagerSuite"]["main"], {"action": "ping"}),
                        "ModelManagerSuite", status="degraded", degraded_after=delay)
    assert_health_reply(send(zmq_context, ports["UnifiedWebAgent"]["main"], {"command": "health"}),
                        "UnifiedWebAgent", status="degraded", degraded_after=delay)
    assert send(zmq_context, ports["SystemDigitalTwin"]["main"], {"action": "ping"}) == {
        "status": "error", "error": "Unknown action: ping"}
    assert send(zmq_context, ports["HealthMonitor"]["main"], {"action": "ping"}) == {
        "status": "error", "message": "Unknown action: ping"}
    # MemoryClient and KnowledgeBase say HEALTHY regardless.
    reply = request(zmq_context, ports["MemoryClient"]["health"], b"x")
    assert_health_reply(reply, "MemoryClient", status="HEALTHY", keys=MEMORY_CLIENT_KEYS,
                        min_uptime=delay)
    assert request(zmq_context, ports["KnowledgeBase"]["health"], b"x")["status"] == "HEALTHY"


@pytest.mark.parametrize("value", ["0", "-5", "inf"])
def test_degrade_after_zero_or_less_never_degrades(start_stand_in, tmp_path, zmq_context, value):
    stand_in = start_agents(start_stand_in, tmp_path, {"SystemDigitalTwin": None},
                            AI_SYSTEM_STANDIN_DEGRADE_AFTER=value)
    time.sleep(0.2)
    assert_health_reply(request(zmq_context, stand_in.ports["SystemDigitalTwin"]["health"], b"x"),
                        "SystemDigitalTwin")


def test_fault_status_wins_over_profiles(start_stand_in, tmp_path, zmq_context):
    stand_in = start_agents(
        start_stand_in, tmp_path,
        {"MemoryClient": "memory-client", "KnowledgeBase": "knowledge-base",
         "BrokenAgent": "broken", "UnifiedWebAgent": "command"},
        AI_SYSTEM_STANDIN_STATUS="down",
    )
    ports = stand_in.ports
    reply = request(zmq_context, ports["MemoryClient"]["health"], b"x")
    assert_health_reply(reply, "MemoryClient", status="down", keys=MEMORY_CLIENT_KEYS)
    reply = request(zmq_context, ports["KnowledgeBase"]["health"], b"x")
    assert set(reply) == KNOWLEDGE_BASE_KEYS and reply["status"] == "down"
    assert request(zmq_context, ports["BrokenAgent"]["health"], b"x") == {
        "status": "down", "error": "'BrokenAgent' object has no attribute 'error_bus_pub'"}
    assert_health_reply(send(zmq_context, ports["UnifiedWebAgent"]["main"], {"command": "ping"}),
                        "UnifiedWebAgent", status="down")


def test_pub_agent_is_served_like_any_other(start_stand_in, tmp_path, zmq_context):
    port, health = free_ports(2)
    env = standin_env(tmp_path, {"ErrorBusService": (port, health)})
    config = json.loads(Path(env["AI_SYSTEM_CONFIG"]).read_text())
    config["agents"]["ErrorBusService"]["socket"] = "pub"
    Path(env["AI_SYSTEM_CONFIG"]).write_text(json.dumps(config))
    start_stand_in(env, expect_agents=1)
    assert_health_reply(request(zmq_context, health, b"x"), "ErrorBusService")
    assert_health_reply(send(zmq_context, port, {"action": "ping"}), "ErrorBusService")


VALID_PROFILES = "profiles: " + ", ".join(PROFILES)


@pytest.mark.parametrize(
    ("variables", "error"),
    [
        ({"AI_SYSTEM_STANDIN_PROFILES": "A=fancy"},
         f"AI_SYSTEM_STANDIN_PROFILES: 'A=fancy' names unknown profile 'fancy' ({VALID_PROFILES})"),
        # Unknown profiles are errors even for agents this container does not serve.
        ({"AI_SYSTEM_STANDIN_PROFILES": "A=base,Elsewhere=Base"},
         f"'Elsewhere=Base' names unknown profile 'Base' ({VALID_PROFILES})"),
        ({"AI_SYSTEM_STANDIN_PROFILES": "A"},
         f"AI_SYSTEM_STANDIN_PROFILES: 'A' is not Agent=profile ({VALID_PROFILES})"),
        ({"AI_SYSTEM_STANDIN_PROFILES": "A:base"}, "'A:base' is not Agent=profile"),
        ({"AI_SYSTEM_STANDIN_PROFILES": "=base"}, "'=base' is not Agent=profile"),
        ({"AI_SYSTEM_STANDIN_PROFILES": "A="}, "'A=' is not Agent=profile"),
        ({"AI_SYSTEM_STANDIN_PROFILES": "A=base,A=broken"},
         "A is given two profiles, 'base' and 'broken'"),
        ({"AI_SYSTEM_STANDIN_DEGRADE_AFTER": "soon"},
         "AI_SYSTEM_STANDIN_DEGRADE_AFTER: expected a number of seconds, got 'soon'"),
        ({"AI_SYSTEM_STANDIN_DEGRADE_AFTER": "nan"},
         "AI_SYSTEM_STANDIN_DEGRADE_AFTER: expected a number of seconds, got 'nan'"),
    ],
)
def test_bad_profile_settings_exit_2(tmp_path, variables, error):
    port, health = free_ports(2)
    env = {"AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"), "AI_SYSTEM_AGENTS": f"A:{port}:{health}"}
    env.update(variables)
    result = run_to_exit(env)
    assert result.returncode == 2
    assert result.stderr.startswith("stand-in-agent: AI_SYSTEM_STANDIN_")
    assert error in result.stderr
    assert result.stdout == ""


def test_bind_ports_makes_an_agent_listen_elsewhere_than_declared(start_stand_in, zmq_context, tmp_path):
    """AI_SYSTEM_STANDIN_BIND_PORTS: the agent binds other ports than its endpoint map declares."""
    declared, declared_health, other, other_health, kept, kept_health = free_ports(6)
    config = tmp_path / "endpoints.json"
    config.write_text(json.dumps({"agents": {
        "SystemDigitalTwin": {"port": declared, "health_port": declared_health},
        "RequestCoordinator": {"port": kept, "health_port": kept_health}}}))
    env = {"AI_SYSTEM_CONFIG": str(config),
           "AI_SYSTEM_STANDIN_BIND_PORTS": f"SystemDigitalTwin={other}:{other_health},NotHere=1:2"}
    stand_in = start_stand_in(env, expect_agents=2)
    assert f"SystemDigitalTwin: serving tcp://127.0.0.1:{other} (main) and tcp://127.0.0.1:{other_health} (health), " \
        "profile base" in stand_in.lines
    assert_health_reply(request(zmq_context, other_health, b"{}"), "SystemDigitalTwin")
    assert_health_reply(request(zmq_context, kept_health, b"{}"), "RequestCoordinator")
    for port in (declared, declared_health):
        probe = socket.socket()
        try:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens on the declared ports
        finally:
            probe.close()


@pytest.mark.parametrize("value, error", [
    ("SystemDigitalTwin=7120", "'SystemDigitalTwin=7120' is not Agent=port:health_port"),
    ("=7120:8120", "'=7120:8120' is not Agent=port:health_port"),
    ("A=x:8120", "AI_SYSTEM_STANDIN_BIND_PORTS: A port: expected a port number, got 'x'"),
    ("A=7120:70000", "AI_SYSTEM_STANDIN_BIND_PORTS: A health port: port 70000 is outside 1-65535"),
])
def test_bad_bind_ports_exit_2(tmp_path, value, error):
    port, health = free_ports(2)
    env = {"AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"), "AI_SYSTEM_AGENTS": f"A:{port}:{health}",
           "AI_SYSTEM_STANDIN_BIND_PORTS": value}
    result = run_to_exit(env)
    assert result.returncode == 2
    assert result.stderr.startswith("stand-in-agent: AI_SYSTEM_STANDIN_BIND_PORTS: ")


# --------------------------------------------------------------------------
# The application's contract: the starter's group lookup, calls to peers
# --------------------------------------------------------------------------

STARTER_GROUPS = "core_services,memory_system,utility_services"


def test_starter_starts_the_group_named_by_container_group(start_stand_in, zmq_context, tmp_path):
    port, health = free_ports(2)
    env = {
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"SystemDigitalTwin:{port}:{health}",
        "AI_SYSTEM_STANDIN_AGENT_GROUPS": STARTER_GROUPS,
        "CONTAINER_GROUP": "core_services",
    }
    stand_in = start_stand_in(env, expect_agents=2)  # the group line, then the agent
    assert "stand-in-agent: starting the agents of container group core_services" in stand_in.lines
    assert_health_reply(request(zmq_context, health, b"{}"), "SystemDigitalTwin")


@pytest.mark.parametrize(("group", "shown"), [
    ("core-services", "'core-services'"),  # the collection's own name, with hyphens
    ("learning_knowledge", "'learning_knowledge'"),
    (None, "(CONTAINER_GROUP is not set)"),
])
def test_starter_finds_no_agents_for_an_unknown_group_and_exits(tmp_path, group, shown):
    port, health = free_ports(2)
    env = {
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"SystemDigitalTwin:{port}:{health}",
        "AI_SYSTEM_STANDIN_AGENT_GROUPS": STARTER_GROUPS,
    }
    if group is not None:
        env["CONTAINER_GROUP"] = group
    result = run_to_exit(env)
    assert result.returncode == 3
    assert (f"stand-in-agent: no agents found for container group {shown} in agent_groups "
            f"(core_services, memory_system, utility_services)") in result.stdout
    assert "serving" not in result.stdout  # nothing was bound


def test_without_the_starter_list_container_group_is_not_read(start_stand_in, tmp_path):
    port, health = free_ports(2)
    env = {
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"SystemDigitalTwin:{port}:{health}",
        "CONTAINER_GROUP": "core-services",
    }
    stand_in = start_stand_in(env, expect_agents=1)
    assert stand_in.lines[1].startswith("SystemDigitalTwin: serving ")


def wait_for_line(stand_in, prefix, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in stand_in.lines if line.startswith(prefix)]
        if found:
            return found[0]
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no line starting {prefix!r} in {stand_in.lines!r}"
        stand_in.wait_for_lines(len(stand_in.lines) + 1, timeout=remaining)


def test_agent_calls_its_peer_at_localhost_at_start(start_stand_in, zmq_context, tmp_path):
    """A peer of another group at localhost:<port> (as the agents register
    with SystemDigitalTwin at localhost:7120) answers: the call is logged."""
    twin_port, twin_health, port, health = free_ports(4)
    start_stand_in({
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"SystemDigitalTwin:{twin_port}:{twin_health}",
        "AI_SYSTEM_STANDIN_PROFILES": "SystemDigitalTwin=unknown-action-error",
    }, expect_agents=1)
    caller = start_stand_in({
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"SessionMemoryAgent:{port}:{health}",
        "AI_SYSTEM_STANDIN_CALLS": f"SessionMemoryAgent=localhost:{twin_port},Other=localhost:1",
    }, expect_agents=1)
    line = wait_for_line(caller, "SessionMemoryAgent: reached")
    assert line == f"SessionMemoryAgent: reached localhost:{twin_port} (it answered status error)"
    assert_health_reply(request(zmq_context, health, b"{}"), "SessionMemoryAgent")


def test_agent_that_cannot_reach_its_peer_says_so_and_reports_degraded(
        start_stand_in, zmq_context, tmp_path):
    nobody, port, health = free_ports(3)
    caller = start_stand_in({
        "AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
        "AI_SYSTEM_AGENTS": f"SessionMemoryAgent:{port}:{health}",
        "AI_SYSTEM_STANDIN_CALLS": f"SessionMemoryAgent=localhost:{nobody}",
        "AI_SYSTEM_STANDIN_CALL_TIMEOUT": "1.5",
    }, expect_agents=1)
    why = f"cannot reach localhost:{nobody}: no reply within 1.5 s"
    assert wait_for_line(caller, "SessionMemoryAgent: cannot") == f"SessionMemoryAgent: {why}"
    reply = request(zmq_context, health, b"{}")
    assert (reply["status"], reply["health_status"]) == ("degraded", "degraded")
    assert reply["message"] == f"SessionMemoryAgent stand-in degraded: {why}"


@pytest.mark.parametrize(("variables", "error"), [
    ({"AI_SYSTEM_STANDIN_CALLS": "Agent"}, "'Agent' is not Agent=host:port"),
    ({"AI_SYSTEM_STANDIN_CALLS": "Agent=localhost"}, "'Agent=localhost' is not Agent=host:port"),
    ({"AI_SYSTEM_STANDIN_CALLS": "Agent=localhost:x"}, "expected a port number, got 'x'"),
    ({"AI_SYSTEM_STANDIN_CALL_TIMEOUT": "-1"}, "expected a positive number of seconds"),
])
def test_bad_call_settings_exit_2(tmp_path, variables, error):
    port, health = free_ports(2)
    env = {"AI_SYSTEM_CONFIG": str(tmp_path / "absent.json"),
           "AI_SYSTEM_AGENTS": f"A:{port}:{health}"}
    env.update(variables)
    result = run_to_exit(env)
    assert result.returncode == 2
    assert error in result.stderr
