#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zmq_check
short_description: Check that agents' ZMQ REP sockets answer health requests
version_added: "0.1.0"
description:
  - Checks ZMQ links to the agents' REP sockets, all endpoints at once, and reports per endpoint how far the check got.
  - >-
    Every endpoint is checked in stages and the first one that fails is reported with a plain reason.
    C(resolve) looks the address up, C(tcp) opens a TCP connection, C(zmtp) swaps ZMTP greetings so a non-ZMQ
    listener is told apart from a ZMQ peer, C(reply) sends the request (by default C({"action": "health_check"})) on a fresh REQ socket per
    attempt and parses the JSON reply, and C(status) judges the reply with the endpoint's health policy.
  - >-
    A health socket (and a strict link) is C(healthy) when its C(status) is one of the policy's healthy statuses,
    C(degraded) when it is one of the degraded ones (not a failure), and fails otherwise, quoting the agent's message.
    A link to a main socket passes as C(reachable) on any well-formed reply.
  - >-
    Reasons are C(name does not resolve), C(connection refused), C(timed out), C(host unreachable),
    C(connection closed), C(not a ZMQ peer) (the peer sent bytes that are not ZMTP), C(security mismatch),
    C(handshake refused), C(wrong socket type: <type>), C(wrong reply: ...) and C(status "<status>": <message>).
  - The checks run on the managed host, or inside a container's network namespace with O(container), which runs the
    check code with the container's own Python through C(podman exec).
  - >-
    With O(containers), one call checks many containers, each from inside its own network namespace, at most
    O(concurrency) containers at a time; RV(containers) holds per container what a call with that O(container) and
    its endpoints returns, so a container whose checks cannot run does not hide the others.
  - The module only reads; it never changes anything.
author:
  - ai_system.containers maintainers (@ai-system)
