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
    listening:
      description:
        - When nothing answered on the port (C(tcp) failed, C(connection refused) or C(timed out)) and it is a
          port of a container of this host (a loopback address in the checking container, or a same-host peer
          addressed by container name), what that container listens on, read from its process's
          C(/proc/<PID>/net/tcp) and C(tcp6) on the host; also a line of RV(summary).
      returned: when nothing answered on a port of a container of this host
      type: dict
      sample:
        container: core-services
        ports: [7121, 8121]
        listeners: [{address: 0.0.0.0, port: 7121}, {address: "::", port: 8121}]
        error: null
        text: "SystemDigitalTwin: nothing on 8120; the container listens on 7121, 8121"
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
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_run import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
    run,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        required_one_of=REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    finish(module, run(module))


if __name__ == "__main__":
    main()
