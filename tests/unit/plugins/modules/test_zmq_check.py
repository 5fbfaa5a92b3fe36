# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the zmq_check module against real ZMQ sockets on 127.0.0.1.

``run_zmq_check`` (what ``main()`` calls) is tested with a small module double
whose params went through the module's real argument spec; ``main()`` itself
is run with ``patch_module_args`` to check what the task returns.  The
``container`` path runs the real check source through a stand-in ``podman``
script that drops ``exec -i -- CONTAINER`` and runs the rest locally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml
import zmq
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ai_system.containers.plugins.module_utils.verify import zmq_health, zmq_run
from ansible_collections.ai_system.containers.plugins.modules import zmq_check
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_run import (
    ARGUMENT_SPEC,
    ZmqCheckError,
    outcome,
    run_zmq_check,
    run_zmq_checks,
)
from support.net import closed_port

MODULE_PATH = Path(zmq_check.__file__)
OK_REPLY = {
    "status": "ok",
    "ready": True,
    "initialized": True,
    "message": "Agent is healthy",
    "timestamp": "2025-01-01T12:00:00+00:00",
    "uptime": 42.0,
    "active_threads": 3,
    "health_status": "healthy",
    "health_checks": {"redis_connected": True, "ready_signal": True, "port_accessible": True},
}
DEGRADED_REPLY = dict(
    OK_REPLY,
    status="degraded",
    message="ModelManager: ready signal lapsed",
    health_status="degraded",
    health_checks={"redis_connected": True, "ready_signal": False, "port_accessible": True},
)
#: KnowledgeBase's health reply: exactly these keys.
KB_REPLY = {
    "status": "HEALTHY",
    "service": "KnowledgeBase",
    "request_count": 3,
    "timestamp": 1735732800.5,
    "uptime_seconds": 42.0,
}
UNKNOWN_ACTION = {"status": "error", "error": "Unknown action: health_check"}
BROKEN_REPLY = {"status": "error", "error": "'MemoryOrchestratorService' object has no attribute 'error_bus_pub'"}
DEFAULT_DETAIL = "healthy: ok, healthy; degraded: degraded"


