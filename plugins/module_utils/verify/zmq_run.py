# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the zmq_check module does, as functions that return its result.

The module ai_system.containers.zmq_check is a thin wrapper around :func:`run`;
ai_system.containers.host_checks calls :func:`run` too, for its ``zmq`` check.
``module`` is an AnsibleModule (or anything with ``params``, ``get_bin_path``
and ``run_command``); the checks and their judgement are zmq_health's.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ai_system.containers.plugins.module_utils.verify.listen_ports import (
    SILENT_REASONS,
    as_result,
    container_listeners,
    silent_text,
)
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (
    HAS_ZMQ,
    ZMQ_IMPORT_ERROR,
    normalize_endpoint,
    run_checks,
)

#: Options of one endpoint, in O(endpoints) and in O(containers[].endpoints).
ENDPOINT_OPTIONS: Dict[str, Any] = dict(
    name=dict(type="str"),
    address=dict(type="str", required=True),
    port=dict(type="int", required=True),
    kind=dict(type="str", choices=["main", "health", "greeting"], default="main"),
    policy=dict(
        type="dict",
        options=dict(
            request=dict(type="dict"),
            healthy=dict(type="list", elements="str"),
            degraded=dict(type="list", elements="str"),
            required_keys=dict(type="list", elements="str", no_log=False),
        ),
    ),
    strict=dict(type="bool", default=False),
    request=dict(type="dict"),
    server_key=dict(type="str", no_log=False),
    group=dict(type="str"),
)

ARGUMENT_SPEC: Dict[str, Any] = dict(
    endpoints=dict(type="list", elements="dict", options=ENDPOINT_OPTIONS),
    containers=dict(
        type="list",
        elements="dict",
        options=dict(
            container=dict(type="str", required=True),
            endpoints=dict(type="list", elements="dict", required=True, options=ENDPOINT_OPTIONS),
        ),
    ),
    concurrency=dict(type="int", default=8),
    timeout=dict(type="float", default=3.0),
    attempts=dict(type="int", default=3),
    container=dict(type="str"),
    container_python=dict(type="str", default="python3"),
    podman_path=dict(type="path"),
    fail_on_error=dict(type="bool", default=True),
)
#: Passed to AnsibleModule with ARGUMENT_SPEC.
MUTUALLY_EXCLUSIVE = [("containers", "endpoints"), ("containers", "container")]
REQUIRED_ONE_OF = [("endpoints", "containers")]


