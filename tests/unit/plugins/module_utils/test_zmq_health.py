# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for plugins/module_utils/verify/zmq_health.py against real sockets on 127.0.0.1.

Every peer is bound by the test itself on a random free loopback port and
served from a thread; nothing leaves the machine.
"""

from __future__ import annotations

import ast
import io
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import zmq

from ansible_collections.ai_system.containers.plugins.module_utils.verify import zmq_health
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (
    STAGES,
    VERDICTS,
    Endpoint,
    HealthPolicy,
    PolicyError,
    check_endpoints,
    config_endpoints,
    describe_failure,
    judge_reply,
    main,
    merge_policies,
    normalize_endpoint,
    normalize_policy,
    parse_endpoint,
    policy_problems,
    run_checks,
)
from support.net import closed_port

SOURCE_PATH = Path(zmq_health.__file__)
T = 0.3  # timeout for the cases that have to wait for one
MAIN_ACTIONS = ("ping", "health", "health_check")
DEFAULT_DETAIL = "healthy: ok, healthy; degraded: degraded"  # the default policy, as a status failure names it
BASE_KEYS = {
    "status",
    "ready",
    "initialized",
    "message",
    "timestamp",
    "uptime",
    "active_threads",
    "health_status",
    "health_checks",
}

Handler = Callable[[List[bytes]], List[bytes]]


# --------------------------------------------------------------------------
# Test peers
# --------------------------------------------------------------------------


def health_reply(status: str = "ok", message: str = "Agent is healthy") -> Dict[str, Any]:
    """BaseAgent's health reply: "ok", or "degraded" once its Redis ready key lapsed."""
    healthy = status == "ok"
    return {
        "status": status,
        "ready": healthy or status == "degraded",
        "initialized": status != "initializing",
        "message": message,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "uptime": 12.5,
        "active_threads": 4,
        "health_status": "healthy" if healthy else status,
        "health_checks": {"redis_connected": True, "ready_signal": healthy, "port_accessible": True},
    }


# The replies of the real agents (see docs/zmq_check.md and the stand-in agent).

DEGRADED_MESSAGE = "SystemDigitalTwin: ready signal lapsed"
BASE_ERROR = "Error 111 connecting to localhost:6379. Connection refused."
BROKEN_ERROR = "'MemoryOrchestratorService' object has no attribute 'error_bus_pub'"


def base_ok() -> Dict[str, Any]:
    return health_reply("ok", "SystemDigitalTwin is healthy")


def base_degraded() -> Dict[str, Any]:
    return health_reply("degraded", DEGRADED_MESSAGE)


def base_error() -> Dict[str, Any]:
    """BaseAgent when its health check itself raised."""
    return {"status": "error", "error": BASE_ERROR}


def memory_client() -> Dict[str, Any]:
    """MemoryClient: "HEALTHY" (upper case), its own keys and the base fields."""
    reply = health_reply("ok", "MemoryClient is healthy")
    reply.update(status="HEALTHY", service="MemoryClient", request_count=7, uptime_seconds=12.5)
    return reply


def knowledge_base() -> Dict[str, Any]:
    """KnowledgeBase: exactly these five keys; timestamp in epoch seconds."""
    return {
        "status": "HEALTHY",
        "service": "KnowledgeBase",
        "request_count": 3,
        "timestamp": time.time(),
        "uptime_seconds": 12.5,
    }


def broken() -> Dict[str, Any]:
    """MemoryOrchestratorService's health port: its health handler raises."""
    return {"status": "error", "error": BROKEN_ERROR}


def unknown_action(key: str) -> Handler:
    """A main port that knows none of the health actions: SystemDigitalTwin
    says why under "error", MemoryOrchestratorService and HealthMonitor under "message"."""

    def handler(frames: List[bytes]) -> List[bytes]:
        action = json.loads(frames[0]).get("action")
        return [json.dumps({"status": "error", key: "Unknown action: %s" % action}).encode()]

    return handler


def unified_web_agent(frames: List[bytes]) -> List[bytes]:
    """UnifiedWebAgent's main port dispatches on "command", not "action"."""
    command = json.loads(frames[0]).get("command")
    if command in MAIN_ACTIONS:
        return [json.dumps(health_reply("ok", "UnifiedWebAgent is healthy")).encode()]
    return [json.dumps({"status": "error", "message": "Unknown command: %s" % command}).encode()]


def json_handler(reply: Any) -> Handler:
    return lambda frames: [json.dumps(reply).encode()]


def main_port_handler(frames: List[bytes]) -> List[bytes]:
    """The agents' main REP socket: answers ping/health/health_check only."""
    request = json.loads(frames[0])
    action = request.get("action") if isinstance(request, dict) else None
    if action in MAIN_ACTIONS:
        return [json.dumps(health_reply()).encode()]
    return [json.dumps({"status": "error", "message": "Unknown action: %s" % action}).encode()]


