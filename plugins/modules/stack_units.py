#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_units
short_description: Bring a host's Quadlet units to their wanted state and wait until healthy
version_added: "0.1.0"
description:
  - Brings every unit of O(units) to run what its files and secrets on the host say, removes
    what is no longer the plan's, and waits, bounded, until every unit is active, its container
    runs and, when the plan gives it a health check, reports healthy.
  - >-
    A record in O(state_file) keeps, for every unit that came up healthy, the inputs it runs:
    the sha256 of its unit file (under O(quadlet_dir)), of its endpoint maps (under
    O(config_dir)) and of its watched host files, and the identity of each of its secrets
    (Podman's ID and update time, so a re-created secret counts as changed). Every run reads
    those inputs from the host and compares. A unit whose inputs differ from its record, or that
    has no record, is stale. Stale units are restarted when they run and started when they do
    not, after one C(systemctl daemon-reload). A unit is recorded again only once it is healthy,
    with an atomic write. So a run that dies between writing the files and restarting the units
    leaves them stale, and the next run restarts them although it writes nothing.
  - A unit that runs but has no record (the first run with this record, or a record lost) is
    restarted once, since what it runs cannot be known.
  - O(changed_files) and O(changed_secrets) still force a restart of the units they touch, even
    when the record matches.
  - >-
    Orphans are removed: containers with the label C(io.ai-system.managed-by=ai_system.containers)
    that are not the plan's (a name no unit has, or a plan name run by another unit, as after a
    change of the unit prefix) are stopped through their unit (C(PODMAN_SYSTEMD_UNIT)) and removed
    with C(podman rm -f). Loaded units of C(.container) files in O(quadlet_dir) that are not the
    plan's are stopped when the file carries the collection's marker (its file is then removed
    too) or when the unit is known to be the collection's (its container's label, the record, its
    generated unit) and its file is gone.
  - Services of the unit files removed in this run (O(removed_files)) are stopped before the
    reload, while systemd still knows them.
  - Start order is systemd's, from the units' C(Requires=)/C(After=); with C(Notify=healthy) a
    dependent starts only once its dependencies are healthy.
  - Each poll of the wait reads every unit with one C(systemctl show) and every container with
    one C(podman container inspect), and judges each unit the way
    M(ai_system.containers.unit_health) does, except that a unit that may still settle
    (activating, its container starting, its health check starting or unhealthy, which
    C(HealthOnFailure=kill) answers with a restart, or a restart not begun yet) is still waited
    for.
  - The wait ends early, failed, when no unit is left to wait for and one is failed, that is
    systemd gave up on it, it is not found or masked, it stays inactive because a unit it
    depends on failed, or systemd restarted it 3 times since the wait began.
  - When the wait fails, the message names each group that did not become healthy, what is
    wrong with it and the last lines of its journal; the units that did become healthy are
    recorded all the same.
  - Every name passed to C(systemctl) and C(podman) is checked first and follows C(--); a name
    that starts with C(-) is refused.
extends_documentation_fragment:
  - ai_system.containers.plan_units