requirements:
  - pyzmq on the managed host, or inside the container when O(container) is set
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only sends health requests, so it runs unchanged in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  endpoints:
    description:
      - The ZMQ REP sockets to check.
      - Required unless O(containers) is given; mutually exclusive with it.
    type: list
    elements: dict
    suboptions: &endpoint_options
      name:
        description:
          - Name used in reports, for example the agent's name.
          - Defaults to C(ADDRESS:PORT).
          - Must not start with C(-) nor hold control characters (a line break would forge a line of RV(summary)).
        type: str
      address:
        description:
          - Host name or IP address of the agent; not empty, without control characters.
        type: str
        required: true
      port:
        description:
          - TCP port of the REP socket, from 1 to 65535.
        type: int
        required: true
      kind:
        description:
          - Which of the agent's sockets this is.
          - >-
            V(main) is the agent's main REP socket, V(health) its health socket. Both are sent the request;
            a health socket's reply is judged by O(endpoints[].policy), a main socket's only with O(endpoints[].strict).
          - V(greeting) is any other ZMQ socket, such as a PUB socket, that cannot answer a request.
            Its check ends after the C(zmtp) stage, which proves a ZMQ peer listens there.
        type: str
        choices: [main, health, greeting]
        default: main
      policy:
        description:
          - How the agent's reply is judged (its health policy); keys left out take their defaults.
          - Health sockets are always judged by it; main sockets only with O(endpoints[].strict).
        type: dict
        suboptions:
          request:
            description:
              - >-
                The JSON object sent. Defaults to C({"action": "health_check"}).
            type: dict
          healthy:
            description:
              - Statuses that mean healthy, compared case-insensitively. Defaults to C(ok) and C(healthy).
            type: list
            elements: str
          degraded:
            description:
              - >-
                Statuses that mean degraded: the agent answers and serves but says it is not well.
                A degraded endpoint is not a failure; it is reported with RV(endpoints[].verdict=degraded).
                Defaults to C(degraded).
            type: list
            elements: str
          required_keys:
            description:
              - Keys every reply must carry; must include C(status). Defaults to C(status) only.
            type: list
            elements: str
      strict:
        description:
          - >-
            For O(endpoints[].kind=main), judge the reply with O(endpoints[].policy) instead of accepting any
            well-formed reply. Without it, a live REP peer that answers at all, even with
            C({"status": "error", "error": "Unknown action: health_check"}), proves the link.
        type: bool
        default: false
      request:
        description:
          - >-
            The JSON object sent to this endpoint instead of the policy's request, for example
            C({"command": "health_check"}) for an agent that dispatches on C(command).
        type: dict
      server_key:
        description:
          - The agent's CurveZMQ public key (40 Z85 characters).
          - When set, the check uses CURVE with a throw-away client key pair, and fails at the C(zmtp) stage
            if the peer does not use CURVE.
        type: str
      group:
        description:
          - Free-form label copied to the result, for example the host or link group; without control characters.
        type: str
  containers:
    description:
      - Check many containers in one call, each from inside its own network namespace, as O(container) does for one.
      - Mutually exclusive with O(endpoints) and O(container).
      - The checks of the containers run concurrently, at most O(concurrency) at a time, each with its own
        C(podman exec); the options other than O(endpoints) and O(container) apply to every container.
      - A container named twice is refused.
    type: list
    elements: dict
    suboptions:
      container:
        description:
          - The container, named as O(container) is.
        type: str
        required: true
      endpoints:
        description:
          - The endpoints to check from inside this container, as in O(endpoints).
        type: list
        elements: dict
        required: true
        suboptions: *endpoint_options
  concurrency:
    description:
      - With O(containers), how many containers are checked at the same time; at least 1.
    type: int
    default: 8
  timeout:
    description:
      - Seconds allowed for each network step of one endpoint (name lookup, TCP connect, greeting, each request).
      - Endpoints are checked concurrently, so endpoints that all time out cost about one O(timeout) together.
    type: float
    default: 3.0
  attempts:
    description:
      - Requests sent to each endpoint, each on a fresh REQ socket; their round-trip times give RV(endpoints[].rtt_ms).
      - Checking an endpoint stops at the first failed request.
    type: int
    default: 3
  container:
    description:
      - Run the checks from inside this running container's network namespace with
        C(podman exec -i -- CONTAINER PYTHON -c SOURCE --stdin-json).
      - The container needs Python 3.8 or later with pyzmq; the managed host then needs neither.
      - A container name or ID as podman spells them, starting with a letter or digit and holding only letters,
        digits, C(_), C(.) and C(-); a value starting with C(-) or an empty one is refused.
      - >-
        The module fails, naming the container and quoting the first 200 characters of what it printed, when
        the output is not the checks' JSON document (not UTF-8, not JSON, truncated, of the wrong shape or
        missing keys), and when the command printed nothing, quoting the end of its standard error.
        This holds with O(fail_on_error=false) too, since there is no endpoint result to report.
    type: str
  container_python:
    description:
      - Python interpreter inside O(container); must not be empty nor start with C(-).
    type: str
    default: python3
  podman_path:
    description:
      - Path to the podman binary used with O(container). Defaults to C(podman) from E(PATH).
    type: path
  fail_on_error:
    description:
      - Fail the task when any endpoint is not healthy, with one line per broken link as the message.
      - When V(false), the task succeeds and RV(failed_count) and RV(summary) report the broken links.
    type: bool
    default: true
notes:
  - Only the ZMQ sockets are consulted; no Podman or systemd state is read, except to enter O(container).
  - The same check code and judgement run as each container's HEALTHCHECK with
    C(python3 zmq_health.py --config /etc/ai-system/endpoints.json);
    see C(docs/zmq_check.md) in the collection.
"""

EXAMPLES = r"""
- name: Check the agents' main and health sockets from the controller's peer host
  ai_system.containers.zmq_check:
    endpoints:
      - name: MemoryOrchestratorService
        address: 192.168.100.17
        port: 7140
      - name: MemoryOrchestratorService
        address: 192.168.100.17
        port: 7141
        kind: health
    timeout: 2.0

- name: Check from inside a container's network namespace and keep going on failure
  ai_system.containers.zmq_check:
    container: model-manager
    endpoints: "{{ zmq_links }}"
    fail_on_error: false
  register: zmq_links_result

- name: Show the broken links
  ansible.builtin.debug:
    var: zmq_links_result.summary
  when: zmq_links_result.failed_count > 0

- name: Check the links of many containers in one call, four containers at a time
  ai_system.containers.zmq_check:
    containers:
      - container: model-manager
        endpoints: "{{ model_manager_links }}"
      - container: memory-system
        endpoints: "{{ memory_system_links }}"
    concurrency: 4
    fail_on_error: false
  register: all_links

- name: Show each container's broken links
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.summary | default(item.value.msg) }}"
  loop: "{{ all_links.containers | dict2items }}"
  when: item.value.failed_count | default(1) > 0