class ZmqPeer:
    """A ZMQ socket bound to a random loopback port, served by a thread.

    ``handler`` maps the request frames to the reply frames; without one the
    socket never reads, so requests are accepted but never answered.
    """

    def __init__(
        self,
        ctx: zmq.Context,
        handler: Optional[Handler] = None,
        socket_type: int = zmq.REP,
        curve_secret: Optional[bytes] = None,
    ) -> None:
        self.sock = ctx.socket(socket_type)
        self.sock.linger = 0
        if curve_secret is not None:
            self.sock.curve_server = True
            self.sock.curve_secretkey = curve_secret
        self.sock.bind("tcp://127.0.0.1:*")
        self.port = int(self.sock.last_endpoint.rsplit(b":", 1)[1])
        self.requests: List[List[bytes]] = []
        self._handler = handler
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if handler is not None:
            self._thread = threading.Thread(target=self._serve, daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        assert self._handler is not None
        try:
            while not self._stop.is_set():
                if self.sock.poll(20):
                    frames = self.sock.recv_multipart()
                    self.requests.append(frames)
                    answer = self._handler(frames)
                    if answer is not None:  # None: the peer stays silent
                        self.sock.send_multipart(answer)
        finally:
            self.sock.close(linger=0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        else:
            self.sock.close(linger=0)


class TcpPeer:
    """A plain TCP server on a random loopback port.

    ``behaviour``: ``silent`` accepts and sends nothing (a frozen agent, a
    black hole), ``http`` answers like an HTTP server, ``close`` reads what
    the client sends and hangs up (FIN), ``reset`` reads and aborts (RST).
    Reading first keeps the outcome deterministic: a socket closed with
    unread data would send RST instead of FIN.
    """

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self._held: List[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self.listener.accept()
            except socket.timeout:
                continue
            if self.behaviour == "silent":
                self._held.append(conn)
            elif self.behaviour == "http":
                conn.settimeout(2)
                self.received += conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                conn.close()
            else:
                conn.settimeout(2)
                self.received += conn.recv(1024)
                if self.behaviour == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self.listener.close()


@pytest.fixture
def zmq_peer(ctx: zmq.Context) -> Iterator[Callable[..., ZmqPeer]]:
    peers: List[ZmqPeer] = []

    def make(handler: Optional[Handler] = None, **kwargs: Any) -> ZmqPeer:
        peer = ZmqPeer(ctx, handler, **kwargs)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:  # stop every serving thread first, then wait for each
        peer._stop.set()
    for peer in peers:
        peer.close()


@pytest.fixture
def tcp_peer() -> Iterator[Callable[[str], TcpPeer]]:
    peers: List[TcpPeer] = []

    def make(behaviour: str) -> TcpPeer:
        peer = TcpPeer(behaviour)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


def endpoint(port: int, **extra: Any) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"address": "127.0.0.1", "port": port}
    spec.update(extra)
    return spec


def check_one(spec: Any, timeout: float = 2.0, attempts: int = 3) -> Dict[str, Any]:
    [result] = check_endpoints([spec], timeout=timeout, attempts=attempts)
    return result


# --------------------------------------------------------------------------
# Healthy peers
# --------------------------------------------------------------------------


def test_ok_peer_reports_every_field(zmq_peer: Callable[..., ZmqPeer]) -> None:
    reply = health_reply()
    peer = zmq_peer(json_handler(reply))

    result = check_one(endpoint(peer.port, name="MemoryOrchestratorService", group="pc2", kind="health"), attempts=3)

    assert result["name"] == "MemoryOrchestratorService"
    assert result["group"] == "pc2"
    assert result["address"] == "127.0.0.1"
    assert result["port"] == peer.port
    assert result["kind"] == "health"
    assert result["ok"] is True
    assert result["verdict"] == "healthy"
    assert result["message"] == "Agent is healthy"
    assert result["stage_reached"] == "status"
    assert result["failed_stage"] is None
    assert result["reason"] is None
    assert result["detail"] is None
    assert result["resolved_address"] == "127.0.0.1"
    assert result["zmtp"]["version"].startswith("3.")
    assert result["zmtp"]["mechanism"] == "NULL"
    assert result["zmtp"]["socket_type"] == "REP"
    assert result["reply"] == reply
    assert set(result["reply"]) == BASE_KEYS
    rtt = result["rtt_ms"]
    assert set(rtt) == {"min", "median", "max"}
    assert 0 < rtt["min"] <= rtt["median"] <= rtt["max"] < 2000
    assert result["elapsed_ms"] >= rtt["min"]
    # one request per attempt, each the health_check request
    assert [json.loads(frames[0]) for frames in peer.requests] == [{"action": "health_check"}] * 3


def test_attempts_set_the_number_of_requests(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    result = check_one(endpoint(peer.port, kind="health"), attempts=5)
    assert result["ok"] is True
    assert result["kind"] == "health"
    assert result["name"] == "127.0.0.1:%d" % peer.port
    assert len(peer.requests) == 5


def test_main_port_action_is_checked_by_the_peer(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(main_port_handler)
    result = check_one(endpoint(peer.port, kind="main"))
    assert result["ok"] is True, result
    assert (result["verdict"], result["stage_reached"]) == ("reachable", "reply")
    actions = [json.loads(frames[0])["action"] for frames in peer.requests]
    assert actions == ["health_check"] * 3
    assert set(actions) <= set(MAIN_ACTIONS)


def test_peer_that_rejects_the_action_proves_the_link_unless_strict(zmq_peer: Callable[..., ZmqPeer]) -> None:
    def ping_only(frames: List[bytes]) -> List[bytes]:
        action = json.loads(frames[0]).get("action")
        if action == "ping":
            return [json.dumps(health_reply()).encode()]
        return [json.dumps({"status": "error", "message": "Unknown action: %s" % action}).encode()]

    peer = zmq_peer(ping_only)
    link = check_one(endpoint(peer.port), attempts=1)
    assert (link["ok"], link["verdict"], link["failed_stage"]) == (True, "reachable", None)
    assert link["message"] == "Unknown action: health_check"

    strict = check_one(endpoint(peer.port, strict=True), attempts=1)
    assert (strict["ok"], strict["verdict"], strict["failed_stage"]) == (False, "failing", "status")
    assert strict["reason"] == 'status "error": Unknown action: health_check'

    # the same link asked what this agent understands is judged healthy
    asked = check_one(endpoint(peer.port, strict=True, request={"action": "ping"}), attempts=1)
    assert (asked["ok"], asked["verdict"]) == (True, "healthy"), asked
    assert json.loads(peer.requests[-1][0]) == {"action": "ping"}


def test_every_attempt_reuses_one_healthy_socket(zmq_peer: Callable[..., ZmqPeer]) -> None:
    """One connection for the attempts of a check: no handshake per request."""
    reply = json.dumps(health_reply()).encode()
    peer = zmq_peer(lambda frames: [frames[0], b"", reply], socket_type=zmq.ROUTER)
    result = check_one(endpoint(peer.port), attempts=4)
    assert result["ok"] is True
    identities = {frames[0] for frames in peer.requests}
    assert len(peer.requests) == 4
    assert len(identities) == 1
    assert result["rtt_ms"] is not None


def test_a_peer_that_stops_answering_mid_check_times_out(zmq_peer: Callable[..., ZmqPeer]) -> None:
    reply = json.dumps(health_reply()).encode()
    answered = []

    def first_only(frames):
        answered.append(frames)
        return [frames[0], b"", reply] if len(answered) == 1 else None

    peer = zmq_peer(first_only, socket_type=zmq.ROUTER)
    result = check_one(endpoint(peer.port), attempts=3)
    assert (result["ok"], result["failed_stage"], result["reason"]) == (False, "reply", "timed out")
    assert len(peer.requests) == 2


def test_name_lookup_tries_every_address(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    result = check_one({"address": "localhost", "port": peer.port, "kind": "health"})
    assert result["ok"] is True, result
    assert result["resolved_address"] == "127.0.0.1"


def test_policy_can_call_another_status_healthy(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply("initializing", "Loading model")))
    result = check_one(endpoint(peer.port, kind="health", policy={"healthy": ["initializing"]}), attempts=1)
    assert (result["ok"], result["verdict"], result["stage_reached"]) == (True, "healthy", "status")
    assert result["reply"]["status"] == "initializing"


def test_policy_can_call_another_status_degraded(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply("initializing", "Loading model")))
    spec = endpoint(peer.port, kind="health", policy={"degraded": ["degraded", "initializing"]})
    document = run_checks([spec], timeout=2.0, attempts=1)
    [result] = document["endpoints"]
    assert (result["ok"], result["verdict"], result["failed_stage"]) == (True, "degraded", None)
    assert result["message"] == "Loading model"
    assert (document["ok_count"], document["degraded_count"], document["failed_count"]) == (1, 1, 0)
    # without that policy, "initializing" is a failure
    plain = check_one(endpoint(peer.port, kind="health"), attempts=1)
    assert (plain["ok"], plain["verdict"], plain["reason"]) == (
        False,
        "failing",
        'status "initializing": Loading model',
    )


# --------------------------------------------------------------------------
# Status stage
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        ("initializing", "Loading model", 'status "initializing": Loading model'),
        ("error", "CUDA out of memory", 'status "error": CUDA out of memory'),
        ("error", "", 'status "error"'),
    ],
)
def test_wrong_status(zmq_peer: Callable[..., ZmqPeer], status: str, message: str, reason: str) -> None:
    peer = zmq_peer(json_handler(health_reply(status, message)))
    result = check_one(endpoint(peer.port, kind="health"))
    assert result["ok"] is False
    assert result["verdict"] == "failing"
    assert result["message"] == (message or None)
    assert result["failed_stage"] == "status"
    assert result["stage_reached"] == "reply"
    assert result["reason"] == reason
    assert result["detail"] == DEFAULT_DETAIL
    assert result["reply"]["status"] == status
    assert result["rtt_ms"] is not None
    assert len(peer.requests) == 3  # every attempt answered; the status is judged once


@pytest.mark.parametrize("status", [None, 1, ["ok"], True])
def test_status_that_is_not_text_fails(zmq_peer: Callable[..., ZmqPeer], status: Any) -> None:
    peer = zmq_peer(json_handler({"status": status}))
    result = check_one(endpoint(peer.port, kind="health"), attempts=1)
    assert (result["failed_stage"], result["reason"]) == ("status", "status %s" % json.dumps(status))


def test_error_reply_with_only_status_and_message_is_a_status_failure(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler({"status": "error", "message": "model load failed"}))
    result = check_one(endpoint(peer.port, kind="health"))
    assert result["failed_stage"] == "status"
    assert result["reason"] == 'status "error": model load failed'


def test_unexpected_status_names_the_expected_ones(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    result = check_one(endpoint(peer.port, kind="health", policy={"healthy": ["initializing"]}))
    assert result["failed_stage"] == "status"
    assert result["reason"] == 'status "ok": Agent is healthy'
    assert result["detail"] == "healthy: initializing; degraded: degraded"


# --------------------------------------------------------------------------
# Reply stage
# --------------------------------------------------------------------------


def test_peer_that_never_answers_times_out(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(None)
    started = time.monotonic()
    result = check_one(endpoint(peer.port), timeout=T, attempts=3)
    elapsed = time.monotonic() - started
    assert result["ok"] is False
    assert result["failed_stage"] == "reply"
    assert result["stage_reached"] == "zmtp"
    assert result["reason"] == "timed out"
    assert result["detail"] == "no reply within %gs" % T
    assert result["rtt_ms"] is None
    assert result["reply"] is None
    # stops at the first lost reply instead of waiting once per attempt
    assert T * 0.9 <= elapsed < T * 2 + 0.5


@pytest.mark.parametrize("kind", ["main", "health"])
@pytest.mark.parametrize(
    ("frames", "reason", "detail"),
    [
        ([b"not json"], "wrong reply: not JSON", "reply was b'not json'"),
        ([b"\xff\xfe"], "wrong reply: not JSON", "reply was b'\\xff\\xfe'"),
        ([b"[1, 2]"], "wrong reply: not a JSON object", "reply was b'[1, 2]'"),
        ([b"{}", b"{}"], "wrong reply: 2 frames, expected 1", None),
    ],
)
def test_malformed_reply(
    zmq_peer: Callable[..., ZmqPeer], kind: str, frames: List[bytes], reason: str, detail: Optional[str]
) -> None:
    """Not one JSON object: a failure for links too (no live REP peer parsed the request)."""
    peer = zmq_peer(lambda _request: frames)
    result = check_one(endpoint(peer.port, kind=kind))
    assert result["ok"] is False
    assert result["verdict"] is None
    assert result["failed_stage"] == "reply"
    assert result["stage_reached"] == "zmtp"
    assert result["reason"] == reason
    assert result["detail"] == detail
    assert result["reply"] is None
    assert len(peer.requests) == 1  # stops at the first bad reply


@pytest.mark.parametrize(
    ("reply", "policy", "reason", "detail"),
    [
        ({"ready": True}, None, "wrong reply: missing keys: status", "reply lacks status (keys: ready)"),
        ({}, None, "wrong reply: missing keys: status", "reply lacks status (keys: none)"),
        (
            {"status": "ok", "message": "hi"},
            {"required_keys": ["status", "ready", "initialized"]},
            "wrong reply: missing keys: ready, initialized",
            "reply lacks ready, initialized (keys: message, status)",
        ),
    ],
)
def test_reply_without_required_keys(
    zmq_peer: Callable[..., ZmqPeer], reply: Dict[str, Any], policy: Any, reason: str, detail: str
) -> None:
    peer = zmq_peer(json_handler(reply))
    result = check_one(endpoint(peer.port, kind="health", policy=policy), attempts=1)
    assert (result["ok"], result["verdict"]) == (False, "failing")
    assert (result["failed_stage"], result["reason"], result["detail"]) == ("reply", reason, detail)
    assert result["reply"] == reply

    # a link is not judged: any JSON object proves it
    link = check_one(endpoint(peer.port, policy=policy), attempts=1)
    assert (link["ok"], link["verdict"], link["failed_stage"]) == (True, "reachable", None)


# --------------------------------------------------------------------------
# ZMTP stage
# --------------------------------------------------------------------------


def test_silent_tcp_server_times_out(tcp_peer: Callable[[str], TcpPeer]) -> None:
    """Silence is not proof of a non-ZMQ peer: a frozen (SIGSTOPped) agent or a
    black hole accepts TCP and says nothing either."""
    peer = tcp_peer("silent")
    kinds = ["main", "health", "greeting"]
    started = time.monotonic()
    results = check_endpoints([endpoint(peer.port, kind=kind) for kind in kinds], timeout=T)
    elapsed = time.monotonic() - started
    for kind, result in zip(kinds, results):
        assert result["kind"] == kind
        assert result["ok"] is False
        assert result["verdict"] is None
        assert result["failed_stage"] == "zmtp"
        assert result["stage_reached"] == "tcp"
        assert result["reason"] == "timed out"
        assert result["detail"] == "no greeting within %gs" % T
        assert describe_failure(result) == "127.0.0.1:%d (%s): zmtp failed: timed out (no greeting within %gs)" % (
            peer.port,
            kind,
            T,
        )
    assert T * 0.9 <= elapsed < T + 1.0  # concurrently: about one timeout for all three


def test_http_server_is_not_a_zmq_peer(tcp_peer: Callable[[str], TcpPeer]) -> None:
    peer = tcp_peer("http")
    started = time.monotonic()
    result = check_one(endpoint(peer.port), timeout=2.0)
    assert result["failed_stage"] == "zmtp"
    assert result["reason"] == "not a ZMQ peer"
    assert result["detail"] == "peer sent b'HTTP/1.1 400 Bad Request'..."
    # the server answered our greeting at once; no waiting for the timeout
    assert time.monotonic() - started < 1.0
    assert peer.received.startswith(b"\xff")


def test_server_that_hangs_up_without_a_word(tcp_peer: Callable[[str], TcpPeer]) -> None:
    peer = tcp_peer("close")
    started = time.monotonic()
    result = check_one(endpoint(peer.port), timeout=2.0)
    assert (result["failed_stage"], result["stage_reached"]) == ("zmtp", "tcp")
    assert result["reason"] == "connection closed"
    assert result["detail"] == "peer closed the connection without a greeting"
    assert time.monotonic() - started < 1.0  # no waiting for the timeout
    assert peer.received.startswith(b"\xff")


def test_server_that_resets_the_connection(tcp_peer: Callable[[str], TcpPeer]) -> None:
    peer = tcp_peer("reset")
    result = check_one(endpoint(peer.port), timeout=2.0)
    assert (result["failed_stage"], result["reason"], result["detail"]) == (
        "zmtp",
        "connection reset",
        "before a greeting arrived",
    )


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq is built without CURVE (zmq.has('curve') is false)")
def test_curve_peer(zmq_peer: Callable[..., ZmqPeer]) -> None:
    public, secret = zmq.curve_keypair()
    peer = zmq_peer(json_handler(health_reply()), curve_secret=secret)

    ok = check_one(endpoint(peer.port, server_key=public.decode()))
    assert ok["ok"] is True, ok
    assert ok["zmtp"]["mechanism"] == "CURVE"
    assert isinstance(ok["zmtp"]["as_server"], bool)  # libzmq always sends 0 here

    no_key = check_one(endpoint(peer.port))
    assert no_key["failed_stage"] == "zmtp"
    assert no_key["reason"] == "security mismatch"
    assert no_key["detail"] == "peer uses CURVE, this check uses NULL (set server_key)"

    wrong_public, _wrong_secret = zmq.curve_keypair()
    wrong_key = check_one(endpoint(peer.port, server_key=wrong_public.decode()), timeout=T)
    assert wrong_key["failed_stage"] == "zmtp"
    assert wrong_key["reason"] == "timed out"
    assert wrong_key["detail"] == "CURVE handshake did not complete within %gs (wrong server_key?)" % T


def test_greeting_kind_checks_a_pub_socket_without_a_request(ctx: zmq.Context) -> None:
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    pub.bind("tcp://127.0.0.1:*")
    port = int(pub.last_endpoint.rsplit(b":", 1)[1])
    try:
        greeting, main_kind = check_endpoints(
            [endpoint(port, name="Events", kind="greeting"), endpoint(port, name="Events")], timeout=2.0
        )
    finally:
        pub.close(linger=0)
    assert greeting["ok"] is True
    assert greeting["stage_reached"] == "zmtp"
    assert greeting["zmtp"]["socket_type"] == "PUB"
    assert greeting["rtt_ms"] is None and greeting["reply"] is None
    assert zmq_health.describe_success(greeting) == "Events 127.0.0.1:%d (greeting): ZMTP 3.1, PUB socket" % port

    assert main_kind["failed_stage"] == "zmtp"
    assert main_kind["reason"] == "wrong socket type: PUB"
    assert main_kind["detail"] == "a REQ socket cannot talk to a PUB socket; use kind greeting"


def test_greeting_kind_on_a_plain_tcp_server(tcp_peer: Callable[[str], TcpPeer]) -> None:
    peer = tcp_peer("http")
    result = check_one(endpoint(peer.port, kind="greeting"))
    assert (result["ok"], result["failed_stage"], result["reason"]) == (False, "zmtp", "not a ZMQ peer")


def test_server_key_on_a_plain_peer_is_a_security_mismatch(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    public, _secret = zmq.curve_keypair()
    result = check_one(endpoint(peer.port, server_key=public.decode()))
    assert result["failed_stage"] == "zmtp"
    assert result["reason"] == "security mismatch"
    assert result["detail"] == "peer uses NULL, this check uses CURVE"


# --------------------------------------------------------------------------
# TCP and resolve stages
# --------------------------------------------------------------------------


def test_closed_port_is_refused() -> None:
    result = check_one(endpoint(closed_port()))
    assert result["ok"] is False
    assert result["failed_stage"] == "tcp"
    assert result["stage_reached"] == "resolve"
    assert result["reason"] == "connection refused"
    assert result["detail"] is None
    assert result["zmtp"] is None and result["rtt_ms"] is None and result["reply"] is None


def test_unresolvable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # No DNS traffic: the lookup itself is replaced by one that fails like a resolver would.
    def no_such_name(*_args: Any, **_kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(zmq_health.socket, "getaddrinfo", no_such_name)
    result = check_one({"address": "agent.invalid", "port": 7140})
    assert result["ok"] is False
    assert result["failed_stage"] == "resolve"
    assert result["stage_reached"] is None
    assert result["reason"] == "name does not resolve"
    assert "Name or service not known" in result["detail"]


def test_slow_name_lookup_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hanging_lookup(*_args: Any, **_kwargs: Any) -> Any:
        release.wait(5)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(zmq_health.socket, "getaddrinfo", hanging_lookup)
    started = time.monotonic()
    try:
        result = check_one({"address": "agent.invalid", "port": 7140}, timeout=0.2)
    finally:
        release.set()
    assert time.monotonic() - started < 1.0
    assert result["failed_stage"] == "resolve"
    assert result["reason"] == "timed out"
    assert result["detail"] == "name lookup took longer than 0.2s"


# --------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------


def test_hundred_silent_endpoints_take_about_one_timeout(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peers = [zmq_peer(None) for dummy in range(10)]
    specs = [endpoint(peers[i % 10].port, name="agent-%03d" % i) for i in range(100)]
    started = time.monotonic()
    results = check_endpoints(specs, timeout=0.5, attempts=3)
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, elapsed
    assert [r["name"] for r in results] == ["agent-%03d" % i for i in range(100)]
    assert all(r["failed_stage"] == "reply" and r["reason"] == "timed out" for r in results)


def test_mixed_batch_keeps_order_and_counts(
    zmq_peer: Callable[..., ZmqPeer], tcp_peer: Callable[[str], TcpPeer]
) -> None:
    good = zmq_peer(json_handler(health_reply()))
    http = tcp_peer("http")
    refused = closed_port()
    document = run_checks(
        [
            endpoint(good.port, name="Good"),
            endpoint(refused, name="Refused", kind="health"),
            "127.0.0.1:%d/health" % good.port,
            endpoint(http.port, name="Web"),
        ],
        timeout=2.0,
    )
    assert [r["name"] for r in document["endpoints"]] == ["Good", "Refused", "127.0.0.1:%d" % good.port, "Web"]
    assert document["ok_count"] == 2
    assert document["degraded_count"] == 0
    assert document["failed_count"] == 2
    assert [r["verdict"] for r in document["endpoints"]] == ["reachable", None, "healthy", None]
    assert document["summary"] == [
        "Refused 127.0.0.1:%d (health): tcp failed: connection refused" % refused,
        "Web 127.0.0.1:%d (main): zmtp failed: not a ZMQ peer (peer sent b'HTTP/1.1 400 Bad Request'...)" % http.port,
    ]


def test_one_context_per_batch_closed_at_the_end(
    monkeypatch: pytest.MonkeyPatch, zmq_peer: Callable[..., ZmqPeer]
) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    created: List[zmq.Context] = []

    class SpyContext(zmq.Context):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(zmq_health.zmq, "Context", SpyContext)
    results = check_endpoints([endpoint(peer.port)] * 5, timeout=2.0)
    assert all(r["ok"] for r in results)
    assert len(created) == 1
    assert created[0].closed


def test_empty_batch() -> None:
    assert check_endpoints([]) == []
    assert run_checks([]) == {"endpoints": [], "ok_count": 0, "degraded_count": 0, "failed_count": 0, "summary": []}


# --------------------------------------------------------------------------
# Input validation and formatting
# --------------------------------------------------------------------------


DEFAULT_POLICY = {
    "request": {"action": "health_check"},
    "healthy": ["ok", "healthy"],
    "degraded": ["degraded"],
    "required_keys": ["status"],
}


def test_normalize_endpoint_defaults() -> None:
    ep = normalize_endpoint(
        {"address": " 10.0.0.1 ", "port": "7140", "kind": None, "policy": None, "strict": None, "request": None}
    )
    assert ep.as_dict() == {
        "name": "10.0.0.1:7140",
        "address": "10.0.0.1",
        "port": 7140,
        "kind": "main",
        "policy": DEFAULT_POLICY,
        "strict": False,
        "request": None,
        "server_key": None,
        "group": None,
    }
    assert ep.payload == b'{"action": "health_check"}'
    # a health socket is always judged
    assert normalize_endpoint({"address": "h", "port": 1, "kind": "health"}).strict is True


def test_normalize_endpoint_policy_strict_and_request() -> None:
    ep = normalize_endpoint(
        {
            "address": "h",
            "port": 1,
            "policy": {"healthy": ["HEALTHY"], "required_keys": ["status", "service"]},
            "strict": True,
            "request": {"command": "health_check"},
        }
    )
    assert ep.policy == HealthPolicy(healthy=("healthy",), required_keys=("status", "service"))
    assert ep.as_dict()["policy"]["healthy"] == ["healthy"]
    assert ep.strict is True
    # the endpoint's request overrides the policy's
    assert ep.payload == b'{"command": "health_check"}'
    policy_request = normalize_endpoint({"address": "h", "port": 1, "policy": {"request": {"action": "ping"}}})
    assert policy_request.payload == b'{"action": "ping"}'
    # as_dict() round-trips (what zmq_check sends into a container)
    assert normalize_endpoint(ep.as_dict()).as_dict() == ep.as_dict()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("10.0.0.1:1", "endpoint must be a mapping, got str"),
        ({"port": 1}, "endpoint needs a non-empty 'address'"),
        ({"address": "h"}, "endpoint h needs an integer 'port'"),
        ({"address": "h", "port": True}, "endpoint h needs an integer 'port'"),
        ({"address": "h", "port": "x"}, "endpoint h: port 'x' is not an integer"),
        ({"address": "h", "port": 70000}, "endpoint h: port 70000 is out of range 1-65535"),
        (
            {"address": "h", "port": 1, "kind": "pub"},
            "endpoint h: kind must be one of main, health, greeting, got 'pub'",
        ),
        ({"address": "h", "port": 1, "server_key": "short"}, "server_key must be a 40-character Z85 CURVE public key"),
        ({"address": "h", "port": 1, "server_key": 5}, "endpoint h: server_key must be a string"),
        ({"address": "h", "port": 1, "colour": "red"}, "endpoint has unknown keys: colour"),
        # expect_status is gone: its policy equivalent is policy.healthy
        ({"address": "h", "port": 1, "expect_status": "ok"}, "endpoint has unknown keys: expect_status"),
        ({"address": "h", "port": 1, "strict": "yes"}, "endpoint h: strict must be true or false"),
        (
            {"address": "h", "port": 1, "request": "ping"},
            "endpoint h: request must be a mapping (the JSON object sent)",
        ),
        ({"address": "127.0.0.1\n", "port": 1}, "endpoint address '127.0.0.1\\n' holds a control character"),
        ({"address": "h\x1b[2J", "port": 1}, "endpoint address 'h\\x1b[2J' holds a control character"),
        ({"address": "h", "port": 1, "name": "Agent\nFAIL x"},
         "endpoint h: name 'Agent\\nFAIL x' holds a control character"),
        ({"address": "h", "port": 1, "group": "core\r"}, "endpoint h: group 'core\\r' holds a control character"),
        ({"address": "h", "port": 1, "name": "--config"},
         "endpoint h: name '--config' starts with '-', which would be read as an option"),
    ],
)
def test_normalize_endpoint_errors(spec: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_endpoint(spec)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ({"colour": "red"}, "unknown key 'colour' in health_policy"),
        ({"healthy": []}, "health_policy.healthy is empty"),
        ({"degraded": ["OK"]}, "lists 'ok', which healthy lists too"),
        ({"required_keys": ["ready"]}, "health_policy.required_keys must include 'status'"),
        ({"request": []}, "health_policy.request must be a non-empty mapping"),
        ("ok", "must be a mapping"),
    ],
)
def test_normalize_endpoint_refuses_a_bad_policy(policy: Any, named: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_endpoint({"address": "h", "port": 1, "policy": policy})
    assert not isinstance(info.value, PolicyError)  # wrapped, naming the endpoint
    assert str(info.value).startswith("endpoint h: ")
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("text", "address", "port", "kind"),
    [
        ("127.0.0.1:5555", "127.0.0.1", 5555, "main"),
        ("127.0.0.1:5555/main", "127.0.0.1", 5555, "main"),
        ("localhost:5556/health", "localhost", 5556, "health"),
        ("10.0.0.1:7150/greeting", "10.0.0.1", 7150, "greeting"),
        ("[::1]:5557/health", "::1", 5557, "health"),
    ],
)
def test_parse_endpoint(text: str, address: str, port: int, kind: str) -> None:
    ep = parse_endpoint(text)
    assert (ep.address, ep.port, ep.kind) == (address, port, kind)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost", "bad endpoint 'localhost': expected HOST:PORT[/main|/health|/greeting]"),
        ("host:abc", "bad endpoint 'host:abc': port must be a number"),
        ("[::1]5555", "bad endpoint '[::1]5555': expected [IPV6]:PORT"),
        ("host:1/pub", "endpoint host: kind must be one of main, health, greeting, got 'pub'"),
    ],
)
def test_parse_endpoint_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_endpoint(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number of seconds, got 0"),
        ({"timeout": "3"}, "timeout must be a positive number of seconds, got '3'"),
        ({"attempts": 0}, "attempts must be an integer >= 1, got 0"),
    ],
)
def test_check_endpoints_rejects_bad_settings(kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_endpoints(["127.0.0.1:1"], **kwargs)
    assert str(info.value) == message


def test_describe_failure() -> None:
    base = {
        "address": "192.168.100.17",
        "port": 7140,
        "kind": "main",
        "failed_stage": "tcp",
        "reason": "connection refused",
        "detail": None,
    }
    assert (
        describe_failure(dict(base, name="MemoryOrchestratorService"))
        == "MemoryOrchestratorService 192.168.100.17:7140 (main): tcp failed: connection refused"
    )
    assert describe_failure(dict(base, name="192.168.100.17:7140")) == (
        "192.168.100.17:7140 (main): tcp failed: connection refused"
    )
    assert describe_failure(
        dict(base, name=None, address="::1", failed_stage="reply", reason="timed out", detail="no reply within 3s")
    ) == ("[::1]:7140 (main): reply failed: timed out (no reply within 3s)")


def test_endpoint_objects_are_accepted(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    assert check_one(Endpoint("127.0.0.1", peer.port, kind="health"))["ok"] is True


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def run_main(argv: List[str], stdin: str = "") -> "tuple[int, str]":
    out = io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


def test_cli_ok_exits_zero(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    code, out = run_main(["--timeout", "2", "127.0.0.1:%d/health" % peer.port])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('OK       127.0.0.1:%d (health): status "ok", rtt median ' % peer.port)


def test_cli_failure_exits_one(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    refused = closed_port()
    code, out = run_main(["127.0.0.1:%d" % peer.port, "127.0.0.1:%d/main" % refused])
    assert code == 1
    assert out.splitlines()[1] == "FAIL     127.0.0.1:%d (main): tcp failed: connection refused" % refused


def test_cli_json(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))
    code, out = run_main(["--json", "--attempts", "2", "127.0.0.1:%d" % peer.port])
    assert code == 0
    document = json.loads(out)
    assert document["ok_count"] == 1 and document["failed_count"] == 0 and document["summary"] == []
    assert len(peer.requests) == 2


def test_cli_stdin_json(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply("initializing", "Loading model")))
    request = {"endpoints": [endpoint(peer.port, name="Loader", kind="health")], "timeout": 2.0, "attempts": 1}
    code, out = run_main(["--stdin-json"], stdin=json.dumps(request))
    assert code == 1
    document = json.loads(out)
    assert document["failed_count"] == 1
    assert document["summary"] == [
        'Loader 127.0.0.1:%d (health): status failed: status "initializing": Loading model (%s)'
        % (peer.port, DEFAULT_DETAIL)
    ]
    assert document["degraded_count"] == 0
    assert len(peer.requests) == 1


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["--json"], "", "no endpoints given"),
        (["--stdin-json"], "{not json", "stdin is not a JSON document: "),
        (["--stdin-json"], "[]", 'stdin JSON must be an object with an "endpoints" list'),
        (["--json", "nohost"], "", "bad endpoint 'nohost': expected HOST:PORT[/main|/health|/greeting]"),
        (["--json", "--timeout", "-1", "127.0.0.1:1"], "", "timeout must be a positive number of seconds, got -1.0"),
    ],
)
def test_cli_usage_errors(argv: List[str], stdin: str, message: str) -> None:
    code, out = run_main(argv, stdin)
    assert code == 2
    document = json.loads(out)
    assert document["error"].startswith(message)
    assert document["endpoints"] == []