class RepPeer:
    """A REP socket on a random loopback port answering ``reply`` to everything
    (or what ``reply(request)`` returns when it is a function)."""

    def __init__(self, ctx: zmq.Context, reply: Any) -> None:
        self.sock = ctx.socket(zmq.REP)
        self.sock.linger = 0
        self.sock.bind("tcp://127.0.0.1:*")
        self.port = int(self.sock.last_endpoint.rsplit(b":", 1)[1])
        self.requests: List[Any] = []
        self._reply = reply
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                if self.sock.poll(20):
                    request = self.sock.recv_json()
                    self.requests.append(request)
                    self.sock.send_json(self._reply(request) if callable(self._reply) else self._reply)
        finally:
            self.sock.close(linger=0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def peer(ctx: zmq.Context) -> Iterator[Callable[..., RepPeer]]:
    peers: List[RepPeer] = []

    def make(reply: Any = None) -> RepPeer:
        rep = RepPeer(ctx, reply or OK_REPLY)
        peers.append(rep)
        return rep

    yield make
    for rep in peers:
        rep.close()


class FakeModule:
    """The parts of AnsibleModule that run_zmq_check uses.

    ``params`` are validated (and defaulted) by the module's real argument
    spec; ``run_command`` runs the command for real.
    """

    def __init__(self, args: Dict[str, Any]) -> None:
        validation = ArgumentSpecValidator(ARGUMENT_SPEC).validate(args)
        assert validation.error_messages == []
        self.params = validation.validated_parameters
        self.commands: List[List[str]] = []

    def get_bin_path(self, name: str, required: bool = False) -> str:
        raise AssertionError("podman lookup not expected in this test")

    def run_command(
        self, args: List[str], data: Optional[str] = None, encoding: Optional[str] = "utf-8", **_kwargs: Any
    ) -> Tuple[int, Any, Any]:
        """Like AnsibleModule.run_command: bytes with ``encoding=None``, else text."""
        self.commands.append(list(args))
        proc = subprocess.run(
            args, input=data.encode("utf-8") if data else None, capture_output=True, timeout=60, check=False
        )
        if encoding is None:
            return proc.returncode, proc.stdout, proc.stderr
        return (
            proc.returncode,
            proc.stdout.decode(encoding, "surrogateescape"),
            proc.stderr.decode(encoding, "surrogateescape"),
        )


def run_main(args: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> Dict[str, Any]:
    """Run the module's main() and return the JSON it printed."""
    with patch_module_args(args), pytest.raises(SystemExit):
        zmq_check.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def fake_podman(tmp_path: Path) -> Callable[[str], str]:
    """Write a stand-in podman; the body runs after ``shift 4`` (exec -i -- NAME)."""

    def make(body: str) -> str:
        path = tmp_path / "podman"
        path.write_text(
            "#!/bin/sh\n" 'printf "%s\\n" "$@" > "' + str(tmp_path / "podman.args") + '"\n' "shift 4\n" + body + "\n",
            encoding="utf-8",
        )
        path.chmod(0o755)
        return str(path)

    return make


# --------------------------------------------------------------------------
# run_zmq_check
# --------------------------------------------------------------------------


def test_all_links_ok(peer: Callable[..., RepPeer]) -> None:
    main_rep, health_rep = peer(), peer()
    module = FakeModule(
        {
            "endpoints": [
                {"name": "ModelManager", "address": "127.0.0.1", "port": main_rep.port},
                {
                    "name": "ModelManager",
                    "address": "127.0.0.1",
                    "port": health_rep.port,
                    "kind": "health",
                    "group": "pc2",
                },
            ],
            "timeout": 2.0,
            "attempts": 2,
        }
    )
    result = run_zmq_check(module)
    assert set(result) == {"changed", "endpoints", "ok_count", "degraded_count", "failed_count", "summary", "elapsed_s"}
    assert result["changed"] is False
    assert (result["ok_count"], result["degraded_count"], result["failed_count"], result["summary"]) == (2, 0, 0, [])
    first, second = result["endpoints"]
    assert first["ok"] and second["ok"]
    # the main socket is a link (any well-formed reply proves it); the health socket is judged
    assert (first["verdict"], second["verdict"]) == ("reachable", "healthy")
    assert first["message"] == second["message"] == "Agent is healthy"
    assert (first["kind"], second["kind"], second["group"]) == ("main", "health", "pc2")
    assert first["reply"] == OK_REPLY
    assert set(first["rtt_ms"]) == {"min", "median", "max"}
    assert main_rep.requests == [{"action": "health_check"}] * 2
    assert module.commands == []


def test_broken_links_are_summarised(peer: Callable[..., RepPeer]) -> None:
    loading = peer(dict(OK_REPLY, status="initializing", message="Loading model"))
    refused = closed_port()
    module = FakeModule(
        {
            "endpoints": [
                {"name": "MemoryOrchestratorService", "address": "127.0.0.1", "port": refused},
                {"name": "ModelManager", "address": "127.0.0.1", "port": loading.port, "kind": "health"},
            ],
            "timeout": 1.0,
        }
    )
    result = run_zmq_check(module)
    assert (result["ok_count"], result["failed_count"]) == (0, 2)
    assert result["summary"] == [
        "MemoryOrchestratorService 127.0.0.1:%d (main): tcp failed: connection refused" % refused,
        'ModelManager 127.0.0.1:%d (health): status failed: status "initializing": Loading model (%s)'
        % (loading.port, DEFAULT_DETAIL),
    ]
    assert [e["verdict"] for e in result["endpoints"]] == [None, "failing"]
    assert result["endpoints"][1]["message"] == "Loading model"


def test_policies_strict_links_and_requests(peer: Callable[..., RepPeer]) -> None:
    """The real agents' replies through the module's argument spec."""

    def web_agent(request: Dict[str, Any]) -> Dict[str, Any]:  # UnifiedWebAgent dispatches on "command"
        if request.get("command") == "health_check":
            return OK_REPLY
        return {"status": "error", "message": "Unknown command: %s" % request.get("command")}

    kb, degraded, broken = peer(KB_REPLY), peer(DEGRADED_REPLY), peer(BROKEN_REPLY)
    twin, web = peer(UNKNOWN_ACTION), peer(web_agent)
    module = FakeModule(
        {
            "endpoints": [
                {
                    "name": "KnowledgeBase",
                    "address": "127.0.0.1",
                    "port": kb.port,
                    "kind": "health",
                    "policy": kb_policy("service"),
                },
                {"name": "ModelManager", "address": "127.0.0.1", "port": degraded.port, "kind": "health"},
                {"name": "MemoryOrchestratorService", "address": "127.0.0.1", "port": broken.port, "kind": "health"},
                {"name": "SystemDigitalTwin", "address": "127.0.0.1", "port": twin.port},
                {"name": "SystemDigitalTwin", "address": "127.0.0.1", "port": twin.port, "strict": True},
                {
                    "name": "UnifiedWebAgent",
                    "address": "127.0.0.1",
                    "port": web.port,
                    "strict": True,
                    "request": {"command": "health_check"},
                },
            ],
            "timeout": 2.0,
            "attempts": 1,
        }
    )
    result = run_zmq_check(module)
    assert [(e["verdict"], e["ok"]) for e in result["endpoints"]] == [
        ("healthy", True),
        ("degraded", True),
        ("failing", False),
        ("reachable", True),
        ("failing", False),
        ("healthy", True),
    ]
    assert [e["message"] for e in result["endpoints"]] == [
        None,
        "ModelManager: ready signal lapsed",
        BROKEN_REPLY["error"],
        "Unknown action: health_check",
        "Unknown action: health_check",
        "Agent is healthy",
    ]
    assert (result["ok_count"], result["degraded_count"], result["failed_count"]) == (4, 1, 2)
    assert result["summary"] == [
        'MemoryOrchestratorService 127.0.0.1:%d (health): status failed: status "error": %s (%s)'
        % (broken.port, BROKEN_REPLY["error"], DEFAULT_DETAIL),
        'SystemDigitalTwin 127.0.0.1:%d (main): status failed: status "error": Unknown action: health_check (%s)'
        % (twin.port, DEFAULT_DETAIL),
    ]
    assert web.requests == [{"command": "health_check"}]


def kb_policy(key: str) -> Dict[str, Any]:
    """KnowledgeBase's policy, requiring ``status`` and ``key``."""
    return {
        "healthy": ["healthy"],
        "degraded": ["degraded"],
        "required_keys": ["status", key],
        "request": {"action": "health_check"},
    }


def test_required_keys_missing_from_the_reply(peer: Callable[..., RepPeer]) -> None:
    kb = peer(KB_REPLY)
    module = FakeModule(
        {
            "endpoints": [
                {
                    "name": "KnowledgeBase",
                    "address": "127.0.0.1",
                    "port": kb.port,
                    "kind": "health",
                    "policy": kb_policy("ready"),
                },
            ],
            "attempts": 1,
        }
    )
    [endpoint] = run_zmq_check(module)["endpoints"]
    assert (endpoint["failed_stage"], endpoint["reason"]) == ("reply", "wrong reply: missing keys: ready")
    assert endpoint["detail"] == "reply lacks ready (keys: request_count, service, status, timestamp, uptime_seconds)"


def test_a_partial_policy_takes_the_defaults_for_the_rest(peer: Callable[..., RepPeer]) -> None:
    """As in the module's EXAMPLES: only healthy and degraded are given; the argument
    spec passes the unset suboptions as None, which must mean "the default"."""
    loading = peer(dict(OK_REPLY, status="initializing", message="Loading model"))
    module = FakeModule(
        {
            "endpoints": [
                {
                    "address": "127.0.0.1",
                    "port": loading.port,
                    "kind": "health",
                    "policy": {"healthy": ["ok", "healthy"], "degraded": ["degraded", "initializing"]},
                },
            ],
            "attempts": 1,
        }
    )
    result = run_zmq_check(module)
    assert (result["ok_count"], result["degraded_count"]) == (1, 1)
    assert loading.requests == [{"action": "health_check"}]


def test_missing_pyzmq_on_the_managed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zmq_run, "HAS_ZMQ", False)
    monkeypatch.setattr(zmq_run, "ZMQ_IMPORT_ERROR", "Traceback: No module named 'zmq'")
    module = FakeModule({"endpoints": [{"address": "127.0.0.1", "port": 1}]})
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(module)
    assert info.value.msg.startswith("Failed to import the required Python library (pyzmq) on ")
    assert info.value.exception == "Traceback: No module named 'zmq'"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"endpoints": [{"address": "127.0.0.1", "port": 0}]},
            "invalid endpoints: endpoint 127.0.0.1: port 0 is out of range 1-65535",
        ),
        (
            {"endpoints": [{"address": "127.0.0.1", "port": 1, "server_key": "abc"}]},
            "invalid endpoints: server_key must be a 40-character Z85 CURVE public key",
        ),
        ({"endpoints": [{"address": "127.0.0.1", "port": 1}], "timeout": 0}, "timeout must be greater than 0, got 0.0"),
        ({"endpoints": [{"address": "127.0.0.1", "port": 1}], "attempts": 0}, "attempts must be at least 1, got 0"),
    ],
)
def test_invalid_input(args: Dict[str, Any], message: str) -> None:
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(FakeModule(args))
    assert info.value.msg == message


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ({"healthy": []}, "health_policy.healthy is empty"),
        ({"degraded": ["OK"]}, "lists 'ok', which healthy lists too"),  # statuses compare case-insensitively
        ({"required_keys": ["ready"]}, "health_policy.required_keys must include 'status'"),
        ({"request": {}}, "health_policy.request must be a non-empty mapping"),
    ],
)
def test_invalid_policy(policy: Dict[str, Any], named: str) -> None:
    full = {"healthy": ["ok"], "degraded": ["degraded"], "required_keys": ["status"], "request": {"action": "ping"}}
    full.update(policy)
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(FakeModule({"endpoints": [{"address": "127.0.0.1", "port": 1, "policy": full}]}))
    assert info.value.msg.startswith("invalid endpoints: endpoint 127.0.0.1: ")
    assert named in info.value.msg