- name: Judge agents that answer "HEALTHY" and call "initializing" degraded, not failed
  ai_system.containers.zmq_check:
    endpoints:
      - address: 127.0.0.1
        port: 6715
        kind: health
        policy:
          healthy: [ok, healthy]
          degraded: [degraded, initializing]

- name: A link to an agent that dispatches on "command", which must answer healthy
  ai_system.containers.zmq_check:
    endpoints:
      - name: UnifiedWebAgent
        address: 192.168.100.17
        port: 7126
        strict: true
        request: {command: health_check}

- name: Check that a PUB socket listens (no request is sent to it)
  ai_system.containers.zmq_check:
    endpoints:
      - name: EventBroadcaster
        address: 192.168.100.17
        port: 7150
        kind: greeting

- name: Check a CurveZMQ-protected agent
  ai_system.containers.zmq_check:
    endpoints:
      - address: 192.168.100.17
        port: 7140
        server_key: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
"""

RETURN = r"""
endpoints:
  description: One result per endpoint, in the order given.
  returned: without O(containers)
  type: list
  elements: dict
  sample:
    - name: MemoryOrchestratorService
      group: pc2
      address: 192.168.100.17
      port: 7140
      kind: main
      ok: false
      verdict: null
      message: null
      stage_reached: resolve
      failed_stage: tcp
      reason: connection refused
      detail: null
      resolved_address: null
      zmtp: null
      rtt_ms: null
      reply: null
      elapsed_ms: 0.6
  contains:
    name:
      description: The endpoint's name, C(ADDRESS:PORT) when none was given.
      returned: always
      type: str
      sample: MemoryOrchestratorService
    group:
      description: The endpoint's O(endpoints[].group), or V(null).
      returned: always
      type: str
      sample: pc2
    address:
      description: The address as given.
      returned: always
      type: str
      sample: 192.168.100.17
    port:
      description: The port.
      returned: always
      type: int
      sample: 7140
    kind:
      description: V(main), V(health) or V(greeting).
      returned: always
      type: str
      sample: main
    ok:
      description: Whether the endpoint passed, that is its verdict is V(healthy), V(degraded) or V(reachable).
      returned: always
      type: bool
      sample: true
    verdict:
      description:
        - V(healthy), V(degraded) or V(failing) for a judged reply (health sockets, strict links);
          V(reachable) for a link whose peer gave a well-formed reply; V(null) when a stage before the reply failed.
      returned: always
      type: str
      sample: degraded
    message:
      description: The agent's own words from its reply (its C(message) or C(error)), V(null) if it gave none.
      returned: always
      type: str
      sample: "Unknown action: health_check"
    stage_reached:
      description: The last stage that passed (V(resolve), V(tcp), V(zmtp), V(reply), V(status)), V(null) if none did.
      returned: always
      type: str
      sample: status
    failed_stage:
      description: The stage that failed, V(null) when the endpoint is healthy.
      returned: always
      type: str
      sample: tcp
    reason:
      description: Why the stage failed, in plain words; V(null) when healthy.
      returned: always
      type: str
      sample: connection refused
    detail:
      description: Extra detail on the failure when there is any, for example what a non-ZMQ peer sent.
      returned: always
      type: str
      sample: no reply within 3s
    resolved_address:
      description: The IP address the TCP connection was made to.
      returned: always
      type: str
      sample: 192.168.100.17
    zmtp:
      description: What the peer's ZMTP greeting said; V(null) if the C(zmtp) stage did not pass.
      returned: always
      type: dict
      contains:
        version:
          description: ZMTP protocol version.
          returned: when the peer sent it
          type: str
          sample: "3.1"
        mechanism:
          description: The peer's security mechanism.
          returned: when the peer sent it
          type: str
          sample: "NULL"
        as_server:
          description: The as-server flag of the peer's greeting (libzmq always sends V(false)).
          returned: when the peer sent it
          type: bool
          sample: false
        socket_type:
          description:
            - The peer's ZMQ socket type from its READY command.
            - Only learnt from peers without CURVE security; V(null) otherwise.
          returned: when the peer sent it
          type: str
          sample: REP
      sample: {"version": "3.1", "mechanism": "NULL", "as_server": false, "socket_type": "REP"}
    rtt_ms:
      description: Request/reply round-trip times in milliseconds over the successful attempts; V(null) if none.
      returned: always
      type: dict
      contains:
        min:
          description: Fastest round trip.
          returned: always
          type: float
          sample: 0.21
        median:
          description: Median round trip.
          returned: always
          type: float
          sample: 0.25
        max:
          description: Slowest round trip.
          returned: always
          type: float
          sample: 0.4
      sample: {"min": 0.21, "median": 0.25, "max": 0.4}
    reply:
      description: The last JSON reply, V(null) if there was none.
      returned: always
      type: dict
      sample:
        status: ok
        ready: true
        initialized: true
        message: Agent is healthy
        timestamp: "2025-01-01T12:00:00"
        uptime: 3600.5
        active_threads: 4
    elapsed_ms:
      description: Wall time spent checking this endpoint.
      returned: always
      type: float
      sample: 4.2