options:
  units:
    description:
      - The host's units in start order, as the plan returns them (C(plan.units)). Each has every
        field of the plan's unit (its argument spec is derived from the plan's C(UnitPlan)), so a
        unit that lacks one, or has one the plan does not know, is refused before anything runs.
    required: true
  changed_files:
    description:
      - Unit and config file names written in this run (from M(ai_system.containers.file_set));
        the units they belong to are restarted even when their record matches.
    type: list
    elements: str
    default: []
  changed_secrets:
    description: Names of secrets whose value changed in this run; their units are restarted.
    type: list
    elements: str
    default: []
  removed_files:
    description: Unit file names removed in this run; their services are stopped.
    type: list
    elements: str
    default: []
  daemon_reload:
    description:
      - Run C(systemctl daemon-reload) before anything is started. It also runs, once, whenever a
        unit is stale or an orphan or removed unit was dealt with.
    type: bool
    default: false
  quadlet_dir:
    description: Directory of the Quadlet files (the plan's C(quadlet_dir)).
    type: path
    default: /etc/containers/systemd
  config_dir:
    description: Directory of the endpoint maps (the plan's C(config_dir)).
    type: path
    default: /etc/ai-system
  state_file:
    description:
      - The record of what each unit runs. Its directory is created, mode C(0700), when missing;
        the file is written with mode C(0600).
    type: path
    default: /var/lib/ai-system/applied.json
  timeout:
    description: Seconds to wait for every unit to be active and healthy.
    type: int
    default: 300
  log_lines:
    description: Journal lines reported for each unit that did not become healthy.
    type: int
    default: 20
  wait_slice:
    description:
      - Seconds this call waits at most; V(0) waits until the wait is done (O(timeout)).
      - When the units are not all healthy by then and none has failed for good, the call
        returns RV(done=false), RV(progress) and RV(wait_state); a call with O(wait_only) goes on
        with that wait. The record of healthy units is written, and a failure reported, by the
        call that ends the wait.
    type: int
    default: 0
  wait_only:
    description:
      - Only go on with the wait of O(wait_state), for at most O(wait_slice) seconds; nothing is
        stopped, removed, reloaded, started or restarted. O(timeout) is the one of the first call.
      - O(units), O(quadlet_dir), O(config_dir) and O(state_file) must be those of the first call.
    type: bool
    default: false
  wait_state:
    description: The RV(wait_state) of the call before; required with O(wait_only).
    type: dict
attributes:
  check_mode:
    description: >-
      Reports what would be stopped, removed, restarted and started, and why each unit is stale;
      changes nothing, writes no record.
    support: full
  diff_mode:
    description: Unit states are not files; there is no diff.
    support: none
  platform:
    description: Hosts with systemd and Podman.
    support: full
    platforms: posix
notes:
  - Quadlet units are generated, so they cannot be disabled; an orphan unit is stopped and its
    file removed, and the reload makes systemd forget it.
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Start every group, restart what changed, wait until healthy
  ai_system.containers.stack_units:
    units: "{{ stack_host_plan.units }}"
    quadlet_dir: "{{ stack_host_plan.quadlet_dir }}"
    config_dir: "{{ stack_host_plan.config_dir }}"
    changed_files: "{{ units_written.written + configs_written.written }}"
    removed_files: "{{ units_written.removed }}"
    daemon_reload: "{{ units_written.changed }}"
    timeout: 300
    wait_slice: 10
  register: units_started

- name: Wait on, reporting every 10 s (repeat while not done)
  ai_system.containers.stack_units:
    units: "{{ stack_host_plan.units }}"
    quadlet_dir: "{{ stack_host_plan.quadlet_dir }}"
    config_dir: "{{ stack_host_plan.config_dir }}"
    wait_only: true
    wait_state: "{{ units_started.wait_state }}"
    wait_slice: 10
  when: not units_started.done
"""

RETURN = r"""
stopped:
  description: Services stopped because their unit file was removed in this run.
  returned: always
  type: list
  elements: str
  sample: ["ai-old-group.service"]
removed_orphans:
  description:
    - Containers and units that were not the plan's and were stopped or removed (or would be,
      in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{container: old-group, service: ai-old-group.service,
            unit_file: /etc/containers/systemd/ai-old-group.container}]
  contains:
    container:
      description: The container removed, V(null) for a unit without one.
      returned: always
      type: str
      sample: old-group
    service:
      description: The unit stopped or that ran the container, V(null) when none is known.
      returned: always
      type: str
      sample: ai-old-group.service
    unit_file:
      description: The unit's Quadlet file removed, V(null) when none was.
      returned: always
      type: str
      sample: /etc/containers/systemd/ai-old-group.container
stale:
  description:
    - Each unit that did not run what its inputs say, with why (C(unit file changed),
      C(groups/core/endpoints.json changed), C(secret key changed), C(no record of what it runs)).
  returned: always
  type: dict
  sample: {ai-core-services.service: ["unit file changed"]}
restarted:
  description: Services restarted because they were stale or their files or secrets changed.
  returned: always
  type: list
  elements: str
  sample: ["ai-utilities-support.service"]
started:
  description: Services started because they were not running.
  returned: always
  type: list
  elements: str
  sample: ["ai-core-services.service"]
daemon_reloaded:
  description: Whether systemd was reloaded (or would be, in check mode).
  returned: always
  type: bool
  sample: true
recorded:
  description: Whether the record in O(state_file) was written.
  returned: always
  type: bool
  sample: false
units:
  description:
    - Final state and verdict of each unit, in the order of O(units); empty in check mode.
    - When the wait fails, the failed task's result holds it too.
  returned: always
  type: list
  elements: dict
  sample: [{service: ai-core-services.service, group: core-services, active: active,
            sub: running, health: healthy, restarts: 0, verdict: ok, problem: null,
            state: "active/running, health healthy"}]
  contains:
    service:
      description: The unit's service.
      returned: always
      type: str
      sample: ai-core-services.service
    group:
      description: The group the unit runs.
      returned: always
      type: str
      sample: core-services
    active:
      description: systemd C(ActiveState).
      returned: always
      type: str
      sample: active
    sub:
      description: systemd C(SubState).
      returned: always
      type: str
      sample: running
    health:
      description: >-
        The container's health check status, empty without one, V(absent) when the container
        does not exist.
      returned: always
      type: str
      sample: healthy
    restarts:
      description: How often systemd restarted the unit (C(NRestarts)).
      returned: always
      type: int
      sample: 0
    verdict:
      description:
        - V(ok), or when the wait failed, V(waiting) (not healthy yet when the wait timed out) or
          V(failed) (will not become healthy).
      returned: always
      type: str
      sample: ok
    problem:
      description: What is wrong with the unit, in one line; V(null) when it is ok.
      returned: always
      type: str
      sample: "container core-services health check has not passed yet (starting)"
    state:
      description: The unit's state in a few words.
      returned: always
      type: str
      sample: "active/running, health healthy"
unhealthy:
  description: Groups that did not become healthy.
  returned: when the wait failed
  type: list
  elements: str
  sample: ["core-services"]
done:
  description:
    - Whether the wait is over (every unit healthy, or the task failed); V(false) only when
      O(wait_slice) ended this call first. Always V(true) in check mode.
  returned: always
  type: bool
  sample: false
progress:
  description: How far the wait is, in one line, as of this call's last poll.
  returned: always
  type: str
  sample: >-
    4/6 healthy; waiting for pc2-ai-models (starting, 34 s),
    pc2-user-services (activating, 12 s)
hastened:
  description:
    - The containers whose health check this call ran early, with how many times.
    - Podman runs a container's first check as it starts, mostly before its agents listen, and the next one
      a whole C(HealthInterval) later; the unit (C(Notify=healthy)) and every unit that requires it wait for
      that. While a container the wait waits for is running and still C(starting) with no failure counted
      (C(FailingStreak) 0, as inside its start period), the wait runs C(podman healthcheck run) for it, in
      the background and at most every 4 seconds, so a group is seen healthy a few seconds after its agents
      listen. Once a failure counts, only the container's own timer runs its checks.
  returned: always
  type: dict
  sample: {pc2-ai-models: 2, pc2-user-services: 1}
wait_state:
  description: What a call with O(wait_only) needs to go on with the wait; opaque.
  returned: when RV(done) is false
  type: dict
  sample: {started: 1764518400.0, deadline: 1764518700.0, timeout: 300, restarted_after: {},
           first_restarts: {ai-core-services.service: 0},
           since: {ai-core-services.service: [starting, 1764518400.0]}}
logs:
  description: The last O(log_lines) journal lines of each group that did not become healthy.
  returned: when the wait failed
  type: dict
  sample: {core-services: ["Error: image not known"]}
listening:
  description:
    - >-
      For each group that did not become healthy while its container runs and has an endpoint map, what
      the container listens on, read from its network namespace (C(/proc/<PID>/net/tcp) and C(tcp6) of
      the container's process, so any image, distroless too), and its agents' declared ports that nothing
      listens on (a main port bound to loopback only counts as silent). The message says it as
      C(SystemDigitalTwin: nothing on 8120; the container listens on 7120, 7121).
  returned: when the wait failed
  type: dict
  sample: {core-services: {ports: [7121, 8121], listeners: [{address: 0.0.0.0, port: 7121}],
           silent: {SystemDigitalTwin: [7120, 8120]}, error: null,
           lines: ['SystemDigitalTwin: nothing on 7120, 8120; the container listens on 7121, 8121']}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish
from ansible_collections.ai_system.containers.plugins.module_utils.host.stack_units_run import (
    ARGUMENT_SPEC, REQUIRED_IF, run,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF,
                           supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