#: podman's rule for a container name; a container ID (hex) follows it too.
_CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
#: podman runs in the C locale, without the cgroups v1 warning that would bury its own error.
PODMAN_ENV = {"LANG": "C", "LC_ALL": "C", "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}
#: How much of the in-container output a message quotes.
EXCERPT_CHARS = 200
#: Keys of every endpoint result (see RETURN).
RESULT_KEYS = (
    "name",
    "group",
    "address",
    "port",
    "kind",
    "ok",
    "verdict",
    "message",
    "stage_reached",
    "failed_stage",
    "reason",
    "detail",
    "resolved_address",
    "zmtp",
    "rtt_ms",
    "reply",
    "elapsed_ms",
)
_JSON_TYPES = {list: "list", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}


class ZmqCheckError(Exception):
    """The checks could not run at all (bad input, no pyzmq, podman failure)."""

    def __init__(self, msg: str, exception: Optional[str] = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.exception = exception


def _has_control(text: str) -> bool:
    """Whether ``text`` holds a control character or a lone surrogate."""
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


def _excerpt(text: str, tail: bool = False) -> str:
    """At most EXCERPT_CHARS of ``text`` (its end with ``tail``) on one printable line."""
    text = text.strip()
    cut = len(text) > EXCERPT_CHARS
    text = text[-EXCERPT_CHARS:] if tail else text[:EXCERPT_CHARS]
    shown = "".join(_printable(char) for char in text)
    if cut:
        shown = "..." + shown if tail else shown + "..."
    return shown


def _printable(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cs":
        return "\ufffd"
    if category == "Cc":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, "\\x%02x" % ord(char))
    return char


def _check_container(container: Optional[str], python: Optional[str], where: str = "container") -> None:
    """Refuse a container name or interpreter that podman would read as an option."""
    if container is None:
        return
    if not container:
        raise ZmqCheckError("%s must not be empty; leave it out to run the checks on the managed host" % where)
    if container.startswith("-"):
        raise ZmqCheckError(
            "%s %r starts with '-', which podman would read as an option; give the container's name or ID"
            % (where, container)
        )
    if not _CONTAINER_NAME.fullmatch(container):
        raise ZmqCheckError(
            "%s %r is not a container name or ID: it must start with a letter or digit and hold only "
            "letters, digits, '_', '.' and '-'" % (where, container)
        )
    if not python or python.startswith("-") or _has_control(python):
        raise ZmqCheckError(
            "container_python must be the name or path of the Python interpreter inside the container, got %r" % python
        )


def _check_endpoints(specs: List[Any], where: str = "endpoints") -> None:
    """Refuse endpoint values that would forge report lines."""
    for index, spec in enumerate(specs):
        where_one = "invalid %s: %s[%d]" % (where, where, index)
        if not isinstance(spec, dict):
            continue  # normalize_endpoint refuses it
        name, address = spec.get("name"), spec.get("address")
        if isinstance(name, str):
            if name.startswith("-"):
                raise ZmqCheckError("%s: name %r must not start with '-'" % (where_one, name))
            if _has_control(name):
                raise ZmqCheckError("%s: name %r contains a control character" % (where_one, name))
        if isinstance(address, str):
            if not address.strip():
                raise ZmqCheckError("%s: address is empty" % where_one)
            if _has_control(address):
                raise ZmqCheckError("%s: address %r contains a control character" % (where_one, address))
        group = spec.get("group")
        if isinstance(group, str) and _has_control(group):
            raise ZmqCheckError("%s: group %r contains a control character" % (where_one, group))


def _check_options(params: Dict[str, Any]) -> None:
    """Refuse option values that would be read as podman options or forge report lines."""
    _check_container(params.get("container"), params.get("container_python"))
    _check_endpoints(params.get("endpoints") or [])


_SOURCE_LOCK = threading.Lock()
_SOURCE: List[str] = []


def _health_source() -> str:
    """Source text of the zmq_health module_utils, to run inside a container.

    Read once, under a lock: the containers are checked from several threads,
    and reading a module's source out of the module's zip payload (linecache,
    zipimport) is not safe from several threads at once.
    """
    with _SOURCE_LOCK:
        if not _SOURCE:
            _SOURCE.append(_read_health_source())
        return _SOURCE[0]


def _read_health_source() -> str:
    health = sys.modules[run_checks.__module__]
    try:
        return inspect.getsource(health)
    except (OSError, TypeError):
        pass
    loader = getattr(getattr(health, "__spec__", None), "loader", None)
    try:
        text = loader.get_source(health.__name__) if loader is not None else None
    except (ImportError, OSError):
        text = None
    if text:
        return text
    path = getattr(health, "__file__", None)
    if not path:
        raise ZmqCheckError("cannot read the source of %s to run it in a container" % health.__name__)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ZmqCheckError("cannot read the source of %s to run it in a container: %s" % (health.__name__, exc))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _document_problem(document: Any, count: int) -> Optional[str]:
    """What is wrong with the checks' JSON document for ``count`` endpoints (None when nothing)."""
    if not isinstance(document, dict):
        return "a JSON %s, not an object" % _JSON_TYPES.get(type(document), type(document).__name__)
    missing = [key for key in ("endpoints", "ok_count", "failed_count", "summary") if key not in document]
    if missing:
        return "missing keys: %s" % ", ".join(missing)
    endpoints = document["endpoints"]
    if not isinstance(endpoints, list):
        return "'endpoints' is not a list"
    if len(endpoints) != count:
        return "%d results for %d endpoints" % (len(endpoints), count)
    for index, entry in enumerate(endpoints):
        if not isinstance(entry, dict):
            return "endpoints[%d] is not an object" % index
        missing = [key for key in RESULT_KEYS if key not in entry]
        if missing:
            return "endpoints[%d] lacks keys: %s" % (index, ", ".join(missing))
        if not isinstance(entry["ok"], bool):
            return "endpoints[%d].ok is not true or false" % index
    for key in ("ok_count", "failed_count", "degraded_count"):
        if key in document and not _int(document[key]):
            return "'%s' is not an integer" % key
    failed = sum(1 for entry in endpoints if not entry["ok"])
    if document["failed_count"] != failed:
        return "failed_count %d, but %d endpoints failed" % (document["failed_count"], failed)
    summary = document["summary"]
    if not isinstance(summary, list) or not all(isinstance(line, str) for line in summary):
        return "'summary' is not a list of strings"
    return None


def _podman(module: Any) -> str:
    return module.params["podman_path"] or module.get_bin_path("podman", required=True)


def _run_in_container(module: Any, podman: str, container: str, document: Dict[str, Any]) -> Dict[str, Any]:
    """Run the checks with the container's Python through ``podman exec``.

    Whatever the container prints, the result is the checks' document or a
    :class:`ZmqCheckError` naming the container and quoting the output.
    """
    command = [
        podman,
        "exec",
        "-i",
        "--",  # everything after is the container and its command, never a podman option
        container,
        module.params["container_python"],
        "-c",
        _health_source(),
        "--stdin-json",
    ]
    try:
        rc, out, err = module.run_command(
            command,
            data=json.dumps(document),
            expand_user_and_vars=False,
            environ_update=PODMAN_ENV,
            encoding=None,
            handle_exceptions=False,
        )
    except OSError as exc:
        # podman gone, or podman exited (no such container) before reading the document.
        raise ZmqCheckError("could not run the ZMQ checks inside container %s: %s" % (container, exc.strerror or exc))
    stderr = (err or b"").decode("utf-8", "replace")
    if not (out or b"").strip():
        # podman's own error, or a Python that died before printing: the end of stderr says why.
        raise ZmqCheckError(
            "could not run the ZMQ checks inside container %s (rc=%s): %s"
            % (container, rc, _excerpt(stderr, tail=True) or "no output")
        )

    def unexpected(problem: str, shown: str) -> ZmqCheckError:
        msg = "unexpected output from the ZMQ checks inside container %s (rc=%s): %s: %s" % (
            container,
            rc,
            problem,
            _excerpt(shown),
        )
        if stderr.strip():
            msg += "; stderr: %s" % _excerpt(stderr, tail=True)
        return ZmqCheckError(msg)

    try:
        stdout = out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unexpected(
            "not UTF-8 text (byte 0x%02x at %d)" % (out[exc.start], exc.start), out.decode("utf-8", "replace")
        )
    try:
        result = json.loads(stdout)
    except ValueError as exc:
        raise unexpected("not JSON (%s)" % exc, stdout)
    except RecursionError:
        raise unexpected("not JSON (nested too deep)", stdout)
    if isinstance(result, dict) and result.get("error"):
        raise ZmqCheckError("ZMQ checks inside container %s: %s" % (container, _excerpt(str(result["error"]))))
    problem = _document_problem(result, len(document["endpoints"]))
    if problem:
        raise unexpected(problem, stdout)
    return result


def _normalized(specs: List[Any], where: str = "endpoints") -> List[Dict[str, Any]]:
    try:
        return [normalize_endpoint(spec).as_dict() for spec in specs]
    except ValueError as exc:
        raise ZmqCheckError("invalid %s: %s" % (where, exc))


def _check_limits(params: Dict[str, Any]) -> None:
    if not params["timeout"] > 0:
        raise ZmqCheckError("timeout must be greater than 0, got %s" % params["timeout"])
    if params["attempts"] < 1:
        raise ZmqCheckError("attempts must be at least 1, got %s" % params["attempts"])
    if params.get("concurrency", 1) < 1:
        raise ZmqCheckError("concurrency must be at least 1, got %s" % params["concurrency"])


def _checked(
    module: Any, container: Optional[str], endpoints: List[Dict[str, Any]], started: float, podman: Optional[str] = None
) -> Dict[str, Any]:
    """The checks of ``endpoints`` from ``container`` (or the managed host): the module result."""
    params = module.params
    if container:
        document = {"endpoints": endpoints, "timeout": params["timeout"], "attempts": params["attempts"]}
        podman = podman or _podman(module)
        result = _run_in_container(module, podman, container, document)
        _add_listening(module, podman, container, result)
    else:
        if not HAS_ZMQ:
            raise ZmqCheckError(missing_required_lib("pyzmq"), exception=ZMQ_IMPORT_ERROR)
        result = run_checks(endpoints, timeout=params["timeout"], attempts=params["attempts"])
    return {
        "changed": False,
        "endpoints": result["endpoints"],
        "ok_count": result["ok_count"],
        "degraded_count": result.get("degraded_count", 0),
        "failed_count": result["failed_count"],
        "summary": result["summary"],
        "elapsed_s": round(time.monotonic() - started, 3),
    }


_LOOPBACK = re.compile(r"\A(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)\Z")
_CONTAINER_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_IP = re.compile(r"\A[\d.]+\Z|:")


def _silent_target(container: str, endpoint: Dict[str, Any]) -> Optional[str]:
    """The container whose port ``endpoint`` is, when nothing answered there
    (refused, timed out) and it is a container of this host: the checking
    container itself for a loopback address, the container of that name for
    a same-host link (addressed by container name); else None."""
    if endpoint.get("failed_stage") != "tcp" or endpoint.get("reason") not in SILENT_REASONS:
        return None
    address = str(endpoint.get("address") or "")
    if _LOOPBACK.match(address):
        return container
    if _CONTAINER_NAME.match(address) and not _IP.search(address):
        return address
    return None


def _add_listening(module: Any, podman: str, container: str, result: Dict[str, Any]) -> None:
    """Add ``listening`` to each endpoint that nothing answered on, in a container
    of this host: what that container listens on (read once per container from
    its process's /proc/PID/net/tcp and tcp6), and a summary line
    ``<agent>: nothing on <port>; the container listens on ...``. Where that
    cannot be read (no such container here: a peer on another host), nothing is added."""
    read: Dict[str, Dict[str, Any]] = {}

    def runner(argv: List[str]) -> Tuple[int, str, str]:
        return module.run_command(argv, environ_update=PODMAN_ENV, expand_user_and_vars=False)

    for endpoint in result.get("endpoints") or []:
        target = _silent_target(container, endpoint) if isinstance(endpoint, dict) else None
        if target is None:
            continue
        if target not in read:
            listeners, why = container_listeners(runner, podman, target)
            read[target] = dict(as_result(listeners, why), container=target)
            read[target]["_listeners"] = listeners
        found = read[target]
        if found["_listeners"] is None:
            continue  # not a container of this host, or gone: nothing to add
        who = "the container" if target == container else "container %s" % target
        text = silent_text(endpoint.get("name"), [endpoint.get("port")], found["_listeners"], who)
        endpoint["listening"] = dict({k: v for k, v in found.items() if k != "_listeners"}, text=text)
        result.setdefault("summary", []).append(text)


def run_zmq_check(module: Any) -> Dict[str, Any]:
    """Run the checks for ``module.params`` (one container, or the managed host); return the module result.

    ``module`` needs ``params`` and, with ``container``, ``get_bin_path`` and
    ``run_command`` (an AnsibleModule or a test double).  The result holds
    ``changed`` (always false), ``endpoints``, ``ok_count``, ``degraded_count``, ``failed_count``,
    ``summary`` and ``elapsed_s``.  Raises :class:`ZmqCheckError` when the checks cannot run.
    """
    started = time.monotonic()
    params = module.params
    _check_options(params)
    endpoints = _normalized(params["endpoints"] or [])
    _check_limits(params)
    return _checked(module, params.get("container"), endpoints, started)


def outcome(result: Dict[str, Any], fail_on_error: bool) -> Dict[str, Any]:
    """``result`` as the module ends with it: ``msg``, and ``failed`` when it fails the task."""
    if result["failed_count"] and fail_on_error:
        return dict(result, failed=True, msg="\n".join(result["summary"]))
    msg = "%d of %d ZMQ endpoints ok" % (result["ok_count"], len(result["endpoints"]))
    if result["degraded_count"]:
        msg += " (%d degraded)" % result["degraded_count"]
    return dict(result, msg=msg)


def run_zmq_checks(module: Any) -> Dict[str, Any]:
    """Run the checks of every entry of ``module.params["containers"]``, at most
    ``concurrency`` containers at a time; return the module result.

    Each container's result under ``containers`` is what a call with that
    ``container`` and its ``endpoints`` ends with: the counts, ``summary``,
    ``msg`` and ``elapsed_s``, plus ``failed`` when that call would fail (its
    checks could not run, or with ``fail_on_error`` a link is broken).
    Raises :class:`ZmqCheckError` for invalid options, before running any check.
    """
    started = time.monotonic()
    params = module.params
    entries = params["containers"] or []
    _check_limits(params)
    planned: List[Tuple[str, List[Dict[str, Any]]]] = []
    seen = set()
    for index, entry in enumerate(entries):
        container = entry["container"]
        _check_container(container, params["container_python"], "containers[%d].container" % index)
        if container in seen:
            raise ZmqCheckError("containers[%d]: container %s is listed twice" % (index, container))
        seen.add(container)
        where = "containers[%d].endpoints" % index
        _check_endpoints(entry["endpoints"], where)
        planned.append((container, _normalized(entry["endpoints"], where)))

    # Looked up here, not in the threads: a missing podman fails the task as it does for one container.
    podman = _podman(module) if planned else None

    def one(container: str, endpoints: List[Dict[str, Any]]) -> Dict[str, Any]:
        begun = time.monotonic()
        try:
            return outcome(_checked(module, container, endpoints, begun, podman), params["fail_on_error"])
        except ZmqCheckError as exc:
            failed = {"changed": False, "failed": True, "msg": exc.msg, "elapsed_s": round(time.monotonic() - begun, 3)}
            if exc.exception:
                failed["exception"] = exc.exception
            return failed

    results: Dict[str, Dict[str, Any]] = {}
    if planned:
        with ThreadPoolExecutor(max_workers=min(params["concurrency"], len(planned))) as pool:
            futures = [(container, pool.submit(one, container, endpoints)) for container, endpoints in planned]
            for container, future in futures:
                results[container] = future.result()
    summary: List[str] = []
    errors = 0
    for container, result in results.items():
        if "endpoints" not in result:
            errors += 1
            summary.append(result["msg"])
        else:
            summary.extend("%s: %s" % (container, line) for line in result["summary"])
    checked = [r for r in results.values() if "endpoints" in r]
    return {
        "changed": False,
        "containers": results,
        "ok_count": sum(r["ok_count"] for r in checked),
        "degraded_count": sum(r["degraded_count"] for r in checked),
        "failed_count": sum(r["failed_count"] for r in checked),
        "error_count": errors,
        "summary": summary,
        "elapsed_s": round(time.monotonic() - started, 3),
    }


def run(module: Any) -> Dict[str, Any]:
    """Everything zmq_check does for ``module.params``: the result it ends with.

    The result carries ``failed: True`` and ``msg`` when the module fails.
    """
    params = module.params
    if params["containers"] is not None:
        try:
            result = run_zmq_checks(module)
        except ZmqCheckError as exc:
            return {"failed": True, "msg": exc.msg, "changed": False}
        if result["error_count"] or (result["failed_count"] and params["fail_on_error"]):
            return dict(result, failed=True, msg="\n".join(result["summary"]))
        msg = "%d of %d ZMQ endpoints ok in %d containers" % (
            result["ok_count"],
            result["ok_count"] + result["failed_count"],
            len(result["containers"]),
        )
        if result["degraded_count"]:
            msg += " (%d degraded)" % result["degraded_count"]
        return dict(result, msg=msg)
    try:
        result = run_zmq_check(module)
    except ZmqCheckError as exc:
        extra = {"exception": exc.exception} if exc.exception else {}
        return dict({"failed": True, "msg": exc.msg, "changed": False}, **extra)
    return outcome(result, params["fail_on_error"])