# --------------------------------------------------------------------------
# Inside a container (podman exec)
# --------------------------------------------------------------------------


def test_container_runs_the_check_source_with_podman_exec(
    monkeypatch: pytest.MonkeyPatch, peer: Callable[..., RepPeer], fake_podman: Callable[[str], str], tmp_path: Path
) -> None:
    monkeypatch.setattr(zmq_run, "HAS_ZMQ", False)  # the managed host needs no pyzmq
    rep = peer()
    loading = peer(dict(OK_REPLY, status="initializing", message="Loading model"))
    refused = closed_port()
    podman = fake_podman('exec "$@"')
    module = FakeModule(
        {
            "endpoints": [
                {"name": "Agent", "address": "127.0.0.1", "port": rep.port, "kind": "health"},
                {"name": "Gone", "address": "127.0.0.1", "port": refused},
                # the policy travels into the container with the endpoint
                {
                    "name": "Loader",
                    "address": "127.0.0.1",
                    "port": loading.port,
                    "kind": "health",
                    "policy": {
                        "healthy": ["ok"],
                        "degraded": ["initializing"],
                        "required_keys": ["status", "ready"],
                        "request": {"action": "ping"},
                    },
                },
            ],
            "timeout": 1.5,
            "attempts": 1,
            "container": "model-manager",
            "container_python": sys.executable,
            "podman_path": podman,
        }
    )
    result = run_zmq_check(module)
    assert (result["ok_count"], result["degraded_count"], result["failed_count"]) == (2, 1, 1)
    assert result["summary"] == ["Gone 127.0.0.1:%d (main): tcp failed: connection refused" % refused]
    assert result["endpoints"][0]["reply"] == OK_REPLY
    assert [e["verdict"] for e in result["endpoints"]] == ["healthy", None, "degraded"]
    assert result["endpoints"][2]["message"] == "Loading model"
    assert rep.requests == [{"action": "health_check"}]
    assert loading.requests == [{"action": "ping"}]

    # The exec, then podman inspect for the silent port's container (this fake has none: nothing added).
    command = module.commands[0]
    assert "listening" not in result["endpoints"][1]
    source = Path(zmq_health.__file__).read_text(encoding="utf-8")
    assert command == [podman, "exec", "-i", "--", "model-manager", sys.executable, "-c", source, "--stdin-json"]
    recorded = (tmp_path / "podman.args").read_text(encoding="utf-8")
    # The last call: podman inspect of the container whose port was silent.
    assert recorded.startswith("container\ninspect\n--format\n{{.State.Pid}}\n--\nmodel-manager\n")


def test_container_without_pyzmq(
    peer: Callable[..., RepPeer], fake_podman: Callable[[str], str], tmp_path: Path
) -> None:
    no_zmq = tmp_path / "no_zmq"
    no_zmq.mkdir()
    (no_zmq / "zmq.py").write_text("raise ImportError(\"No module named 'zmq'\")\n", encoding="utf-8")
    podman = fake_podman('PYTHONPATH="%s" exec "$@"' % no_zmq)
    module = FakeModule(
        {
            "endpoints": [{"address": "127.0.0.1", "port": peer().port}],
            "container": "agent",
            "container_python": sys.executable,
            "podman_path": podman,
        }
    )
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(module)
    assert info.value.msg == "ZMQ checks inside container agent: pyzmq is not installed for %s" % sys.executable


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'echo "Error: no container with name or ID \\"agent\\" found" >&2; exit 125',
            "could not run the ZMQ checks inside container agent (rc=125): "
            'Error: no container with name or ID "agent" found',
        ),
        ("exit 126", "could not run the ZMQ checks inside container agent (rc=126): no output"),
        (
            "echo '[]'",
            "unexpected output from the ZMQ checks inside container agent (rc=0): a JSON list, not an object: []",
        ),
    ],
)
def test_container_failures(fake_podman: Callable[[str], str], body: str, message: str) -> None:
    module = FakeModule(
        {
            "endpoints": [{"address": "127.0.0.1", "port": 1}],
            "container": "agent",
            "podman_path": fake_podman(body),
        }
    )
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(module)
    assert info.value.msg == message