def test_cli_usage_error_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], stdout=io.StringIO()) == 2
    assert capsys.readouterr().err == "zmq_health.py: error: no endpoints given\n"


def test_cli_as_a_script_and_through_stdin(zmq_peer: Callable[..., ZmqPeer]) -> None:
    """The three ways the file runs outside Ansible: HEALTHCHECK script,
    ``python3 - ARGS`` and ``python3 -c SOURCE --stdin-json``."""
    peer = zmq_peer(json_handler(health_reply()))
    target = "127.0.0.1:%d/health" % peer.port
    source = SOURCE_PATH.read_text(encoding="utf-8")

    script = subprocess.run(
        [sys.executable, str(SOURCE_PATH), "--timeout", "2", target],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith("OK   ")

    piped = subprocess.run(
        [sys.executable, "-", "--timeout", "2", "127.0.0.1:%d" % closed_port()],
        input=source,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert piped.returncode == 1, piped.stderr
    assert "tcp failed: connection refused" in piped.stdout

    inline = subprocess.run(
        [sys.executable, "-c", source, "--stdin-json"],
        input=json.dumps({"endpoints": [target], "attempts": 1}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert inline.returncode == 0, inline.stderr
    assert json.loads(inline.stdout)["ok_count"] == 1


# --------------------------------------------------------------------------
# The file must stay self-contained and Python 3.8+ compatible
# --------------------------------------------------------------------------


def test_module_utils_is_self_contained() -> None:
    tree = ast.parse(SOURCE_PATH.read_text(encoding="utf-8"), feature_version=(3, 8))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports break `python3 -` use"
            imported.add((node.module or "").split(".")[0])
    third_party = imported - set(sys.stdlib_module_names)
    assert third_party == {"zmq"}
    first_import = next(n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    assert isinstance(first_import, ast.ImportFrom) and first_import.module == "__future__"


def test_stage_names() -> None:
    assert STAGES == ("resolve", "tcp", "zmtp", "reply", "status")


# --------------------------------------------------------------------------
# Remaining error messages, stage by stage
# --------------------------------------------------------------------------

SIGNATURE = b"\xff" + b"\x00" * 7 + b"\x01" + b"\x7f"


def greeting_v3(mechanism: bytes = b"NULL") -> bytes:
    return SIGNATURE + b"\x03\x01" + mechanism.ljust(20, b"\x00") + b"\x00" + b"\x00" * 31


def command(name: bytes, body: bytes, long_frame: bool = False) -> bytes:
    """A ZMTP 3 command frame."""
    payload = bytes([len(name)]) + name + body
    if long_frame:
        return b"\x06" + len(payload).to_bytes(8, "big") + payload
    return b"\x04" + bytes([len(payload)]) + payload


def ready(socket_type: bytes, long_frame: bool = False) -> bytes:
    properties = b"\x0bSocket-Type" + len(socket_type).to_bytes(4, "big") + socket_type
    properties += b"\x08Identity" + (0).to_bytes(4, "big")
    return command(b"READY", properties, long_frame)


NULL_INFO = {"version": "3.1", "mechanism": "NULL", "as_server": False}


@pytest.mark.parametrize(
    ("peer_sends", "close_after", "expected"),
    [
        (greeting_v3() + ready(b"REP"), False, dict(NULL_INFO, socket_type="REP")),
        (greeting_v3() + ready(b"PUB", long_frame=True), False, dict(NULL_INFO, socket_type="PUB")),
        (greeting_v3() + command(b"PING", b"\x00\x01"), False, dict(NULL_INFO, socket_type=None)),
        (greeting_v3() + b"\x00\x01x", False, dict(NULL_INFO, socket_type=None)),
        (greeting_v3(), True, dict(NULL_INFO, socket_type=None)),
        (SIGNATURE + b"\x01\x05", False, {"version": "1.0", "mechanism": None, "as_server": None, "socket_type": None}),
        (
            b"\xff" + b"\x00" * 7 + b"\x05\x00",
            False,
            {"version": "1.0", "mechanism": None, "as_server": None, "socket_type": None},
        ),
        (SIGNATURE, True, {"version": None, "mechanism": None, "as_server": None, "socket_type": None}),
    ],
)
def test_greeting_versions(peer_sends: bytes, close_after: bool, expected: Dict[str, Any]) -> None:
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(peer_sends)
        if close_after:
            theirs.shutdown(socket.SHUT_WR)
        assert zmq_health._exchange_greeting(ours, 1.0, "NULL") == expected
        theirs.settimeout(1.0)
        sent = theirs.recv(128)
        assert sent.startswith(SIGNATURE + b"\x03")  # our signature and major version
        if expected["mechanism"] == "NULL" and len(sent) > 11:
            assert sent[11:] == b"\x01" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize(
    ("peer_sends", "reason", "detail"),
    [
        (b"\xff\x00\x00", "not a ZMQ peer", "incomplete greeting b'\\xff\\x00\\x00'"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "not a ZMQ peer", "peer sent b'SSH-2.0-OpenSSH_9.6\\r\\n'"),
        (greeting_v3(b"PLAIN"), "security mismatch", "peer uses PLAIN, this check uses NULL"),
        (
            greeting_v3() + command(b"ERROR", b"\x0dAccess denied"),
            "handshake refused",
            "peer sent ERROR 'Access denied'",
        ),
        (greeting_v3() + command(b"ERROR", b""), "handshake refused", None),
    ],
)
def test_greeting_failures(peer_sends: bytes, reason: str, detail: str) -> None:
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(peer_sends)
        with pytest.raises(zmq_health._StageError) as info:
            zmq_health._exchange_greeting(ours, 0.2, "NULL")
        assert (info.value.stage, info.value.reason, info.value.detail) == ("zmtp", reason, detail)
    finally:
        ours.close()
        theirs.close()


def test_greeting_to_a_closed_socket_is_not_called_a_non_zmq_peer() -> None:
    ours, theirs = socket.socketpair()
    theirs.close()
    try:
        with pytest.raises(zmq_health._StageError) as info:
            zmq_health._exchange_greeting(ours, 0.2, "NULL")
    finally:
        ours.close()
    assert (info.value.stage, info.value.reason) == ("zmtp", "connection closed")
    assert info.value.detail == "sending our greeting failed"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (socket.timeout("timed out"), "timed out"),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (ConnectionResetError(104, "Connection reset by peer"), "connection reset"),
        (OSError(113, "No route to host"), "host unreachable"),
        (OSError(101, "Network is unreachable"), "network unreachable"),
        (OSError(99, "Cannot assign requested address"), "address not available"),
        (OSError(13, "Permission denied"), "connect failed: permission denied"),
    ],
)
def test_socket_error_reasons(error: OSError, reason: str) -> None:
    assert zmq_health._os_error_reason(error) == reason


def test_tcp_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    real_socket = socket.socket

    class BlackholeSocket(real_socket):  # type: ignore[misc]
        def connect(self, address: Any) -> None:
            raise socket.timeout("timed out")

    monkeypatch.setattr(zmq_health.socket, "socket", BlackholeSocket)
    result = check_one(endpoint(7140), timeout=0.2)
    assert result["failed_stage"] == "tcp"
    assert result["reason"] == "timed out"
    assert result["detail"] == "no TCP connection within 0.2s"


def test_tcp_names_every_address_tried() -> None:
    port = closed_port()
    candidates = [(socket.AF_INET, ("127.0.0.1", port)), (socket.AF_INET, ("127.0.0.1", port))]
    with pytest.raises(zmq_health._StageError) as info:
        zmq_health._connect_tcp(candidates, 1.0)
    assert info.value.reason == "connection refused"
    assert info.value.detail == "tried 127.0.0.1, 127.0.0.1"


def test_lookup_without_usable_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zmq_health.socket, "getaddrinfo", lambda *_a, **_k: [])
    result = check_one({"address": "agent.invalid", "port": 7140})
    assert (result["failed_stage"], result["reason"], result["detail"]) == ("resolve", "name does not resolve", None)


def test_libzmq_without_curve(monkeypatch: pytest.MonkeyPatch, zmq_peer: Callable[..., ZmqPeer]) -> None:
    public, secret = zmq.curve_keypair()
    peer = zmq_peer(json_handler(health_reply()), curve_secret=secret)
    monkeypatch.setattr(zmq_health.zmq, "has", lambda capability: False)
    result = check_one(endpoint(peer.port, server_key=public.decode()))
    assert (result["failed_stage"], result["reason"]) == ("reply", "CURVE is not supported by this libzmq")


def test_zmq_errors_are_reported(monkeypatch: pytest.MonkeyPatch, zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(health_reply()))

    def broken_url(_family: int, _sockaddr: Any) -> str:
        return "tcp://127.0.0.1:notaport"

    monkeypatch.setattr(zmq_health, "_zmq_url", broken_url)
    result = check_one(endpoint(peer.port))
    assert result["failed_stage"] == "reply"
    assert result["reason"].startswith("zmq error: Invalid argument")


def test_unexpected_exceptions_do_not_break_the_batch(
    monkeypatch: pytest.MonkeyPatch, zmq_peer: Callable[..., ZmqPeer]
) -> None:
    peer = zmq_peer(json_handler(health_reply()))

    def boom(*_args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(zmq_health, "_exchange_greeting", boom)
    results = check_endpoints([endpoint(peer.port), endpoint(closed_port())], timeout=1.0)
    assert (results[0]["failed_stage"], results[0]["reason"]) == ("zmtp", "internal error: RuntimeError: boom")
    assert results[1]["reason"] == "connection refused"


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_loopback(ctx: zmq.Context) -> None:
    sock = ctx.socket(zmq.REP)
    sock.linger = 0
    sock.ipv6 = True
    sock.bind("tcp://[::1]:*")
    port = int(sock.last_endpoint.rsplit(b":", 1)[1])

    def serve() -> None:
        if sock.poll(5000):
            sock.recv()
            sock.send_json(health_reply())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        [result] = check_endpoints(["[::1]:%d/health" % port], timeout=2.0, attempts=1)
    finally:
        thread.join(5)
        sock.close(linger=0)
    assert result["ok"] is True, result
    assert result["resolved_address"] == "::1"


# --------------------------------------------------------------------------
# Health policy
# --------------------------------------------------------------------------


def test_default_policy() -> None:
    policy = normalize_policy()
    assert policy == normalize_policy({}) == normalize_policy(None) == HealthPolicy()
    assert policy.as_dict() == DEFAULT_POLICY
    assert normalize_policy(policy) is policy
    assert hash(policy) == hash(HealthPolicy())
    assert set(VERDICTS) == {"healthy", "degraded", "failing", "reachable"}


def test_policy_statuses_are_case_insensitive_and_deduplicated() -> None:
    policy = normalize_policy(
        {
            "healthy": ["HEALTHY", " ok ", "Healthy"],
            "degraded": "Degraded",
            "required_keys": ["status", "service", "status"],
        }
    )
    assert policy.healthy == ("healthy", "ok")
    assert policy.degraded == ("degraded",)
    assert policy.required_keys == ("status", "service")
    assert policy.request == {"action": "health_check"}


def test_policy_problems_returns_the_valid_values() -> None:
    values, problems = policy_problems({"healthy": ["HEALTHY"], "request": {"command": "health_check"}})
    assert problems == []
    assert values == {"healthy": ("healthy",), "request": {"command": "health_check"}}
    assert policy_problems(None) == ({}, [])


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"colour": "red"}, "health_policy.colour", "unknown key 'colour' in health_policy"),
        ({"expect_status": "ok"}, "health_policy.expect_status", "unknown key 'expect_status' in health_policy"),
        # case-insensitive: "OK" is the default healthy "ok"
        ({"degraded": ["OK"]}, "health_policy.degraded", "lists 'ok', which healthy lists too"),
        (
            {"healthy": ["ok", "Degraded"], "degraded": ["degraded", "initializing"]},
            "health_policy.degraded",
            "lists 'degraded', which healthy lists too",
        ),
        ({"healthy": []}, "health_policy.healthy", "health_policy.healthy is empty"),
        ({"healthy": ""}, "health_policy.healthy", "health_policy.healthy entry '' is not a non-empty status text"),
        ({"degraded": []}, "health_policy.degraded", "health_policy.degraded is empty"),
        ({"healthy": {"ok": 1}}, "health_policy.healthy", "health_policy.healthy must be a list of statuses"),
        (
            {"required_keys": ["ready"]},
            "health_policy.required_keys",
            "health_policy.required_keys must include 'status': the verdict is read from it",
        ),
        ({"required_keys": []}, "health_policy.required_keys", "health_policy.required_keys must include 'status'"),
        (
            {"required_keys": [1]},
            "health_policy.required_keys",
            "health_policy.required_keys must be a list of key names",
        ),
        ({"request": "health_check"}, "health_policy.request", "health_policy.request must be a non-empty mapping"),
        ({"request": {}}, "health_policy.request", "health_policy.request must be a non-empty mapping"),
        ({"request": {"a": object()}}, "health_policy.request", "health_policy.request is not JSON-serializable"),
        (["ok"], "health_policy", "must be a mapping"),
    ],
)
def test_bad_policies(spec: Any, field: str, message: str) -> None:
    _values, problems = policy_problems(spec)
    assert [(fld, msg[: len(message)]) for fld, msg, _fix in problems] == [(field, message)]
    assert all(fix for _fld, _msg, fix in problems)  # every problem says how to fix it
    with pytest.raises(PolicyError) as info:
        normalize_policy(spec)
    assert isinstance(info.value, ValueError)
    assert info.value.problems == problems
    assert message in str(info.value)


