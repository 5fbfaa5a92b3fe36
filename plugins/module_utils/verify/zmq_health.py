# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZMQ-native health checks for the agents' REP sockets.

Every agent binds a ZMQ REP socket on its main port and another on its health
port.  What they answer varies (see ``docs/zmq_check.md``): BaseAgent says
``"ok"`` and, once its ready key lapses, ``"degraded"``; MemoryClient and
KnowledgeBase say ``"HEALTHY"`` with other keys; some main sockets answer the
health request with ``{"status": "error", "error": "Unknown action: ..."}``.
A :class:`HealthPolicy` per agent says which statuses are healthy, which are
degraded and which keys a reply must carry, and :func:`judge_reply` is the one
judgement every caller uses.

This file is deliberately self-contained (standard library and pyzmq only, no
Ansible imports, Python 3.8+) because it is used in three ways:

* imported by the ``ai_system.containers.zmq_check`` module;
* mounted into every container and run as its HEALTHCHECK,
  ``python3 zmq_health.py --config /etc/ai-system/endpoints.json``, which
  probes the group's agents with their own policies;
* executed inside a container's network namespace through
  ``podman exec -i CONTAINER python3 -c SOURCE --stdin-json``.

Each endpoint is checked in stages, stopping at the first one that fails:

``resolve``  getaddrinfo() on the address (bounded by the timeout);
``tcp``      a plain TCP connect;
``zmtp``     exchange ZMTP greetings: a ZMQ peer sends its signature
             (0xFF, 8 bytes, 0x7F) right after connect, then its version and
             security mechanism (and, for NULL security, its socket type);
             endpoints of kind ``greeting`` (non-REP sockets such as PUB)
             stop here;
``reply``    send the endpoint's request on a fresh REQ socket per attempt
             and parse the reply, which must be one JSON object; a link
             (``main``, not ``strict``) passes here as ``reachable``: a live
             REP peer parsed the request and answered;
``status``   health sockets (and strict links) judge the reply with the
             policy: ``healthy`` or ``degraded`` pass, anything else fails
             quoting the agent's own message.

All endpoints are checked concurrently, each with its own timeout, so a batch
of endpoints that all time out costs about one timeout.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import socket
import statistics
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

try:
    import zmq
except ImportError:  # pragma: no cover - exercised on hosts without pyzmq
    zmq = None  # type: ignore[assignment]
    HAS_ZMQ = False
    ZMQ_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    HAS_ZMQ = True
    ZMQ_IMPORT_ERROR = None

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_TIMEOUT",
    "HAS_ZMQ",
    "KINDS",
    "MAX_WORKERS",
    "VERDICTS",
    "HealthPolicy",
    "PolicyError",
    "judge_reply",
    "merge_policies",
    "normalize_policy",
    "policy_problems",
    "STAGES",
    "ZMQ_IMPORT_ERROR",
    "Endpoint",
    "check_endpoints",
    "describe_failure",
    "describe_success",
    "main",
    "normalize_endpoint",
    "parse_endpoint",
    "run_checks",
]

STAGES: Tuple[str, ...] = ("resolve", "tcp", "zmtp", "reply", "status")
#: ``main`` and ``health`` are REP sockets that answer health requests;
#: ``greeting`` is any other ZMQ socket (e.g. PUB): checked up to ``zmtp``.
KINDS: Tuple[str, ...] = ("main", "health", "greeting")
DEFAULT_TIMEOUT = 3.0
DEFAULT_ATTEMPTS = 3
#: Upper bound on worker threads; endpoints beyond it are checked in waves.
MAX_WORKERS = 128
# ZMTP 3.x greeting: signature (10 bytes), version (2), mechanism (20),
# as-server (1), filler (31).  libzmq sends the signature on connect, its
# major version once it has our signature, and the rest once it has our
# major version.
_ZMTP_SIGNATURE = b"\xff" + b"\x00" * 7 + b"\x01" + b"\x7f"
_ZMTP_MAJOR = b"\x03"
_ZMTP_V3_GREETING = 64
_ZMTP_V2_GREETING = 12
#: Socket types a REQ socket can talk to.
_REQ_PEERS = frozenset(("REP", "ROUTER"))
_Z85_KEY_LENGTH = 40
_Z85_ALPHABET = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


# --------------------------------------------------------------------------
# Health policy: what an agent's reply means
# --------------------------------------------------------------------------

#: What a reply is judged to be.  ``reachable`` is a link (not strict) whose
#: peer gave a well-formed reply that says nothing about its health, such as
#: ``{"status": "error", "error": "Unknown action: health_check"}``.
HEALTHY, DEGRADED, FAILING, REACHABLE = "healthy", "degraded", "failing", "reachable"
VERDICTS: Tuple[str, ...] = (HEALTHY, DEGRADED, FAILING, REACHABLE)
POLICY_KEYS: Tuple[str, ...] = ("request", "healthy", "degraded", "required_keys")
DEFAULT_REQUEST: Dict[str, Any] = {"action": "health_check"}
DEFAULT_HEALTHY: Tuple[str, ...] = ("ok", "healthy")
DEFAULT_DEGRADED: Tuple[str, ...] = ("degraded",)
DEFAULT_REQUIRED_KEYS: Tuple[str, ...] = ("status",)
#: Keys of an agent's reply that carry its own words, in order of preference.
MESSAGE_KEYS: Tuple[str, ...] = ("message", "error")


class PolicyError(ValueError):
    """A health policy is malformed; ``problems`` holds (field, message, fix) triples."""

    def __init__(self, problems: Sequence[Tuple[str, str, str]]) -> None:
        super().__init__(
            "; ".join(msg if msg.startswith(fld) else "%s: %s" % (fld, msg) for fld, msg, _fix in problems)
        )
        self.problems = list(problems)