# --------------------------------------------------------------------------
# Hostile option values
# --------------------------------------------------------------------------

ONE_ENDPOINT = [{"address": "127.0.0.1", "port": 1}]


def refused(args: Dict[str, Any]) -> str:
    """The message run_zmq_check refuses ``args`` with; nothing may have run."""
    module = FakeModule(args)
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(module)
    assert module.commands == []
    return info.value.msg


@pytest.mark.parametrize("container", ["-it", "--user=root", "--privileged", "-"])
def test_container_name_starting_with_dash_is_refused(container: str) -> None:
    assert refused({"endpoints": ONE_ENDPOINT, "container": container, "podman_path": "/bin/false"}) == (
        "container %r starts with '-', which podman would read as an option; give the container's name or ID"
        % container
    )


@pytest.mark.parametrize("container", ["a b", "../agent", "agent\n", "agent;id", "_agent", ".agent", "agént"])
def test_container_name_podman_cannot_have_is_refused(container: str) -> None:
    assert refused({"endpoints": ONE_ENDPOINT, "container": container, "podman_path": "/bin/false"}) == (
        "container %r is not a container name or ID: it must start with a letter or digit and hold only "
        "letters, digits, '_', '.' and '-'" % container
    )


def test_empty_container_is_refused_not_run_on_the_managed_host() -> None:
    assert refused({"endpoints": ONE_ENDPOINT, "container": ""}) == (
        "container must not be empty; leave it out to run the checks on the managed host"
    )


@pytest.mark.parametrize("python", ["", "-c", "--version", "python3\n"])
def test_container_python_that_is_empty_or_an_option_is_refused(python: str) -> None:
    assert refused(
        {"endpoints": ONE_ENDPOINT, "container": "agent", "container_python": python, "podman_path": "/bin/false"}
    ) == ("container_python must be the name or path of the Python interpreter inside the container, got %r" % python)


def test_container_name_that_is_a_hex_id_is_accepted(fake_podman: Callable[[str], str]) -> None:
    module = FakeModule(
        {"endpoints": ONE_ENDPOINT, "container": "e48c4189b892", "podman_path": fake_podman("exit 125")}
    )
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(module)
    assert info.value.msg == "could not run the ZMQ checks inside container e48c4189b892 (rc=125): no output"
    assert module.commands[0][1:5] == ["exec", "-i", "--", "e48c4189b892"]


def test_endpoint_name_starting_with_dash_is_refused() -> None:
    endpoints = [{"address": "127.0.0.1", "port": 1}, {"name": "--config", "address": "127.0.0.1", "port": 2}]
    assert (
        refused({"endpoints": endpoints}) == "invalid endpoints: endpoints[1]: name '--config' must not start with '-'"
    )


@pytest.mark.parametrize("name", ["Agent\nFAKE 127.0.0.1:1 (main): all fine", "Agent\x1b[2K", "Agent\x00"])
def test_endpoint_name_with_control_character_cannot_forge_summary_lines(name: str) -> None:
    assert refused({"endpoints": [{"name": name, "address": "127.0.0.1", "port": 1}]}) == (
        "invalid endpoints: endpoints[0]: name %r contains a control character" % name
    )


@pytest.mark.parametrize("address", ["127.0.0.1\n", "127.0.0.1\x00.evil", "host\tname"])
def test_endpoint_address_with_control_character_is_refused(address: str) -> None:
    assert refused({"endpoints": [{"address": address, "port": 1}]}) == (
        "invalid endpoints: endpoints[0]: address %r contains a control character" % address
    )


@pytest.mark.parametrize("address", ["", "   "])
def test_endpoint_empty_address_is_refused(address: str) -> None:
    assert (
        refused({"endpoints": [{"address": address, "port": 1}]}) == "invalid endpoints: endpoints[0]: address is empty"
    )


def test_endpoint_group_with_control_character_is_refused() -> None:
    assert refused({"endpoints": [{"address": "127.0.0.1", "port": 1, "group": "pc2\r\nx"}]}) == (
        "invalid endpoints: endpoints[0]: group 'pc2\\r\\nx' contains a control character"
    )


@pytest.mark.parametrize("port", [0, -1, 65536, 2**31])
def test_endpoint_port_outside_1_to_65535_is_refused(port: int) -> None:
    assert refused({"endpoints": [{"address": "127.0.0.1", "port": port}]}) == (
        "invalid endpoints: endpoint 127.0.0.1: port %d is out of range 1-65535" % port
    )