def test_every_policy_problem_is_reported_at_once() -> None:
    _values, problems = policy_problems({"colour": 1, "healthy": [], "required_keys": ["ready"]})
    assert [fld for fld, _msg, _fix in problems] == [
        "health_policy.colour",
        "health_policy.healthy",
        "health_policy.required_keys",
    ]


def test_merge_policies_most_specific_wins() -> None:
    merged = merge_policies({"healthy": ["ok"], "degraded": ["degraded"]}, None, {"healthy": ["healthy"]})
    assert merged == {"healthy": ["healthy"], "degraded": ["degraded"]}


KB_POLICY = {"healthy": ["healthy"], "required_keys": ["status", "service"]}


@pytest.mark.parametrize(
    ("reply", "policy", "verdict", "why"),
    [
        (base_ok(), None, "healthy", None),
        (base_degraded(), None, "degraded", 'status "degraded": %s' % DEGRADED_MESSAGE),
        (base_error(), None, "failing", 'status "error": %s' % BASE_ERROR),
        (memory_client(), None, "healthy", None),
        (memory_client(), {"healthy": ["healthy"]}, "healthy", None),
        (memory_client(), {"healthy": ["ok"]}, "failing", 'status "HEALTHY": MemoryClient is healthy'),
        (knowledge_base(), None, "healthy", None),
        (knowledge_base(), KB_POLICY, "healthy", None),
        (
            knowledge_base(),
            {"required_keys": ["status", "ready"]},
            "failing",
            "reply lacks ready (keys: request_count, service, status, timestamp, uptime_seconds)",
        ),
        (broken(), None, "failing", 'status "error": %s' % BROKEN_ERROR),
        (
            {"status": "error", "error": "Unknown action: health_check"},
            None,
            "failing",
            'status "error": Unknown action: health_check',
        ),
        (
            {"status": "error", "message": "Unknown action: health_check"},
            None,
            "failing",
            'status "error": Unknown action: health_check',
        ),
        # "message" is preferred to "error"; a non-text message is quoted as JSON
        ({"status": "error", "message": "m", "error": "e"}, None, "failing", 'status "error": m'),
        ({"status": "error", "error": {"code": 7}}, None, "failing", 'status "error": {"code": 7}'),
        (
            health_reply("initializing", "Loading model"),
            {"degraded": ["initializing"]},
            "degraded",
            'status "initializing": Loading model',
        ),
        (health_reply("degraded", "lapsed"), {"degraded": ["initializing"]}, "failing", 'status "degraded": lapsed'),
    ],
)
def test_judge_reply(reply: Dict[str, Any], policy: Any, verdict: str, why: Optional[str]) -> None:
    assert judge_reply(reply, normalize_policy(policy)) == (verdict, why)