class HealthPolicy:
    """How one agent's health reply is judged.

    ``request`` is sent to the health port (and, unless a link says otherwise,
    to the main port); a reply must carry ``required_keys``; its ``status`` is
    healthy when it is one of ``healthy`` and degraded when it is one of
    ``degraded`` (both compared case-insensitively); anything else fails.
    Build one with :func:`normalize_policy`.
    """

    __slots__ = ("request", "healthy", "degraded", "required_keys")

    def __init__(
        self,
        request: Optional[Mapping[str, Any]] = None,
        healthy: Sequence[str] = DEFAULT_HEALTHY,
        degraded: Sequence[str] = DEFAULT_DEGRADED,
        required_keys: Sequence[str] = DEFAULT_REQUIRED_KEYS,
    ) -> None:
        self.request = dict(DEFAULT_REQUEST if request is None else request)
        self.healthy = tuple(s.lower() for s in healthy)
        self.degraded = tuple(s.lower() for s in degraded)
        self.required_keys = tuple(required_keys)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "request": dict(self.request),
            "healthy": list(self.healthy),
            "degraded": list(self.degraded),
            "required_keys": list(self.required_keys),
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HealthPolicy) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.as_dict(), sort_keys=True))

    def __repr__(self) -> str:
        return "HealthPolicy(%r)" % (self.as_dict(),)


def _status_list(value: Any, key: str, problems: List[Tuple[str, str, str]]) -> Optional[Tuple[str, ...]]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        problems.append((key, "must be a list of statuses", "write e.g. %s: [ok, healthy]" % key))
        return None
    out: List[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            problems.append((key, "entry %r is not a non-empty status text" % (item,), "write each status as text"))
            return None
        if item.strip().lower() not in out:
            out.append(item.strip().lower())
    if not out:
        example = "[ok, healthy]" if key == "healthy" else "[degraded]"
        problems.append((key, "is empty", "list at least one status, e.g. %s" % example))
        return None
    return tuple(out)


def policy_problems(spec: Any) -> Tuple[Dict[str, Any], List[Tuple[str, str, str]]]:
    """Check a (merged) policy mapping; return its normalized values and every problem.

    Each problem is ``(field, message, fix)`` with ``field`` such as
    ``health_policy.degraded``.  Keys left out are not filled in here.
    """
    problems: List[Tuple[str, str, str]] = []
    values: Dict[str, Any] = {}
    if spec is None:
        return values, problems
    if not isinstance(spec, Mapping):
        problems.append(("health_policy", "must be a mapping", "write keys among %s" % ", ".join(POLICY_KEYS)))
        return values, problems
    for key in spec:
        if key not in POLICY_KEYS:
            problems.append(
                ("health_policy.%s" % key, "unknown key '%s' in health_policy" % key, "allowed keys: %s" % ", ".join(POLICY_KEYS))
            )
    if "request" in spec:
        request = spec["request"]
        if not isinstance(request, Mapping) or not request:
            problems.append(
                ("health_policy.request", "must be a non-empty mapping (the JSON object sent)", 'write e.g. request: {action: health_check}')
            )
        else:
            try:
                values["request"] = json.loads(json.dumps(dict(request)))
            except (TypeError, ValueError) as exc:
                problems.append(("health_policy.request", "is not JSON-serializable: %s" % exc, "use text, numbers and lists"))
    for key in ("healthy", "degraded"):
        if key in spec:
            parsed = _status_list(spec[key], key, problems)
            if parsed is not None:
                values[key] = parsed
    if "required_keys" in spec:
        keys = spec["required_keys"]
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) and k for k in keys):
            problems.append(("health_policy.required_keys", "must be a list of key names", "write e.g. [status]"))
        elif "status" not in keys:
            problems.append(
                ("health_policy.required_keys", "must include 'status': the verdict is read from it", "write e.g. [status, ready]")
            )
        else:
            values["required_keys"] = tuple(dict.fromkeys(keys))
    for i, (fld, msg, fix) in enumerate(problems):
        if not fld.startswith("health_policy"):
            fld = "health_policy.%s" % fld
        if not msg.startswith("unknown key"):
            msg = "%s %s" % (fld, msg)
        problems[i] = (fld, msg, fix)
    healthy = values.get("healthy", DEFAULT_HEALTHY if "healthy" not in spec else None)
    degraded = values.get("degraded", DEFAULT_DEGRADED if "degraded" not in spec else None)
    if healthy is not None and degraded is not None:
        both = sorted(set(healthy) & set(degraded))
        if both:
            problems.append(
                (
                    "health_policy.degraded",
                    "lists %s, which healthy lists too" % ", ".join(repr(s) for s in both),
                    "list each status in one of healthy and degraded",
                )
            )
    return values, problems


def normalize_policy(spec: Any = None) -> HealthPolicy:
    """A :class:`HealthPolicy` from a mapping (missing keys take the defaults).

    Raises :class:`PolicyError` naming every bad field.
    """
    if isinstance(spec, HealthPolicy):
        return spec
    values, problems = policy_problems(spec)
    if problems:
        raise PolicyError(problems)
    return HealthPolicy(**values)