@pytest.mark.parametrize("kind", ["pub", "MAIN", "--kind", ""])
def test_endpoint_kind_outside_the_allowed_set_is_refused(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    output = run_main({"endpoints": [{"address": "127.0.0.1", "port": 1, "kind": kind}]}, capsys)
    assert output["failed"] is True
    assert output["msg"] == ("value of kind must be one of: main, health, greeting, got: %s found in endpoints" % kind)


def test_endpoint_port_that_is_not_a_number_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    output = run_main({"endpoints": [{"address": "127.0.0.1", "port": "7140; rm"}]}, capsys)
    assert output["failed"] is True
    assert "port" in output["msg"] and "int" in output["msg"]


# --------------------------------------------------------------------------
# Malformed output from inside the container
# --------------------------------------------------------------------------


def result_entry(**values: Any) -> Dict[str, Any]:
    entry: Dict[str, Any] = {key: None for key in zmq_run.RESULT_KEYS}
    entry.update(name="127.0.0.1:1", address="127.0.0.1", port=1, kind="main", ok=True, verdict="reachable")
    entry.update(values)
    return entry


def document(**values: Any) -> Dict[str, Any]:
    doc: Dict[str, Any] = {
        "endpoints": [result_entry()],
        "ok_count": 1,
        "degraded_count": 0,
        "failed_count": 0,
        "summary": [],
    }
    doc.update(values)
    return doc


@pytest.fixture
def printing_podman(fake_podman: Callable[[str], str], tmp_path: Path) -> Callable[..., str]:
    """A stand-in podman that prints exactly ``stdout`` and ``stderr`` (bytes) and exits ``rc``."""

    def make(stdout: bytes, stderr: bytes = b"", rc: int = 0) -> str:
        (tmp_path / "out").write_bytes(stdout)
        (tmp_path / "err").write_bytes(stderr)
        return fake_podman('cat "%s"; cat "%s" >&2; exit %d' % (tmp_path / "out", tmp_path / "err", rc))

    return make


def container_error(podman: str) -> str:
    module = FakeModule({"endpoints": ONE_ENDPOINT, "container": "agent", "podman_path": podman})
    with pytest.raises(ZmqCheckError) as info:
        run_zmq_check(module)
    return info.value.msg


UNEXPECTED = "unexpected output from the ZMQ checks inside container agent (rc=%d): "


def test_well_formed_document_from_the_container_is_returned(printing_podman: Callable[..., str]) -> None:
    module = FakeModule(
        {
            "endpoints": ONE_ENDPOINT,
            "container": "agent",
            "podman_path": printing_podman(json.dumps(document()).encode()),
        }
    )
    result = run_zmq_check(module)
    assert result["endpoints"] == [result_entry()] and result["ok_count"] == 1


def test_probe_output_not_json_fails_cleanly(printing_podman: Callable[..., str]) -> None:
    assert container_error(printing_podman(b"hello from the entrypoint\n")) == (
        UNEXPECTED % 0 + "not JSON (Expecting value: line 1 column 1 (char 0)): hello from the entrypoint"
    )


def test_probe_output_truncated_json_fails_cleanly(printing_podman: Callable[..., str]) -> None:
    text = json.dumps(document())[:40]
    msg = container_error(printing_podman(text.encode(), b"Killed\n", 137))
    assert msg.startswith(UNEXPECTED % 137 + "not JSON (")
    assert msg.endswith("): %s; stderr: Killed" % text)


def test_probe_output_nested_too_deep_fails_cleanly(printing_podman: Callable[..., str]) -> None:
    assert container_error(printing_podman(b"[" * 100000 + b"]" * 100000)) == (
        UNEXPECTED % 0 + "not JSON (nested too deep): " + "[" * 200 + "..."
    )


def test_probe_output_non_utf8_bytes_fails_cleanly(printing_podman: Callable[..., str]) -> None:
    assert container_error(printing_podman(b'{"endpoints": "\xff\xfe"}')) == (
        UNEXPECTED % 0 + 'not UTF-8 text (byte 0xff at 15): {"endpoints": "\ufffd\ufffd"}'
    )


def test_probe_output_control_characters_are_escaped_in_the_message(printing_podman: Callable[..., str]) -> None:
    assert container_error(printing_podman(b"\x1b[31mred\r\nline\x00two\n")) == (
        UNEXPECTED % 0 + "not JSON (Expecting value: line 1 column 1 (char 0)): \\x1b[31mred\\r\\nline\\x00two"
    )


def test_probe_output_is_quoted_to_200_characters(printing_podman: Callable[..., str]) -> None:
    assert container_error(printing_podman(b"x" * 5000)) == (
        UNEXPECTED % 0 + "not JSON (Expecting value: line 1 column 1 (char 0)): " + "x" * 200 + "..."
    )


def test_probe_stderr_is_quoted_from_its_end(printing_podman: Callable[..., str]) -> None:
    traceback = b"Traceback (most recent call last):\n" + b"  File 'x', line 1\n" * 40 + b"MemoryError: boom\n"
    msg = container_error(printing_podman(b"", traceback, 1))
    assert msg.startswith("could not run the ZMQ checks inside container agent (rc=1): ...")
    assert msg.endswith("line 1\\nMemoryError: boom")
    assert len(msg) < 300


def test_probe_exit_code_without_output_fails_cleanly(printing_podman: Callable[..., str]) -> None:
    assert container_error(printing_podman(b"", b"", 137)) == (
        "could not run the ZMQ checks inside container agent (rc=137): no output"
    )


def test_probe_blank_output_counts_as_no_output(printing_podman: Callable[..., str]) -> None:
    assert container_error(printing_podman(b"\n  \n", b"", 0)) == (
        "could not run the ZMQ checks inside container agent (rc=0): no output"
    )


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ([], "a JSON list, not an object"),
        ("ok", "a JSON string, not an object"),
        (42, "a JSON number, not an object"),
        (None, "a JSON null, not an object"),
        (True, "a JSON boolean, not an object"),
        ({"endpoints": []}, "missing keys: ok_count, failed_count, summary"),
        (document(endpoints={"a": 1}), "'endpoints' is not a list"),
        (document(endpoints=[]), "0 results for 1 endpoints"),
        (document(endpoints=[result_entry(), result_entry()]), "2 results for 1 endpoints"),
        (document(endpoints=["ok"]), "endpoints[0] is not an object"),
        (
            document(endpoints=[{"ok": True}]),
            "endpoints[0] lacks keys: " + ", ".join(key for key in zmq_run.RESULT_KEYS if key != "ok"),
        ),
        (document(endpoints=[result_entry(ok="yes")]), "endpoints[0].ok is not true or false"),
        (document(failed_count="0"), "'failed_count' is not an integer"),
        (document(ok_count=True), "'ok_count' is not an integer"),
        (document(degraded_count=0.5), "'degraded_count' is not an integer"),
        (document(summary="none"), "'summary' is not a list of strings"),
        (document(summary=[None]), "'summary' is not a list of strings"),
    ],
)
def test_probe_output_json_of_the_wrong_shape_fails_cleanly(
    printing_podman: Callable[..., str], output: Any, problem: str
) -> None:
    text = json.dumps(output)
    shown = text if len(text) <= 200 else text[:200] + "..."
    assert container_error(printing_podman(text.encode())) == UNEXPECTED % 0 + problem + ": " + shown