# --------------------------------------------------------------------------
# The real agents' replies, end to end
# --------------------------------------------------------------------------


class Case:
    """One agent socket as the real system has it, and what the check must say."""

    def __init__(
        self,
        id: str,  # pylint: disable=redefined-builtin
        handler: Handler,
        spec: Dict[str, Any],
        verdict: str,
        said: str,
        failed_stage: Optional[str] = None,
        reason: Optional[str] = None,
        message: Optional[str] = None,
        sent: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.id = id
        self.handler = handler
        self.spec = spec
        self.verdict = verdict
        self.said = said  # what the text line says after "HOST:PORT (kind): "
        self.failed_stage = failed_stage
        self.reason = reason
        self.message = message
        self.sent = sent or {"action": "health_check"}

    @property
    def ok(self) -> bool:
        return self.verdict != "failing"

    @property
    def kind(self) -> str:
        return self.spec.get("kind", "main")

    def argv(self, port: int) -> List[str]:
        """The same check on the command line."""
        argv = ["--timeout", "2", "--attempts", "1"]
        policy = self.spec.get("policy") or {}
        for key, flag in (("healthy", "--healthy"), ("degraded", "--degraded"), ("required_keys", "--require")):
            if key in policy:
                argv += [flag, ",".join(policy[key])]
        request = self.spec.get("request") or policy.get("request")
        if request:
            argv += ["--request", json.dumps(request)]
        if self.spec.get("strict"):
            argv.append("--strict")
        return argv + ["127.0.0.1:%d/%s" % (port, self.kind)]


def _failing(stage: str, reason: str, detail: str = DEFAULT_DETAIL) -> str:
    return "%s failed: %s (%s)" % (stage, reason, detail)


UNKNOWN = "Unknown action: health_check"
REAL_AGENTS = [
    Case(
        "base-ok",
        json_handler(base_ok()),
        {"kind": "health"},
        "healthy",
        'status "ok"',
        message="SystemDigitalTwin is healthy",
    ),
    Case(
        "base-degraded",
        json_handler(base_degraded()),
        {"kind": "health"},
        "degraded",
        'status "degraded": %s' % DEGRADED_MESSAGE,
        message=DEGRADED_MESSAGE,
    ),
    Case(
        "base-check-raised",
        json_handler(base_error()),
        {"kind": "health"},
        "failing",
        _failing("status", 'status "error": %s' % BASE_ERROR),
        "status",
        'status "error": %s' % BASE_ERROR,
        BASE_ERROR,
    ),
    Case(
        "memory-client",
        json_handler(memory_client()),
        {"kind": "health", "policy": {"healthy": ["healthy"]}},
        "healthy",
        'status "HEALTHY"',
        message="MemoryClient is healthy",
    ),
    Case(
        "memory-client-default-policy",
        json_handler(memory_client()),
        {"kind": "health"},
        "healthy",
        'status "HEALTHY"',
        message="MemoryClient is healthy",
    ),
    Case(
        "knowledge-base",
        json_handler(knowledge_base()),
        {"kind": "health", "policy": KB_POLICY},
        "healthy",
        'status "HEALTHY"',
    ),
    Case(
        "knowledge-base-default-policy",
        json_handler(knowledge_base()),
        {"kind": "health"},
        "healthy",
        'status "HEALTHY"',
    ),
    Case(
        "knowledge-base-requires-ready",
        json_handler(knowledge_base()),
        {"kind": "health", "policy": {"healthy": ["healthy"], "required_keys": ["status", "ready"]}},
        "failing",
        _failing(
            "reply",
            "wrong reply: missing keys: ready",
            "reply lacks ready (keys: request_count, service, status, timestamp, uptime_seconds)",
        ),
        "reply",
        "wrong reply: missing keys: ready",
    ),
    Case(
        "orchestrator-broken-health",
        json_handler(broken()),
        {"kind": "health"},
        "failing",
        _failing("status", 'status "error": %s' % BROKEN_ERROR),
        "status",
        'status "error": %s' % BROKEN_ERROR,
        BROKEN_ERROR,
    ),
    Case(
        "twin-main-link",
        unknown_action("error"),
        {},
        "reachable",
        'reachable, replied status "error": %s' % UNKNOWN,
        message=UNKNOWN,
    ),
    Case(
        "orchestrator-main-link",
        unknown_action("message"),
        {},
        "reachable",
        'reachable, replied status "error": %s' % UNKNOWN,
        message=UNKNOWN,
    ),
    Case(
        "twin-main-strict",
        unknown_action("error"),
        {"strict": True},
        "failing",
        _failing("status", 'status "error": %s' % UNKNOWN),
        "status",
        'status "error": %s' % UNKNOWN,
        UNKNOWN,
    ),
    Case(
        "orchestrator-main-strict",
        unknown_action("message"),
        {"strict": True},
        "failing",
        _failing("status", 'status "error": %s' % UNKNOWN),
        "status",
        'status "error": %s' % UNKNOWN,
        UNKNOWN,
    ),
    Case(
        "web-main-link",
        unified_web_agent,
        {},
        "reachable",
        'reachable, replied status "error": Unknown command: None',
        message="Unknown command: None",
    ),
    Case(
        "web-main-strict-asked-action",
        unified_web_agent,
        {"strict": True},
        "failing",
        _failing("status", 'status "error": Unknown command: None'),
        "status",
        'status "error": Unknown command: None',
        "Unknown command: None",
    ),
    Case(
        "web-main-strict-asked-command",
        unified_web_agent,
        {"strict": True, "request": {"command": "health_check"}},
        "healthy",
        'status "ok"',
        message="UnifiedWebAgent is healthy",
        sent={"command": "health_check"},
    ),
    Case(
        "web-main-link-asked-command",
        unified_web_agent,
        {"request": {"command": "health_check"}},
        "reachable",
        'reachable, replied status "ok": UnifiedWebAgent is healthy',
        message="UnifiedWebAgent is healthy",
        sent={"command": "health_check"},
    ),
    Case(
        "custom-degraded-initializing",
        json_handler(health_reply("initializing", "Loading model")),
        {"kind": "health", "policy": {"degraded": ["initializing"]}},
        "degraded",
        'status "initializing": Loading model',
        message="Loading model",
    ),
]


@pytest.mark.parametrize("case", REAL_AGENTS, ids=[case.id for case in REAL_AGENTS])
def test_real_agent_reply(zmq_peer: Callable[..., ZmqPeer], case: Case) -> None:
    peer = zmq_peer(case.handler)
    result = check_one(endpoint(peer.port, name="Agent", **case.spec), attempts=2)
    assert result["verdict"] == case.verdict, result
    assert result["ok"] is case.ok
    assert result["failed_stage"] == case.failed_stage
    assert result["reason"] == case.reason
    assert result["message"] == case.message
    if case.verdict in ("healthy", "degraded"):
        assert (result["stage_reached"], result["detail"]) == ("status", None)
    elif case.verdict == "reachable":
        assert (result["stage_reached"], result["detail"]) == ("reply", None)
    elif case.failed_stage == "status":
        assert result["stage_reached"] == "reply"
    assert result["reply"] is not None and result["rtt_ms"] is not None
    assert [json.loads(frames[0]) for frames in peer.requests] == [case.sent] * 2


def test_real_agents_in_one_batch(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peers = [zmq_peer(case.handler) for case in REAL_AGENTS]
    specs = [endpoint(peer.port, name=case.id, **case.spec) for case, peer in zip(REAL_AGENTS, peers)]
    document = run_checks(specs, timeout=2.0, attempts=1)
    assert [r["verdict"] for r in document["endpoints"]] == [case.verdict for case in REAL_AGENTS]
    failing = [(case, peer) for case, peer in zip(REAL_AGENTS, peers) if not case.ok]
    assert document["failed_count"] == len(failing)
    assert document["degraded_count"] == sum(case.verdict == "degraded" for case in REAL_AGENTS) == 2
    assert document["ok_count"] == len(REAL_AGENTS) - len(failing)
    assert document["summary"] == [
        "%s 127.0.0.1:%d (%s): %s" % (case.id, peer.port, case.kind, case.said) for case, peer in failing
    ]


@pytest.mark.parametrize("case", REAL_AGENTS, ids=[case.id for case in REAL_AGENTS])
def test_real_agent_reply_on_the_command_line(zmq_peer: Callable[..., ZmqPeer], case: Case) -> None:
    peer = zmq_peer(case.handler)
    code, out = run_main(case.argv(peer.port))
    [line] = out.splitlines()
    where = "127.0.0.1:%d (%s): " % (peer.port, case.kind)
    if not case.ok:
        assert code == 1
        assert line == "FAIL     " + where + case.said
    else:
        assert code == 0  # degraded passes
        word = "DEGRADED" if case.verdict == "degraded" else "OK      "
        assert line.startswith("%s %s%s, rtt median " % (word, where, case.said)), line
    assert [json.loads(frames[0]) for frames in peer.requests] == [case.sent]


def test_cli_degraded_exits_zero_but_says_so(zmq_peer: Callable[..., ZmqPeer]) -> None:
    ok, degraded = zmq_peer(json_handler(base_ok())), zmq_peer(json_handler(base_degraded()))
    code, out = run_main(["--attempts", "1", "127.0.0.1:%d/health" % ok.port, "127.0.0.1:%d/health" % degraded.port])
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["OK", "DEGRADED"]
    code, out = run_main(["--json", "--attempts", "1", "127.0.0.1:%d/health" % degraded.port])
    document = json.loads(out)
    assert code == 0
    assert (document["ok_count"], document["degraded_count"], document["failed_count"]) == (1, 1, 0)
    assert document["endpoints"][0]["message"] == DEGRADED_MESSAGE


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--healthy", ""], "health_policy.healthy is empty"),
        (["--healthy", " , "], "health_policy.healthy is empty"),
        (["--degraded", "OK"], "lists 'ok', which healthy lists too"),
        (["--require", "ready"], "health_policy.required_keys must include 'status'"),
        (["--request", "{not json"], "--request is not JSON: "),
        (["--request", "[1]"], "health_policy.request must be a non-empty mapping"),
        (["--request", "{}"], "health_policy.request must be a non-empty mapping"),
    ],
)
def test_cli_bad_policy_flags(zmq_peer: Callable[..., ZmqPeer], argv: List[str], message: str) -> None:
    peer = zmq_peer(json_handler(base_ok()))
    code, out = run_main(["--json"] + argv + ["127.0.0.1:%d/health" % peer.port])
    assert code == 2
    document = json.loads(out)
    assert message in document["error"]
    assert document["endpoints"] == [] and document["degraded_count"] == 0
    assert peer.requests == []  # refused before anything is checked