def merge_policies(*layers: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Merge policy mappings key by key, the last (most specific) winning."""
    merged: Dict[str, Any] = {}
    for layer in layers:
        if isinstance(layer, Mapping):
            merged.update(layer)
    return merged


def reply_message(reply: Mapping[str, Any]) -> Optional[str]:
    """The agent's own words in a reply (its ``message`` or ``error``)."""
    for key in MESSAGE_KEYS:
        value = reply.get(key)
        if value not in (None, ""):
            return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return None


def judge_reply(reply: Mapping[str, Any], policy: HealthPolicy) -> Tuple[str, Optional[str]]:
    """The one health judgement: ``(verdict, why)`` for a parsed JSON reply.

    ``verdict`` is ``healthy``, ``degraded`` or ``failing``; ``why`` is
    ``None`` when healthy, else a short reason quoting the agent's message.
    The container health probe, ``zmq_check``, the deploy's health wait (it
    reads the probe's result through Podman) and verify all judge through here.
    """
    missing = [key for key in policy.required_keys if key not in reply]
    if missing:
        return FAILING, "reply lacks %s (keys: %s)" % (", ".join(missing), ", ".join(sorted(reply)) or "none")
    status = reply.get("status")
    if isinstance(status, str) and status.lower() in policy.healthy:
        return HEALTHY, None
    message = reply_message(reply)
    said = "status %s" % (json.dumps(status),)
    if message:
        said += ": %s" % message
    if isinstance(status, str) and status.lower() in policy.degraded:
        return DEGRADED, said
    return FAILING, said


class Endpoint:
    """One ZMQ link to check; build it with :func:`normalize_endpoint`.

    ``policy`` judges the reply.  A ``health`` endpoint is always judged by
    it; a ``main`` endpoint only when ``strict``: otherwise any well-formed
    reply proves the link (an agent's main socket may answer the health
    request with "Unknown action").  ``request`` overrides the policy's
    request for this endpoint.
    """

    __slots__ = ("name", "address", "port", "kind", "policy", "strict", "request", "server_key", "group")

    def __init__(
        self,
        address: str,
        port: int,
        kind: str = "main",
        name: Optional[str] = None,
        policy: Optional[HealthPolicy] = None,
        strict: bool = False,
        request: Optional[Mapping[str, Any]] = None,
        server_key: Optional[str] = None,
        group: Optional[str] = None,
    ) -> None:
        self.address = address
        self.port = port
        self.kind = kind
        self.name = name or _hostport(address, port)
        self.policy = policy or HealthPolicy()
        self.strict = strict or kind == "health"
        self.request = dict(request) if request else None
        self.server_key = server_key
        self.group = group

    @property
    def payload(self) -> bytes:
        return json.dumps(self.request or self.policy.request, sort_keys=True).encode("utf-8")

    def as_dict(self) -> Dict[str, Any]:
        out = {slot: getattr(self, slot) for slot in self.__slots__}
        out["policy"] = self.policy.as_dict()
        return out

    def __repr__(self) -> str:
        return "Endpoint(%r)" % (self.as_dict(),)


class _StageError(Exception):
    """A stage failed; carries the plain reason and an optional detail."""

    def __init__(self, stage: str, reason: str, detail: Optional[str] = None) -> None:
        super().__init__("%s failed: %s" % (stage, reason))
        self.stage = stage
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------
# Endpoint parsing and validation
# --------------------------------------------------------------------------


def _hostport(address: str, port: int) -> str:
    if ":" in address:  # IPv6 literal
        return "[%s]:%d" % (address, port)
    return "%s:%d" % (address, port)


def _validate_z85_key(key: str) -> None:
    if len(key) != _Z85_KEY_LENGTH or not set(key) <= _Z85_ALPHABET:
        raise ValueError("server_key must be a 40-character Z85 CURVE public key")


def normalize_endpoint(spec: Mapping[str, Any]) -> Endpoint:
    """Validate one endpoint mapping and return an :class:`Endpoint`.

    Accepted keys: ``address`` and ``port`` (required), ``name``, ``kind``
    (``main``/``health``/``greeting``), ``policy`` (a health policy mapping),
    ``strict``, ``request``, ``server_key``, ``group``.
    Keys whose value is ``None`` take their defaults.  Raises ``ValueError``.
    """
    if not isinstance(spec, Mapping):
        raise ValueError("endpoint must be a mapping, got %s" % type(spec).__name__)
    known = set(Endpoint.__slots__)
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError("endpoint has unknown keys: %s" % ", ".join(unknown))

    def _has_control(text: str) -> bool:
        # Tab and newline included: the address, name and group end up in one-line output.
        return any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text)

    address = spec.get("address")
    if not isinstance(address, str) or not address.strip():
        raise ValueError("endpoint needs a non-empty 'address'")
    if _has_control(address):
        raise ValueError("endpoint address %r holds a control character" % address)
    address = address.strip()
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    port = spec.get("port")
    if isinstance(port, bool) or port is None:
        raise ValueError("endpoint %s needs an integer 'port'" % address)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError("endpoint %s: port %r is not an integer" % (address, spec.get("port")))
    if not 0 < port < 65536:
        raise ValueError("endpoint %s: port %d is out of range 1-65535" % (address, port))
    kind = spec.get("kind") or "main"
    if kind not in KINDS:
        raise ValueError("endpoint %s: kind must be one of %s, got %r" % (address, ", ".join(KINDS), kind))
    policy_spec = spec.get("policy")
    if isinstance(policy_spec, Mapping):
        # Keys left unset (None, as Ansible's argument spec passes them) take the defaults.
        policy_spec = {key: value for key, value in policy_spec.items() if value is not None}
    try:
        policy = normalize_policy(policy_spec)
    except PolicyError as exc:
        raise ValueError("endpoint %s: %s" % (spec.get("name") or address, exc))
    request = spec.get("request") or None
    if request is not None and not isinstance(request, Mapping):
        raise ValueError("endpoint %s: request must be a mapping (the JSON object sent)" % address)
    strict = spec.get("strict") or False
    if not isinstance(strict, bool):
        raise ValueError("endpoint %s: strict must be true or false" % address)
    server_key = spec.get("server_key") or None
    if server_key is not None:
        if not isinstance(server_key, str):
            raise ValueError("endpoint %s: server_key must be a string" % address)
        _validate_z85_key(server_key)
    name = spec.get("name")
    group = spec.get("group")
    for key, value in (("name", name), ("group", group)):
        if value and _has_control(str(value)):
            raise ValueError("endpoint %s: %s %r holds a control character" % (address, key, str(value)))
    if name and str(name).startswith("-"):
        raise ValueError("endpoint %s: name %r starts with '-', which would be read as an option"
                         % (address, str(name)))
    return Endpoint(
        address=address,
        port=port,
        kind=kind,
        name=str(name) if name else None,
        policy=policy,
        strict=strict,
        request=request,
        server_key=server_key,
        group=str(group) if group else None,
    )