def test_probe_output_claiming_success_for_a_failed_endpoint_is_refused(
    printing_podman: Callable[..., str],
) -> None:
    forged = document(endpoints=[result_entry(ok=False, failed_stage="tcp", reason="connection refused")])
    msg = container_error(printing_podman(json.dumps(forged).encode()))
    assert msg.startswith(UNEXPECTED % 0 + "failed_count 0, but 1 endpoints failed: ")


def test_probe_error_document_is_quoted_on_one_line(printing_podman: Callable[..., str]) -> None:
    error = {"error": "bad\nthing\x1b[0m", "endpoints": [], "ok_count": 0, "failed_count": 0, "summary": []}
    assert container_error(printing_podman(json.dumps(error).encode(), b"", 2)) == (
        "ZMQ checks inside container agent: bad\\nthing\\x1b[0m"
    )


def test_probe_output_non_utf8_through_main_fails_cleanly(
    printing_podman: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    output = run_main(
        {"endpoints": ONE_ENDPOINT, "container": "agent", "podman_path": printing_podman(b"\xc3\x28 garbage", b"", 1)},
        capsys,
    )
    assert output["failed"] is True
    assert output["msg"] == UNEXPECTED % 1 + "not UTF-8 text (byte 0xc3 at 0): \ufffd( garbage"
    assert "exception" not in output


def test_malformed_output_fails_cleanly_with_fail_on_error_false(
    printing_podman: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    output = run_main(
        {
            "endpoints": ONE_ENDPOINT,
            "container": "agent",
            "podman_path": printing_podman(b'{"endpoints": [1, 2'),
            "fail_on_error": False,
        },
        capsys,
    )
    assert output["failed"] is True and output["changed"] is False
    assert output["msg"].startswith(UNEXPECTED % 0 + "not JSON (")
    assert "exception" not in output


# --------------------------------------------------------------------------
# main(): what the task returns
# --------------------------------------------------------------------------


def test_main_fails_with_one_line_per_broken_link(
    peer: Callable[..., RepPeer], capsys: pytest.CaptureFixture[str]
) -> None:
    rep = peer()
    refused, other = closed_port(), closed_port()
    output = run_main(
        {
            "endpoints": [
                {"name": "Healthy", "address": "127.0.0.1", "port": rep.port},
                {"name": "MemoryOrchestratorService", "address": "127.0.0.1", "port": refused},
                {"name": "ModelManager", "address": "127.0.0.1", "port": other, "kind": "health"},
            ],
            "timeout": 1.0,
        },
        capsys,
    )
    assert output["failed"] is True
    assert output["changed"] is False
    assert output["msg"] == (
        "MemoryOrchestratorService 127.0.0.1:%d (main): tcp failed: connection refused\n"
        "ModelManager 127.0.0.1:%d (health): tcp failed: connection refused" % (refused, other)
    )
    assert output["summary"] == output["msg"].split("\n")
    assert (output["ok_count"], output["failed_count"]) == (1, 2)
    assert [e["ok"] for e in output["endpoints"]] == [True, False, False]


def test_main_reports_without_failing_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    refused = closed_port()
    output = run_main(
        {
            "endpoints": [{"name": "Gone", "address": "127.0.0.1", "port": refused}],
            "fail_on_error": False,
        },
        capsys,
    )
    assert "failed" not in output or output["failed"] is False
    assert output["failed_count"] == 1
    assert output["summary"] == ["Gone 127.0.0.1:%d (main): tcp failed: connection refused" % refused]


def test_main_ok_in_check_mode(peer: Callable[..., RepPeer], capsys: pytest.CaptureFixture[str]) -> None:
    rep = peer()
    output = run_main(
        {
            "endpoints": [{"address": "127.0.0.1", "port": rep.port, "kind": "health"}],
            "attempts": 1,
            "_ansible_check_mode": True,
        },
        capsys,
    )
    assert output.get("failed") is not True
    assert output["changed"] is False
    assert output["msg"] == "1 of 1 ZMQ endpoints ok"
    assert rep.requests == [{"action": "health_check"}]


def test_main_counts_degraded_endpoints_as_ok(peer: Callable[..., RepPeer], capsys: pytest.CaptureFixture[str]) -> None:
    healthy, degraded = peer(), peer(DEGRADED_REPLY)
    output = run_main(
        {
            "endpoints": [
                {"name": "Twin", "address": "127.0.0.1", "port": healthy.port, "kind": "health"},
                {"name": "ModelManager", "address": "127.0.0.1", "port": degraded.port, "kind": "health"},
            ],
            "attempts": 1,
        },
        capsys,
    )
    assert output.get("failed") is not True
    assert output["msg"] == "2 of 2 ZMQ endpoints ok (1 degraded)"
    assert (output["ok_count"], output["degraded_count"], output["failed_count"]) == (2, 1, 0)
    assert [e["verdict"] for e in output["endpoints"]] == ["healthy", "degraded"]


def test_main_missing_pyzmq(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(zmq_run, "HAS_ZMQ", False)
    output = run_main({"endpoints": [{"address": "127.0.0.1", "port": 1}]}, capsys)
    assert output["failed"] is True
    assert output["msg"].startswith("Failed to import the required Python library (pyzmq) on ")


def test_main_without_podman(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    output = run_main({"endpoints": [{"address": "127.0.0.1", "port": 1}], "container": "agent"}, capsys)
    assert output["failed"] is True
    assert "podman" in output["msg"]


def test_main_rejects_bad_kind(capsys: pytest.CaptureFixture[str]) -> None:
    output = run_main({"endpoints": [{"address": "127.0.0.1", "port": 1, "kind": "pub"}]}, capsys)
    assert output["failed"] is True
    assert "kind" in output["msg"] and "main, health, greeting" in output["msg"]


# --------------------------------------------------------------------------
# Documentation matches the code
# --------------------------------------------------------------------------


def _doc_options_to_spec(options: Dict[str, Any]) -> Dict[str, Any]:
    spec: Dict[str, Any] = {}
    for name, doc in options.items():
        entry = {"type": doc.get("type", "str")}
        for key in ("required", "default", "choices", "elements"):
            if key in doc and not (key == "required" and doc[key] is False):
                entry[key] = doc[key]
        if "suboptions" in doc:
            entry["options"] = _doc_options_to_spec(doc["suboptions"])
        spec[name] = entry
    return spec


def _strip_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    stripped: Dict[str, Any] = {}
    for name, entry in spec.items():
        entry = {k: v for k, v in entry.items() if k != "no_log"}
        if "options" in entry:
            entry["options"] = _strip_spec(entry["options"])
        stripped[name] = entry
    return stripped


def test_documentation_matches_argument_spec() -> None:
    documentation = yaml.safe_load(zmq_check.DOCUMENTATION)
    assert _doc_options_to_spec(documentation["options"]) == _strip_spec(ARGUMENT_SPEC)
    attributes = documentation["attributes"]
    assert attributes["check_mode"]["support"] == "full"
    assert attributes["diff_mode"]["support"] == "none"
    assert attributes["platform"]["platforms"] == "posix"
    yaml.safe_load(zmq_check.EXAMPLES)


def test_every_return_value_is_documented() -> None:
    def walk(entries: Dict[str, Any], path: str) -> None:
        for name, doc in entries.items():
            for key in ("description", "returned", "type", "sample"):
                assert key in doc, "%s%s lacks %s" % (path, name, key)
            if "contains" in doc:
                walk(doc["contains"], "%s%s." % (path, name))

    returned = yaml.safe_load(zmq_check.RETURN)
    walk(returned, "")
    assert set(returned) == {
        "endpoints",
        "containers",
        "error_count",
        "elapsed_s",
        "ok_count",
        "degraded_count",
        "failed_count",
        "summary",
    }
    # RESULT_KEYS is what the module fills in every endpoint's result; listening only where a
    # port of a container of the host was silent.
    assert set(returned["endpoints"]["contains"]) == set(zmq_run.RESULT_KEYS) | {"listening"}


def test_module_file_header() -> None:
    lines = MODULE_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/python"
    assert lines[1] == "# -*- coding: utf-8 -*-"
    assert lines[2].startswith("# Copyright")
    assert lines[3] == "# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)"
    assert "from __future__ import annotations" in lines


# --------------------------------------------------------------------------
# Many containers in one call (containers)
# --------------------------------------------------------------------------


@pytest.fixture
def named_podman(tmp_path: Path) -> str:
    """A stand-in podman that runs ``exec -i -- NAME CMD...`` locally, except
    for a container named ``gone``, which podman does not know."""
    path = tmp_path / "podman"
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$4" = gone ]; then cat >/dev/null; echo "Error: no such container gone" >&2; exit 125; fi\n'
        "shift 4\n"
        'exec "$@"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return str(path)


def _stable(result: Dict[str, Any]) -> Dict[str, Any]:
    """A result without its timings, which differ from run to run."""
    out = {k: v for k, v in result.items() if k != "elapsed_s"}
    if "endpoints" in out:
        out["endpoints"] = [{k: v for k, v in e.items() if k not in ("rtt_ms", "elapsed_ms")} for e in out["endpoints"]]
    return out


def test_containers_each_result_is_what_a_single_container_call_returns(
    peer: Callable[..., RepPeer], named_podman: str
) -> None:
    rep, degraded = peer(), peer(DEGRADED_REPLY)
    refused = closed_port()
    links = {
        "model-manager": [
            {"name": "Twin", "address": "127.0.0.1", "port": rep.port, "kind": "health"},
            {"name": "Gone", "address": "127.0.0.1", "port": refused, "group": "pc2"},
        ],
        "memory-system": [{"name": "Memory", "address": "127.0.0.1", "port": degraded.port, "kind": "health"}],
        "empty": [],
        "gone": [{"name": "Twin", "address": "127.0.0.1", "port": rep.port}],
    }
    common = {"timeout": 1.5, "attempts": 1, "container_python": sys.executable, "podman_path": named_podman}
    for fail_on_error in (False, True):
        many = run_zmq_checks(
            FakeModule(
                dict(
                    common,
                    fail_on_error=fail_on_error,
                    containers=[{"container": name, "endpoints": eps} for name, eps in links.items()],
                )
            )
        )
        assert list(many["containers"]) == list(links)
        for name, endpoints in links.items():
            args = dict(common, fail_on_error=fail_on_error, container=name, endpoints=endpoints)
            try:
                single = outcome(run_zmq_check(FakeModule(args)), fail_on_error)
            except ZmqCheckError as exc:
                single = {"changed": False, "failed": True, "msg": exc.msg}
            assert _stable(many["containers"][name]) == _stable(single), name
            assert many["containers"][name]["elapsed_s"] >= 0
        assert (many["ok_count"], many["degraded_count"], many["failed_count"], many["error_count"]) == (2, 1, 1, 2)
        assert many["summary"] == [
            "model-manager: Gone 127.0.0.1:%d (main): tcp failed: connection refused" % refused,
            "ZMQ checks inside container empty: no endpoints given",
            many["containers"]["gone"]["msg"],
        ]
    gone = many["containers"]["gone"]
    assert gone["msg"].startswith("could not run the ZMQ checks inside container gone (rc=125): ")
    assert "no such container gone" in gone["msg"]
    assert many["containers"]["model-manager"]["failed"] is True  # fail_on_error, as a single call
    assert "failed" not in many["containers"]["memory-system"]


class SlowModule(FakeModule):
    """Every podman exec takes ``delay`` seconds and answers a well-formed
    document; counts how many run at the same time."""

    def __init__(self, args: Dict[str, Any], delay: float = 0.2) -> None:
        super().__init__(args)
        self.delay = delay
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def run_command(self, args: List[str], data: Optional[str] = None, **_kwargs: Any) -> Tuple[int, Any, Any]:
        with self.lock:
            self.commands.append(list(args))
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            threading.Event().wait(self.delay)
        finally:
            with self.lock:
                self.running -= 1
        doc = {"endpoints": [], "ok_count": 0, "degraded_count": 0, "failed_count": 0, "summary": []}
        return 0, json.dumps(doc).encode(), b""


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_containers_run_concurrently_at_most_concurrency_at_a_time(concurrency: int) -> None:
    names = ["c%d" % n for n in range(6)]
    module = SlowModule(
        {
            "containers": [{"container": n, "endpoints": []} for n in names],
            "concurrency": concurrency,
            "podman_path": "/bin/podman",
        }
    )
    result = run_zmq_checks(module)
    assert module.most == min(concurrency, len(names))
    assert sorted(c[4] for c in module.commands) == names
    assert list(result["containers"]) == names
    rounds = -(-len(names) // concurrency)
    assert result["elapsed_s"] < rounds * module.delay + 1.0
    if concurrency == 8:
        assert result["elapsed_s"] < 2 * module.delay  # all six at once, not one after another


def test_containers_invalid_entries_are_refused_before_any_check_runs() -> None:
    def refused_many(containers: List[Dict[str, Any]], **more: Any) -> str:
        module = SlowModule(dict({"containers": containers, "podman_path": "/bin/podman"}, **more))
        with pytest.raises(ZmqCheckError) as info:
            run_zmq_checks(module)
        assert module.commands == []
        return info.value.msg

    ok = {"container": "a", "endpoints": []}
    assert refused_many([ok, dict(ok)]) == "containers[1]: container a is listed twice"
    assert refused_many([ok, {"container": "-x", "endpoints": []}]).startswith("containers[1].container '-x' starts")
    assert refused_many([ok, {"container": "b", "endpoints": [{"address": " ", "port": 1}]}]) == (
        "invalid containers[1].endpoints: containers[1].endpoints[0]: address is empty"
    )
    assert refused_many([ok], concurrency=0) == "concurrency must be at least 1, got 0"


def test_main_with_containers(
    peer: Callable[..., RepPeer], named_podman: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rep = peer()
    args = {
        "containers": [
            {"container": "a", "endpoints": [{"name": "Twin", "address": "127.0.0.1", "port": rep.port}]},
            {"container": "b", "endpoints": [{"name": "Twin", "address": "127.0.0.1", "port": rep.port}]},
        ],
        "attempts": 1,
        "container_python": sys.executable,
        "podman_path": named_podman,
    }
    output = run_main(args, capsys)
    assert output.get("failed") is not True, output
    assert output["msg"] == "2 of 2 ZMQ endpoints ok in 2 containers"
    assert set(output["containers"]) == {"a", "b"}
    assert output["containers"]["a"]["msg"] == "1 of 1 ZMQ endpoints ok"

    args["containers"].append({"container": "gone", "endpoints": []})
    output = run_main(dict(args, fail_on_error=False), capsys)
    assert output["failed"] is True  # a container that could not be checked fails the task
    assert output["error_count"] == 1 and output["ok_count"] == 2
    assert output["containers"]["a"]["ok_count"] == 1 and output["containers"]["b"]["ok_count"] == 1
    assert output["msg"].startswith("could not run the ZMQ checks inside container gone")


@pytest.mark.parametrize("extra", [{"endpoints": []}, {"container": "a"}])
def test_main_containers_exclude_endpoints_and_container(
    extra: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    output = run_main(dict({"containers": [{"container": "a", "endpoints": []}]}, **extra), capsys)
    assert output["failed"] is True
    assert "mutually exclusive" in output["msg"]


def test_main_needs_endpoints_or_containers(capsys: pytest.CaptureFixture[str]) -> None:
    output = run_main({"timeout": 1.0}, capsys)
    assert output["failed"] is True
    assert "one of the following is required: endpoints, containers" in output["msg"]


def test_a_silent_port_names_what_the_container_listens_on(
    monkeypatch: pytest.MonkeyPatch, peer: Callable[..., RepPeer], fake_podman: Callable[[str], str]
) -> None:
    """The container's process is this test's (podman inspect answers its PID): its
    /proc/PID/net/tcp holds the peers' sockets, which the message names."""
    monkeypatch.setattr(zmq_run, "HAS_ZMQ", False)
    rep = peer()
    refused = closed_port()
    podman = fake_podman('exec "$@"')
    # The fake shifts 4 arguments (exec -i -- NAME); podman container inspect --format X -- NAME has 6.
    with open(podman, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace("shift 4\n", 'case "$2" in inspect) echo %d; exit 0;; esac\nshift 4\n' % os.getpid())
    with open(podman, "w", encoding="utf-8") as handle:
        handle.write(text)
    module = FakeModule(
        {
            "endpoints": [
                {"name": "Agent", "address": "127.0.0.1", "port": rep.port, "kind": "health"},
                {"name": "SystemDigitalTwin", "address": "127.0.0.1", "port": refused, "kind": "health"},
            ],
            "timeout": 1.5,
            "attempts": 1,
            "container": "core-services",
            "container_python": sys.executable,
            "podman_path": podman,
        }
    )
    result = run_zmq_check(module)
    silent = result["endpoints"][1]
    assert silent["failed_stage"] == "tcp" and silent["reason"] == "connection refused"
    listening = silent["listening"]
    assert listening["container"] == "core-services" and rep.port in listening["ports"]
    assert refused not in listening["ports"]
    assert listening["text"].startswith("SystemDigitalTwin: nothing on %d; the container listens on " % refused)
    assert "%d (127.0.0.1 only)" % rep.port in listening["text"]
    assert result["summary"][-1] == listening["text"]
    assert "listening" not in result["endpoints"][0]
    assert module.commands[1] == [podman, "container", "inspect", "--format", "{{.State.Pid}}", "--", "core-services"]