def test_cli_bad_policy_flag_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--healthy", "", "127.0.0.1:1"], stdout=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.startswith("zmq_health.py: error: ") and "health_policy.healthy is empty" in err


# --------------------------------------------------------------------------
# --config: the container HEALTHCHECK
# --------------------------------------------------------------------------


def write_config(tmp_path: Path, agents: Dict[str, Any], group: str = "memory-system") -> str:
    """A group's endpoint map as the plan renders it (endpoints.json)."""
    path = tmp_path / "endpoints.json"
    document = {"group": group, "host": "mainpc", "agents": agents, "connects_to": [], "endpoints": {}}
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return str(path)


def test_config_probes_each_agent_with_its_own_policy(zmq_peer: Callable[..., ZmqPeer], tmp_path: Path) -> None:
    twin, client = zmq_peer(json_handler(base_degraded())), zmq_peer(json_handler(memory_client()))
    kb, orchestrator = zmq_peer(json_handler(knowledge_base())), zmq_peer(json_handler(broken()))
    main_port = closed_port()  # the main ports are not probed
    path = write_config(
        tmp_path,
        {
            "SystemDigitalTwin": {
                "port": main_port,
                "health_port": twin.port,
                "socket": "rep",
                "health_policy": {"healthy": ["ok"], "degraded": ["degraded"]},
            },
            "MemoryClient": {
                "port": main_port,
                "health_port": client.port,
                "socket": "rep",
                "health_policy": {"healthy": ["healthy"]},
            },
            # the full policy, as the plan writes it
            "KnowledgeBase": {
                "port": main_port,
                "health_port": kb.port,
                "socket": "rep",
                "health_policy": normalize_policy(KB_POLICY).as_dict(),
            },
            "MemoryOrchestratorService": {"port": main_port, "health_port": orchestrator.port},
            "ErrorBusService": {
                "port": main_port,
                "health_port": None,
                "socket": "pub",
                "health_policy": DEFAULT_POLICY,
            },
            "NoHealthPort": {"port": main_port, "health_port": None, "socket": "rep"},
        },
    )
    code, out = run_main(["--timeout", "2", "--attempts", "1", "--config", path])
    assert code == 1
    lines = out.splitlines()
    assert [line.split()[0:2] for line in lines] == [
        ["OK", "KnowledgeBase"],
        ["OK", "MemoryClient"],
        ["FAIL", "MemoryOrchestratorService"],
        ["DEGRADED", "SystemDigitalTwin"],
    ]
    assert lines[0].startswith('OK       KnowledgeBase 127.0.0.1:%d (health): status "HEALTHY", rtt' % kb.port)
    assert lines[2] == "FAIL     MemoryOrchestratorService 127.0.0.1:%d (health): %s" % (
        orchestrator.port,
        _failing("status", 'status "error": %s' % BROKEN_ERROR),
    )
    assert lines[3].startswith(
        'DEGRADED SystemDigitalTwin 127.0.0.1:%d (health): status "degraded": %s, rtt' % (twin.port, DEGRADED_MESSAGE)
    )
    for peer in (twin, client, kb, orchestrator):
        assert [json.loads(frames[0]) for frames in peer.requests] == [{"action": "health_check"}]

    code, out = run_main(["--json", "--attempts", "1", "--address", "127.0.0.1", "--config", path])
    document = json.loads(out)
    assert code == 1
    assert (document["ok_count"], document["degraded_count"], document["failed_count"]) == (3, 1, 1)
    assert {r["group"] for r in document["endpoints"]} == {"memory-system"}
    assert {r["kind"] for r in document["endpoints"]} == {"health"}