def parse_endpoint(text: str) -> Endpoint:
    """Parse ``HOST:PORT``, ``HOST:PORT/main``, ``HOST:PORT/health`` or ``HOST:PORT/greeting``.

    IPv6 literals go in brackets: ``[::1]:5555/health``.
    """
    spec, dummy, kind = text.strip().partition("/")
    kind = kind or "main"
    if spec.startswith("["):
        host, sep, rest = spec[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError("bad endpoint %r: expected [IPV6]:PORT" % text)
        port = rest[1:]
    else:
        host, sep, port = spec.rpartition(":")
        if not sep:
            raise ValueError("bad endpoint %r: expected HOST:PORT[/main|/health|/greeting]" % text)
    if not port.isdigit():
        raise ValueError("bad endpoint %r: port must be a number" % text)
    return normalize_endpoint({"address": host, "port": int(port), "kind": kind})


# --------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------

_AddrInfo = Tuple[int, Tuple[Any, ...]]  # (family, sockaddr)


def _resolve(endpoint: Endpoint, timeout: float) -> List[_AddrInfo]:
    """Stage ``resolve``: return (family, sockaddr) candidates.

    getaddrinfo() cannot be cancelled, so a slow lookup runs in a daemon
    thread that is abandoned when the timeout expires.
    """
    try:
        ip = ipaddress.ip_address(endpoint.address)
    except ValueError:
        pass
    else:
        if ip.version == 6:
            return [(socket.AF_INET6, (endpoint.address, endpoint.port, 0, 0))]
        return [(socket.AF_INET, (endpoint.address, endpoint.port))]

    box: Dict[str, Any] = {}

    def lookup() -> None:
        try:
            box["infos"] = socket.getaddrinfo(endpoint.address, endpoint.port, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            box["error"] = exc

    worker = threading.Thread(target=lookup, name="zmq-health-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise _StageError("resolve", "timed out", "name lookup took longer than %gs" % timeout)
    if "error" in box or not box.get("infos"):
        error = box.get("error")
        raise _StageError("resolve", "name does not resolve", str(error) if error else None)
    seen = set()
    candidates: List[_AddrInfo] = []
    for family, _type, _proto, _canon, sockaddr in box["infos"]:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        key = (family, sockaddr[0])
        if key not in seen:
            seen.add(key)
            candidates.append((family, sockaddr))
    if not candidates:
        raise _StageError("resolve", "name does not resolve", "no IPv4 or IPv6 address")
    return candidates


_ERRNO_REASONS: Dict[int, str] = {
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}


def _os_error_reason(exc: BaseException) -> str:
    """Plain words for a socket error."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    errno_value = getattr(exc, "errno", None)
    if errno_value in _ERRNO_REASONS:
        return _ERRNO_REASONS[errno_value]
    strerror = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return "connect failed: %s" % strerror.lower()


def _connect_tcp(candidates: Sequence[_AddrInfo], timeout: float) -> Tuple[socket.socket, _AddrInfo]:
    """Stage ``tcp``: connect to the first candidate that accepts.

    All candidates share one deadline of ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    for family, sockaddr in candidates:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        return sock, (family, sockaddr)
    if last_error is None:
        raise _StageError("tcp", "timed out", "no time left to connect")
    reason = _os_error_reason(last_error)
    detail = None
    if reason == "timed out":
        detail = "no TCP connection within %gs" % timeout
    elif len(candidates) > 1:
        detail = "tried %s" % ", ".join(str(sockaddr[0]) for _family, sockaddr in candidates)
    raise _StageError("tcp", reason, detail)


def _preview(data: bytes, limit: int = 24) -> str:
    shown = repr(data[:limit])
    return shown + ("..." if len(data) > limit else "")


def _read_greeting(sock: socket.socket, deadline: float) -> Tuple[bytes, str]:
    """Read the peer's greeting until it is complete or clearly not ZMTP.

    Returns the bytes read and, when fewer than a full greeting arrived, why
    reading stopped ("timeout", "closed" or a socket error reason).
    """
    data = b""
    wanted = len(_ZMTP_SIGNATURE) + 1  # signature + major version
    stopped = ""
    while len(data) < wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stopped = "timeout"
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(_ZMTP_V3_GREETING - len(data))
        except (socket.timeout, TimeoutError):
            stopped = "timeout"
            break
        except OSError as exc:
            stopped = _os_error_reason(exc)
            break
        if not chunk:
            stopped = "closed"
            break
        data += chunk
        if data[0] != 0xFF:
            break  # not a ZMTP signature
        if len(data) >= 10 and not data[9] & 0x01:
            break  # ZMTP 1.0 (unversioned) peer: no more greeting to read
        if len(data) > 10:
            wanted = _ZMTP_V3_GREETING if data[10] >= 3 else _ZMTP_V2_GREETING
    return data, stopped


def _recv_exact(sock: socket.socket, size: int, deadline: float) -> bytes:
    """Read ``size`` bytes, or fewer if the deadline passes or the peer closes."""
    data = b""
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(size - len(data))
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _parse_command(body: bytes) -> Tuple[str, Dict[str, bytes], bytes]:
    """Split a ZMTP 3 command body into (name, READY properties, rest)."""
    name_length = body[0]
    name = body[1 : 1 + name_length].decode("ascii", "replace")
    rest = body[1 + name_length :]
    properties: Dict[str, bytes] = {}
    if name == "READY":
        index = 0
        while index < len(rest):
            key_length = rest[index]
            key = rest[index + 1 : index + 1 + key_length].decode("ascii", "replace")
            index += 1 + key_length
            value_length = int.from_bytes(rest[index : index + 4], "big")
            index += 4
            properties[key] = rest[index : index + value_length]
            index += value_length
    return name, properties, rest


def _read_null_handshake(sock: socket.socket, deadline: float) -> Optional[str]:
    """Finish a NULL-mechanism handshake far enough to learn the peer's socket type.

    After our full greeting a libzmq peer sends its READY command at once;
    returns its ``Socket-Type`` (e.g. ``REP``), ``None`` if it did not arrive
    in time.  A peer that refuses the connection (ERROR command, e.g. ZAP
    denial) fails the ``zmtp`` stage.
    """
    rest_of_greeting = b"\x01" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
    try:
        sock.sendall(rest_of_greeting)
    except OSError:
        return None
    header = _recv_exact(sock, 2, deadline)
    if len(header) < 2 or not header[0] & 0x04:  # not a command frame
        return None
    if header[0] & 0x02:  # long frame: 8-byte size
        more = _recv_exact(sock, 7, deadline)
        if len(more) < 7:
            return None
        size = int.from_bytes(header[1:] + more, "big")
    else:
        size = header[1]
    if not 0 < size <= 65536:
        return None
    body = _recv_exact(sock, size, deadline)
    if len(body) < size:
        return None
    name, properties, rest = _parse_command(body)
    if name == "ERROR":
        reason = rest[1 : 1 + rest[0]].decode("utf-8", "replace") if rest else ""
        raise _StageError("zmtp", "handshake refused", "peer sent ERROR %r" % reason if reason else None)
    socket_type = properties.get("Socket-Type")
    return socket_type.decode("ascii", "replace") if socket_type is not None else None


def _exchange_greeting(sock: socket.socket, timeout: float, mechanism: str) -> Dict[str, Any]:
    """Stage ``zmtp``: swap ZMTP greetings on the connected TCP socket.

    Returns ``{"version": "3.1", "mechanism": "NULL", "as_server": False,
    "socket_type": "REP"}``; fields the peer did not send in time are
    ``None`` (``socket_type`` is only learnt from NULL-mechanism peers).
    Fails with "timed out" when the peer sends nothing in time (a frozen
    agent, a black hole), "connection closed" when it hangs up without a
    word, "not a ZMQ peer" only when it sends bytes that are not a ZMTP
    greeting, with "security mismatch" when its mechanism
    differs from ours (``CURVE`` with a ``server_key``, else ``NULL``), and
    with "handshake refused" when it answers our greeting with an ERROR.
    """
    deadline = time.monotonic() + timeout
    try:
        # A ZMQ peer sends its signature whatever we do; sending ours first
        # makes a non-ZMQ server (e.g. HTTP) answer at once instead of after
        # the timeout, and makes libzmq send the rest of its greeting.
        sock.settimeout(timeout)
        sock.sendall(_ZMTP_SIGNATURE + _ZMTP_MAJOR)
    except OSError as exc:
        # Nothing was received: whatever the peer is, it sent no bytes.
        reason = "connection closed" if isinstance(exc, BrokenPipeError) else _os_error_reason(exc)
        raise _StageError("zmtp", reason, "sending our greeting failed")

    data, stopped = _read_greeting(sock, deadline)
    if not data:
        if stopped == "timeout":
            # Silence is not proof of a non-ZMQ peer: a frozen (paused) agent
            # or a black hole that accepts TCP says nothing either.
            raise _StageError("zmtp", "timed out", "no greeting within %gs" % timeout)
        if stopped == "closed":
            raise _StageError("zmtp", "connection closed", "peer closed the connection without a greeting")
        raise _StageError("zmtp", stopped, "before a greeting arrived")
    if data[0] != 0xFF:
        raise _StageError("zmtp", "not a ZMQ peer", "peer sent %s" % _preview(data))
    if len(data) < 10:
        raise _StageError("zmtp", "not a ZMQ peer", "incomplete greeting %s" % _preview(data))

    info: Dict[str, Any] = {"version": None, "mechanism": None, "as_server": None, "socket_type": None}
    if not data[9] & 0x01:
        info["version"] = "1.0"
        return info
    if len(data) > 11:
        info["version"] = "%d.%d" % (data[10], data[11] if data[10] >= 3 else 0)
    if len(data) < _ZMTP_V3_GREETING:
        return info
    info["mechanism"] = data[12:32].rstrip(b"\x00").decode("ascii", "replace")
    info["as_server"] = bool(data[32])
    if info["mechanism"] != mechanism:
        hint = " (set server_key)" if info["mechanism"] == "CURVE" else ""
        raise _StageError(
            "zmtp",
            "security mismatch",
            "peer uses %s, this check uses %s%s" % (info["mechanism"], mechanism, hint),
        )
    if mechanism == "NULL":
        info["socket_type"] = _read_null_handshake(sock, deadline)
    return info


def _zmq_url(family: int, sockaddr: Tuple[Any, ...]) -> str:
    if family == socket.AF_INET6:
        return "tcp://[%s]:%d" % (sockaddr[0], sockaddr[1])
    return "tcp://%s:%d" % (sockaddr[0], sockaddr[1])


def _parse_reply(raw: List[bytes]) -> Dict[str, Any]:
    """Parse one reply; raise a ``reply`` stage error unless it is one JSON object.

    A well-formed reply is all a link needs: whatever it says, a live REP
    peer parsed the request and answered.
    """
    if len(raw) != 1:
        raise _StageError("reply", "wrong reply: %d frames, expected 1" % len(raw))
    try:
        reply = json.loads(raw[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _StageError("reply", "wrong reply: not JSON", "reply was %s" % _preview(raw[0], 60))
    if not isinstance(reply, dict):
        raise _StageError("reply", "wrong reply: not a JSON object", "reply was %s" % _preview(raw[0], 60))
    return reply


#: Monitor events that tell why a CURVE handshake did not complete.
_HANDSHAKE_EVENTS: Dict[str, int] = {
    name: getattr(zmq, name)
    for name in ("EVENT_HANDSHAKE_FAILED_AUTH", "EVENT_HANDSHAKE_FAILED_PROTOCOL", "EVENT_HANDSHAKE_FAILED_NO_DETAIL")
    if HAS_ZMQ and hasattr(zmq, name)
}


def _handshake_failure(monitor: Any) -> Optional[Tuple[str, int]]:
    """The last handshake failure event the monitor saw: (event name, value)."""
    from zmq.utils.monitor import recv_monitor_message  # pylint: disable=import-outside-toplevel

    seen = None
    names = {value: name for name, value in _HANDSHAKE_EVENTS.items()}
    while monitor.poll(0, zmq.POLLIN):
        event = recv_monitor_message(monitor, zmq.NOBLOCK)
        if event.get("event") in names:
            seen = (names[event["event"]], int(event.get("value") or 0))
    return seen


def _curve_stall(monitor: Any, timeout: float) -> _StageError:
    """Why a CURVE handshake did not complete, as a ``zmtp`` stage error.

    A server whose ZAP handler refuses our client key answers with an ERROR
    command (an authentication failure with a ZAP status code); a wrong
    ``server_key`` makes the server drop the connection without a word.
    """
    failure = _handshake_failure(monitor) if monitor is not None else None
    if failure and failure[0] == "EVENT_HANDSHAKE_FAILED_AUTH":
        return _StageError(
            "zmtp",
            "handshake refused",
            "the server refused this check's client key (ZAP status %d): it admits only the client keys it knows"
            % failure[1],
        )
    if failure and failure[0] == "EVENT_HANDSHAKE_FAILED_PROTOCOL":
        return _StageError("zmtp", "handshake refused", "CURVE protocol error (code %d)" % failure[1])
    return _StageError(
        "zmtp", "timed out", "CURVE handshake did not complete within %gs (wrong server_key?)" % timeout
    )


class _ReqSocket:
    """One REQ socket to a peer, reused for every attempt of a check.

    Opening waits for the ZMTP handshake (IMMEDIATE makes POLLOUT wait for a
    completed connection), so each request's clock measures one request/reply
    round trip, as a long-lived socket's would. A request that times out
    ends the check (a REQ socket cannot send again before it has a reply).
    """

    def __init__(self, ctx: "zmq.Context[Any]", url: str, ipv6: bool, timeout: float,
                 curve: Optional[Tuple[str, bytes, bytes]]) -> None:
        timeout_ms = max(1, int(timeout * 1000))
        self.sock = ctx.socket(zmq.REQ)
        self.monitor = None
        try:
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.setsockopt(zmq.IMMEDIATE, 1)
            self.sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
            self.sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
            if ipv6:
                self.sock.setsockopt(zmq.IPV6, 1)
            if curve is not None:
                server_key, public, secret = curve
                self.sock.setsockopt(zmq.CURVE_SERVERKEY, server_key.encode("ascii"))
                self.sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
                self.sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
                if _HANDSHAKE_EVENTS:
                    events = 0
                    for value in _HANDSHAKE_EVENTS.values():
                        events |= value
                    self.monitor = self.sock.get_monitor_socket(events)
            self.sock.connect(url)
            if not self.sock.poll(timeout_ms, zmq.POLLOUT):
                if curve is not None:
                    raise _curve_stall(self.monitor, timeout)
                raise _StageError("reply", "timed out",
                                  "ZMQ handshake did not complete within %gs" % timeout)
        except zmq.ZMQError as exc:
            self.close()
            raise _StageError("reply", "zmq error: %s" % exc)
        except BaseException:
            self.close()
            raise

    def request(self, payload: bytes, timeout: float) -> Tuple[float, Dict[str, Any]]:
        """(rtt seconds, reply) of one request, within ``timeout`` (as opened)."""
        # RCVTIMEO (the check's timeout, set when the socket was opened)
        # bounds the wait: no poll call on the measured path.
        try:
            started = time.perf_counter()
            self.sock.send(payload)
            raw = self.sock.recv_multipart()
            rtt = time.perf_counter() - started
        except zmq.Again:
            raise _StageError("reply", "timed out", "no reply within %gs" % timeout)
        except zmq.ZMQError as exc:
            raise _StageError("reply", "zmq error: %s" % exc)
        return rtt, _parse_reply(raw)

    def close(self) -> None:
        if self.monitor is not None:
            self.sock.disable_monitor()
            self.monitor.close(linger=0)
            self.monitor = None
        self.sock.close(linger=0)


def _rtt_stats(samples: Sequence[float]) -> Optional[Dict[str, float]]:
    if not samples:
        return None
    millis = [sample * 1000.0 for sample in samples]
    return {
        "min": round(min(millis), 3),
        "median": round(statistics.median(millis), 3),
        "max": round(max(millis), 3),
    }


def _check_one(ctx: "zmq.Context[Any]", endpoint: Endpoint, timeout: float, attempts: int) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "name": endpoint.name,
        "group": endpoint.group,
        "address": endpoint.address,
        "port": endpoint.port,
        "kind": endpoint.kind,
        "ok": False,
        "verdict": None,
        "message": None,
        "stage_reached": None,
        "failed_stage": None,
        "reason": None,
        "detail": None,
        "resolved_address": None,
        "zmtp": None,
        "rtt_ms": None,
        "reply": None,
        "elapsed_ms": None,
    }
    started = time.monotonic()
    samples: List[float] = []
    try:
        candidates = _resolve(endpoint, timeout)
        result["stage_reached"] = "resolve"

        tcp, (family, sockaddr) = _connect_tcp(candidates, timeout)
        result["stage_reached"] = "tcp"
        result["resolved_address"] = str(sockaddr[0])

        mechanism = "CURVE" if endpoint.server_key else "NULL"
        try:
            result["zmtp"] = _exchange_greeting(tcp, timeout, mechanism)
        finally:
            tcp.close()
        socket_type = result["zmtp"]["socket_type"]
        if endpoint.kind != "greeting" and socket_type is not None and socket_type not in _REQ_PEERS:
            raise _StageError(
                "zmtp",
                "wrong socket type: %s" % socket_type,
                "a REQ socket cannot talk to a %s socket; use kind greeting" % socket_type,
            )
        result["stage_reached"] = "zmtp"
        if endpoint.kind == "greeting":
            result["ok"] = True
            return _finish(result, started)

        curve = None
        if endpoint.server_key:
            if not zmq.has("curve"):
                raise _StageError("reply", "CURVE is not supported by this libzmq")
            public, secret = zmq.curve_keypair()
            curve = (endpoint.server_key, public, secret)
        payload = endpoint.payload
        url = _zmq_url(family, sockaddr)
        reply: Dict[str, Any] = {}
        try:
            req = _ReqSocket(ctx, url, family == socket.AF_INET6, timeout, curve)
            try:
                for _attempt in range(attempts):
                    rtt, reply = req.request(payload, timeout)
                    samples.append(rtt)
                    result["reply"] = reply
            finally:
                req.close()
        finally:
            result["rtt_ms"] = _rtt_stats(samples)
        result["stage_reached"] = "reply"
        result["message"] = reply_message(reply)
        if not endpoint.strict:
            result["verdict"] = REACHABLE
            result["ok"] = True
            return _finish(result, started)

        verdict, why = judge_reply(reply, endpoint.policy)
        result["verdict"] = verdict
        if verdict == FAILING:
            missing = [key for key in endpoint.policy.required_keys if key not in reply]
            if missing:
                raise _StageError("reply", "wrong reply: missing keys: %s" % ", ".join(missing), why)
            detail = "healthy: %s; degraded: %s" % (
                ", ".join(endpoint.policy.healthy),
                ", ".join(endpoint.policy.degraded) or "none",
            )
            raise _StageError("status", why or "failing", detail)
        result["stage_reached"] = "status"
        result["ok"] = True
    except _StageError as exc:
        result["failed_stage"] = exc.stage
        result["reason"] = exc.reason
        result["detail"] = exc.detail
        # stage_reached is the last stage that passed, before the one that failed.
        failed = STAGES.index(exc.stage)
        if result["stage_reached"] is not None and STAGES.index(result["stage_reached"]) >= failed:
            result["stage_reached"] = STAGES[failed - 1] if failed else None
    except Exception as exc:  # a bug or an unexpected OS condition: report, don't crash the batch
        stage_index = STAGES.index(result["stage_reached"]) + 1 if result["stage_reached"] else 0
        result["failed_stage"] = STAGES[min(stage_index, len(STAGES) - 1)]
        result["reason"] = "internal error: %s: %s" % (type(exc).__name__, exc)
    return _finish(result, started)


def _finish(result: Dict[str, Any], started: float) -> Dict[str, Any]:
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000.0, 3)
    return result


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def check_endpoints(
    endpoints: Iterable[Any],
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    max_workers: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """Check every endpoint concurrently and return one result per endpoint.

    ``endpoints`` holds :class:`Endpoint` objects, mappings accepted by
    :func:`normalize_endpoint`, or ``HOST:PORT[/kind]`` strings.  ``timeout``
    (seconds) bounds each network step of one endpoint: the name lookup, the
    TCP connect, the greeting exchange and each request/reply round trip.
    ``attempts`` requests are sent (each on a fresh REQ socket) and give the
    RTT statistics; checking stops at the first failure.

    Each result is a dict with ``name``, ``group``, ``address``, ``port``,
    ``kind``, ``ok``, ``stage_reached`` (the last stage passed, ``None`` if
    none), ``failed_stage`` (``None`` when ok), ``reason``, ``detail``,
    ``resolved_address``, ``zmtp`` (peer version/mechanism), ``rtt_ms``
    (``{min, median, max}`` or ``None``), ``reply`` (the last reply) and
    ``elapsed_ms``.  Results keep the input order.

    Raises ``ValueError`` for invalid input and ``RuntimeError`` without pyzmq.
    """
    if not HAS_ZMQ:
        raise RuntimeError("pyzmq is required for ZMQ health checks")
    normalized: List[Endpoint] = []
    for item in endpoints:
        if isinstance(item, Endpoint):
            normalized.append(item)
        elif isinstance(item, str):
            normalized.append(parse_endpoint(item))
        else:
            normalized.append(normalize_endpoint(item))
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds, got %r" % (timeout,))
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError("attempts must be an integer >= 1, got %r" % (attempts,))
    if not normalized:
        return []
    workers = min(max_workers or MAX_WORKERS, len(normalized))
    ctx = zmq.Context()
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zmq-health") as pool:
            futures = [pool.submit(_check_one, ctx, ep, float(timeout), attempts) for ep in normalized]
            return [future.result() for future in futures]
    finally:
        # Every socket is closed with LINGER 0 by now; destroy() is a safety net.
        ctx.destroy(linger=0)


def describe_failure(result: Mapping[str, Any]) -> str:
    """One line for a broken link, e.g.
    ``Memory 192.168.100.17:7140 (main): tcp failed: connection refused``."""
    where = _hostport(result["address"], result["port"])
    label = where if result.get("name") in (None, "", where) else "%s %s" % (result["name"], where)
    line = "%s (%s): %s failed: %s" % (label, result["kind"], result["failed_stage"], result["reason"])
    if result.get("detail"):
        line += " (%s)" % result["detail"]
    return line


def describe_success(result: Mapping[str, Any]) -> str:
    """One line for a healthy link."""
    where = _hostport(result["address"], result["port"])
    label = where if result.get("name") in (None, "", where) else "%s %s" % (result["name"], where)
    if result["kind"] == "greeting":
        zmtp = result.get("zmtp") or {}
        return "%s (greeting): ZMTP %s, %s socket" % (
            label,
            zmtp.get("version") or "?",
            zmtp.get("socket_type") or "unknown",
        )
    rtt = result.get("rtt_ms") or {}
    status = (result.get("reply") or {}).get("status")
    said = "status %s" % (json.dumps(status),)
    if result.get("verdict") in (REACHABLE, DEGRADED) and result.get("message"):
        said += ": %s" % result["message"]
    if result.get("verdict") == REACHABLE:
        said = "reachable, replied %s" % said
    return "%s (%s): %s, rtt median %.3f ms (min %.3f, max %.3f)" % (
        label,
        result["kind"],
        said,
        rtt.get("median", 0.0),
        rtt.get("min", 0.0),
        rtt.get("max", 0.0),
    )


def run_checks(
    endpoints: Iterable[Any],
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Dict[str, Any]:
    """Check ``endpoints`` and return the aggregate document.

    ``{"endpoints": [...], "ok_count": int, "degraded_count": int,
    "failed_count": int, "summary": [one line per broken link]}`` -- the
    shape the ``zmq_check`` module returns and ``--stdin-json`` prints.
    ``ok_count`` counts every endpoint that did not fail, degraded ones too.
    """
    results = check_endpoints(endpoints, timeout=timeout, attempts=attempts)
    failed = [result for result in results if not result["ok"]]
    return {
        "endpoints": results,
        "ok_count": len(results) - len(failed),
        "degraded_count": sum(1 for result in results if result["verdict"] == DEGRADED),
        "failed_count": len(failed),
        "summary": [describe_failure(result) for result in failed],
    }


# --------------------------------------------------------------------------
# Command line (container HEALTHCHECK, podman exec)
# --------------------------------------------------------------------------

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zmq_health.py",
        description="ZMQ-native health check of agent REP sockets. Exit 0 when every endpoint is "
        "healthy, degraded or (for links) reachable, 1 when any fails, 2 on bad input.",
    )
    parser.add_argument(
        "endpoints",
        nargs="*",
        metavar="ENDPOINT",
        help="HOST:PORT, HOST:PORT/main, HOST:PORT/health or HOST:PORT/greeting ([IPV6]:PORT for IPv6)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a group's endpoint map (endpoints.json): probe the health port of each of its "
        "request/reply agents on ADDRESS with that agent's health_policy",
    )
    parser.add_argument(
        "--address", default="127.0.0.1", help="where --config's agents listen (default %(default)s)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per network step (default %(default)s)"
    )
    parser.add_argument(
        "--attempts", type=int, default=DEFAULT_ATTEMPTS, help="requests per endpoint (default %(default)s)"
    )
    policy = parser.add_argument_group("health policy of the ENDPOINT arguments")
    policy.add_argument("--request", metavar="JSON", help='JSON object to send (default {"action": "health_check"})')
    policy.add_argument("--healthy", metavar="S,S", help="statuses that mean healthy (default ok,healthy)")
    policy.add_argument("--degraded", metavar="S,S", help="statuses that mean degraded (default degraded)")
    policy.add_argument("--require", metavar="K,K", help="keys every reply must carry (default status)")
    policy.add_argument("--strict", action="store_true", help="judge main sockets' replies too, not only reachability")
    parser.add_argument("--json", action="store_true", help="print the result document as JSON")
    parser.add_argument(
        "--stdin-json",
        action="store_true",
        help='read {"endpoints": [...], "timeout": S, "attempts": N} from stdin and print JSON',
    )
    return parser


def _policy_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    spec: Dict[str, Any] = {}
    if args.request is not None:
        try:
            spec["request"] = json.loads(args.request)
        except ValueError as exc:
            raise ValueError("--request is not JSON: %s" % exc)
    for option, key in (("healthy", "healthy"), ("degraded", "degraded"), ("require", "required_keys")):
        value = getattr(args, option)
        if value is not None:
            spec[key] = [item.strip() for item in value.split(",") if item.strip()]
    normalize_policy(spec)  # refuse a bad policy before any endpoint is checked
    return spec


def config_endpoints(document: Any, address: str = "127.0.0.1", source: str = "config") -> List[Dict[str, Any]]:
    """The health endpoints of a group's endpoint map, each with its agent's policy."""
    if not isinstance(document, dict) or not isinstance(document.get("agents"), dict):
        raise ValueError('%s: expected an object with an "agents" mapping' % source)
    out = []
    for name, spec in sorted(document["agents"].items()):
        if not isinstance(spec, dict):
            raise ValueError("%s: agent %s is not an object" % (source, name))
        if spec.get("socket", "rep") != "rep" or not spec.get("health_port"):
            continue
        out.append(
            {
                "name": name,
                "address": address,
                "port": spec["health_port"],
                "kind": "health",
                "policy": spec.get("health_policy"),
                "group": document.get("group"),
            }
        )
    return out


def _error_document(message: str) -> Dict[str, Any]:
    return {"error": message, "endpoints": [], "ok_count": 0, "degraded_count": 0, "failed_count": 0, "summary": []}


def _line(item: Mapping[str, Any]) -> str:
    if not item["ok"]:
        return "FAIL     %s" % describe_failure(item)
    word = "DEGRADED" if item.get("verdict") == DEGRADED else "OK      "
    return "%s %s" % (word, describe_success(item))


def main(argv: Optional[Sequence[str]] = None, stdin: Any = None, stdout: Any = None) -> int:
    """CLI entry point; returns the exit status."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    parser = _build_parser()
    args = parser.parse_args(argv)
    as_json = args.json or args.stdin_json

    def fail_usage(message: str) -> int:
        if as_json:
            stdout.write(json.dumps(_error_document(message)) + "\n")
        else:
            sys.stderr.write("zmq_health.py: error: %s\n" % message)
        return EXIT_USAGE

    if not HAS_ZMQ:
        return fail_usage("pyzmq is not installed for %s" % sys.executable)
    timeout, attempts = args.timeout, args.attempts
    try:
        policy = _policy_from_args(args)
    except ValueError as exc:
        return fail_usage(str(exc))
    endpoints: List[Any] = []
    for text in args.endpoints:
        try:
            endpoint = parse_endpoint(text).as_dict()
        except ValueError as exc:
            return fail_usage(str(exc))
        endpoint.update(policy=policy, strict=args.strict)
        endpoints.append(endpoint)
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as exc:
            return fail_usage("%s: %s" % (args.config, exc))
        try:
            endpoints += config_endpoints(document, args.address, args.config)
        except ValueError as exc:
            return fail_usage(str(exc))
    if args.stdin_json:
        try:
            document = json.loads(stdin.read())
        except ValueError as exc:
            return fail_usage("stdin is not a JSON document: %s" % exc)
        if not isinstance(document, dict) or not isinstance(document.get("endpoints"), list):
            return fail_usage('stdin JSON must be an object with an "endpoints" list')
        endpoints += document["endpoints"]
        timeout = document.get("timeout", timeout)
        attempts = document.get("attempts", attempts)
    if not endpoints:
        return fail_usage("no endpoints given")
    try:
        result = run_checks(endpoints, timeout=timeout, attempts=attempts)
    except ValueError as exc:
        return fail_usage(str(exc))

    if as_json:
        stdout.write(json.dumps(result, sort_keys=True) + "\n")
    else:
        for item in result["endpoints"]:
            stdout.write(_line(item) + "\n")
    stdout.flush()
    return EXIT_OK if result["failed_count"] == 0 else EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