containers:
  description:
    - With O(containers), per container what a call with that O(container) and its endpoints returns
      (RV(endpoints), the counts, RV(summary), RV(elapsed_s) and C(msg)), with C(failed=true) where that call
      would fail.
    - A container whose checks could not run has only C(failed), C(msg) naming the container, C(changed) and RV(elapsed_s).
  returned: with O(containers)
  type: dict
  sample:
    model-manager:
      changed: false
      endpoints: []
      ok_count: 0
      degraded_count: 0
      failed_count: 0
      summary: []
      elapsed_s: 0.41
      msg: 0 of 0 ZMQ endpoints ok
    memory-system:
      changed: false
      failed: true
      msg: "could not run the ZMQ checks inside container memory-system (rc=125): Error: no such container"
      elapsed_s: 0.05
error_count:
  description: With O(containers), the number of containers whose checks could not run.
  returned: with O(containers)
  type: int
  sample: 0
elapsed_s:
  description: Wall time of the checks in seconds (of all containers together with O(containers)).
  returned: always
  type: float
  sample: 0.42
ok_count:
  description: Number of endpoints that passed (healthy, degraded or reachable); of all containers with O(containers).
  returned: always
  type: int
  sample: 5
degraded_count:
  description: Number of endpoints whose agent says it is degraded (counted in RV(ok_count) too).
  returned: always
  type: int
  sample: 1
failed_count:
  description: Number of endpoints that failed a stage.
  returned: always
  type: int
  sample: 1
summary:
  description:
    - One line per broken link, naming the endpoint, the stage that failed and why.
    - With O(containers), each line starts with the container, and a container whose checks could not run adds its message.
  returned: always
  type: list
  elements: str
  sample:
    - "MemoryOrchestratorService 192.168.100.17:7140 (main): tcp failed: connection refused"
"""

import inspect
import json
import re
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ai_system.containers.plugins.module_utils.zmq_health import (
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


def _health_source() -> str:
    """Source text of the zmq_health module_utils, to run inside a container."""
    health = sys.modules[run_checks.__module__]
    try:
        return inspect.getsource(health)
    except (OSError, TypeError):
        path = getattr(health, "__file__", None)
        if not path:
            raise ZmqCheckError("cannot read the source of %s to run it in a container" % health.__name__)
        with open(path, encoding="utf-8") as handle:
            return handle.read()


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
        result = _run_in_container(module, podman or _podman(module), container, document)
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


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        required_one_of=REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    if module.params["containers"] is not None:
        try:
            result = run_zmq_checks(module)
        except ZmqCheckError as exc:
            module.fail_json(msg=exc.msg, changed=False)
        if result["error_count"] or (result["failed_count"] and module.params["fail_on_error"]):
            module.fail_json(msg="\n".join(result["summary"]), **result)
        msg = "%d of %d ZMQ endpoints ok in %d containers" % (
            result["ok_count"],
            result["ok_count"] + result["failed_count"],
            len(result["containers"]),
        )
        if result["degraded_count"]:
            msg += " (%d degraded)" % result["degraded_count"]
        module.exit_json(msg=msg, **result)
    try:
        result = run_zmq_check(module)
    except ZmqCheckError as exc:
        extra = {"exception": exc.exception} if exc.exception else {}
        module.fail_json(msg=exc.msg, changed=False, **extra)
    ended = outcome(result, module.params["fail_on_error"])
    if ended.pop("failed", False):
        module.fail_json(**ended)
    module.exit_json(**ended)


if __name__ == "__main__":
    main()