def test_config_all_fine_but_one_degraded_exits_zero(zmq_peer: Callable[..., ZmqPeer], tmp_path: Path) -> None:
    twin, coordinator = zmq_peer(json_handler(base_ok())), zmq_peer(json_handler(base_degraded()))
    path = write_config(
        tmp_path,
        {
            "SystemDigitalTwin": {"port": 7120, "health_port": twin.port, "health_policy": {"healthy": ["ok"]}},
            "RequestCoordinator": {"port": 26002, "health_port": coordinator.port},
        },
        group="core-services",
    )
    code, out = run_main(["--attempts", "1", "--config", path])
    assert code == 0
    assert [line.split()[0:2] for line in out.splitlines()] == [
        ["DEGRADED", "RequestCoordinator"],
        ["OK", "SystemDigitalTwin"],
    ]


def test_config_and_endpoint_arguments_together(zmq_peer: Callable[..., ZmqPeer], tmp_path: Path) -> None:
    """Flags judge the ENDPOINT arguments only; --config agents keep their own policy."""
    kb, link = zmq_peer(json_handler(knowledge_base())), zmq_peer(unknown_action("error"))
    path = write_config(tmp_path, {"KnowledgeBase": {"port": 1, "health_port": kb.port, "health_policy": KB_POLICY}})
    code, out = run_main(["--attempts", "1", "--require", "status,ready", "--config", path, "127.0.0.1:%d" % link.port])
    assert code == 0, out
    assert [line.split()[0] for line in out.splitlines()] == ["OK", "OK"]


def test_config_entries() -> None:
    document = {
        "group": "g",
        "agents": {
            "B": {"port": 1, "health_port": 2, "health_policy": {"healthy": ["healthy"]}},
            "A": {"port": 3, "health_port": 4},
            "P": {"port": 5, "socket": "pub"},
        },
    }
    assert config_endpoints(document, "10.0.0.5") == [
        {"name": "A", "address": "10.0.0.5", "port": 4, "kind": "health", "policy": None, "group": "g"},
        {
            "name": "B",
            "address": "10.0.0.5",
            "port": 2,
            "kind": "health",
            "policy": {"healthy": ["healthy"]},
            "group": "g",
        },
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("{not json", "Expecting property name"),
        ("[]", 'expected an object with an "agents" mapping'),
        ('{"agents": {"A": 5}}', "agent A is not an object"),
        (
            '{"agents": {"A": {"port": 1, "health_port": 2, "health_policy": {"healthy": []}}}}',
            "health_policy.healthy is empty",
        ),
        ('{"agents": {"P": {"port": 1, "socket": "pub"}}}', "no endpoints given"),
    ],
)
def test_config_errors_exit_two(tmp_path: Path, content: Optional[str], message: str) -> None:
    path = tmp_path / "endpoints.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out = run_main(["--json", "--config", str(path)])
    assert code == 2
    assert message in json.loads(out)["error"]


# --------------------------------------------------------------------------
# CURVE: why a handshake did not complete
# --------------------------------------------------------------------------

needs_curve = pytest.mark.skipif(
    not zmq.has("curve"), reason="libzmq is built without CURVE (zmq.has('curve') is false)"
)


class OneClientKey:
    """A ZAP credentials provider that admits one client public key."""

    def __init__(self, allowed: bytes) -> None:
        self.allowed = allowed
        self.asked: List[bytes] = []

    def callback(self, domain: str, key: bytes) -> bool:
        self.asked.append(key)
        return key == self.allowed


@pytest.fixture
def curve_server() -> Iterator[Dict[str, Any]]:
    """A CURVE REP server whose ZAP handler admits only one client key.

    Its own context: a ZAP handler serves every socket of its context.
    """
    from zmq.auth.thread import ThreadAuthenticator  # pylint: disable=import-outside-toplevel

    context = zmq.Context()
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    provider = OneClientKey(client_public)
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=provider)
    peer = ZmqPeer(context, json_handler(base_ok()), curve_secret=server_secret)
    try:
        yield {
            "port": peer.port,
            "server_public": server_public,
            "client": (client_public, client_secret),
            "provider": provider,
            "context": context,
        }
    finally:
        peer.close()
        auth.stop()
        context.destroy(linger=0)


@needs_curve
def test_curve_server_refuses_the_checks_client_key(curve_server: Dict[str, Any]) -> None:
    # the server does serve the one client it knows ...
    client = curve_server["context"].socket(zmq.REQ)
    client.linger = 0
    client.curve_serverkey = curve_server["server_public"]
    client.curve_publickey, client.curve_secretkey = curve_server["client"]
    client.rcvtimeo = 2000
    client.connect("tcp://127.0.0.1:%d" % curve_server["port"])
    client.send_json({"action": "health_check"})
    assert client.recv_json()["status"] == "ok"
    client.close(linger=0)

    # ... and refuses the check's throw-away key
    started = time.monotonic()
    result = check_one(
        endpoint(curve_server["port"], kind="health", server_key=curve_server["server_public"].decode()), timeout=T
    )
    assert (result["ok"], result["verdict"]) == (False, None)
    assert (result["failed_stage"], result["reason"]) == ("zmtp", "handshake refused"), (result, zmq.zmq_version())
    assert "refused this check's client key (ZAP status 400)" in result["detail"]
    assert "wrong server_key" not in result["detail"]
    assert result["zmtp"]["mechanism"] == "CURVE"
    assert time.monotonic() - started < T + 1.0
    provider = curve_server["provider"]
    assert len(provider.asked) >= 2 and provider.asked[-1] != provider.allowed


@needs_curve
def test_curve_wrong_server_key_times_out(curve_server: Dict[str, Any]) -> None:
    other_public, _other_secret = zmq.curve_keypair()  # another server's key
    result = check_one(endpoint(curve_server["port"], kind="health", server_key=other_public.decode()), timeout=T)
    assert (result["failed_stage"], result["reason"]) == ("zmtp", "timed out"), (result, zmq.zmq_version())
    assert result["detail"] == "CURVE handshake did not complete within %gs (wrong server_key?)" % T
    # the server could not read our HELLO, so its ZAP handler was never asked
    assert curve_server["provider"].asked == []


# --------------------------------------------------------------------------
# stage_reached is the last stage that PASSED (zmq_check's RETURN docs)
# --------------------------------------------------------------------------


def test_stage_reached_precedes_a_missing_keys_failure(zmq_peer: Callable[..., ZmqPeer]) -> None:
    peer = zmq_peer(json_handler(knowledge_base()))
    result = check_one(endpoint(peer.port, kind="health", policy={"required_keys": ["status", "ready"]}), attempts=1)
    assert result["failed_stage"] == "reply"
    assert result["stage_reached"] == "zmtp"


@needs_curve
def test_stage_reached_precedes_a_curve_handshake_failure(curve_server: Dict[str, Any]) -> None:
    other_public, _other_secret = zmq.curve_keypair()
    result = check_one(endpoint(curve_server["port"], server_key=other_public.decode()), timeout=0.1)
    assert result["failed_stage"] == "zmtp"
    assert result["stage_reached"] == "tcp"
