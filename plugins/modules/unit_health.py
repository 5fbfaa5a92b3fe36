#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: unit_health
short_description: Read the systemd state of the groups' units and the health of their containers
version_added: "0.1.0"
description:
  - For every unit in O(units), reads its systemd state with one C(systemctl show) (load state, active
    and sub state, result, restart count, when it became active) and, when the unit runs a container,
    that container's state and health check status with one C(podman container inspect).
  - >-
    Judges each unit. A unit passes when it is loaded and active, its container exists and runs, and
    its health check, when it has one, is C(healthy). Otherwise RV(units[].problem) says what is wrong,
    for example C(unit is failed (failed), result exit-code, restarted 5 times) or
    C(container ai-models is unhealthy (3 failed checks in a row): ...).
  - >-
    It is the judgement M(ai_system.containers.stack_units) waits on after a deploy, with the same
    problem texts; what that wait still waits for (a unit still activating, a health check still
    starting) does not pass here.
  - Only reads; it never starts, stops or changes anything.
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Linux hosts with systemd, and Podman for units that run a container.
options:
  units:
    description:
      - The units to read, in the order the results should have.
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description:
          - The systemd unit, for example C(ai-pc2-redis.service).
        type: str
        required: true
      container:
        description:
          - The container the unit runs (the Quadlet C(ContainerName)). Leave it out for a unit without one.
        type: str
      healthcheck:
        description:
          - Whether the unit defines a health check. When V(true), a running container without one is a
            problem (the unit file and the container disagree).
          - Leave it out to take the container's health check, if any, as it is.
        type: bool
  scope:
    description:
      - V(system) reads the system manager's units (Quadlet files in C(/etc/containers/systemd)), V(user)
        the calling user's (C(systemctl --user), rootless Podman).
    type: str
    choices: [system, user]
    default: system
  systemctl_path:
    description:
      - systemctl executable, a name looked up in E(PATH) or an absolute path.
    type: str
    default: systemctl
  podman_path:
    description:
      - Podman executable, a name looked up in E(PATH) or an absolute path.
      - Only needed when a unit names a O(units[].container).
    type: str
    default: podman
  fail_on_error:
    description:
      - Fail the task when any unit does not pass, with one line per unit as the message.
      - When V(false), the task succeeds and RV(failed_count) and RV(summary) report the units that did not pass.
    type: bool
    default: true
notes:
  - Commands run with C(LANG=C) and C(LC_ALL=C).
  - Quadlet restarts a failed container by restarting its unit, so the restart count is systemd's
    C(NRestarts); Podman's own restart count stays 0.
  - RV(units[].uptime_s) comes from C(ActiveEnterTimestampMonotonic), so it is correct even when the
    wall clock was changed since the unit started.
seealso:
  - module: ai_system.containers.stack_units
  - module: ai_system.containers.zmq_check
  - module: ai_system.containers.stack_report
"""

EXAMPLES = r"""
- name: Read the state of two units and their containers
  ai_system.containers.unit_health:
    units:
      - service: ai-pc2-redis.service
        container: pc2-redis
      - service: ai-pc2-memory-system.service
        container: pc2-memory-system
  register: units

- name: Read every unit of the host's plan without failing, for a report
  ai_system.containers.unit_health:
    units: >-
      {{ dict(plan.units | map(attribute='service') | zip(plan.units | map(attribute='container')))
         | dict2items(key_name='service', value_name='container') }}
    fail_on_error: false
  register: units

- name: Show the units that are not healthy
  ansible.builtin.debug:
    var: units.summary
  when: units.failed_count > 0
"""

RETURN = r"""
units:
  description: One entry per unit, in the order of O(units).
  returned: when the units could be read
  type: list
  elements: dict
  sample:
    - service: ai-pc2-redis.service
      container: pc2-redis
      ok: true
      problem: null
      load_state: loaded
      active_state: active
      sub_state: running
      result: success
      unit_file_state: generated
      restarts: 0
      main_pid: 4242
      exit_status: 0
      active_since: Sun 2026-11-29 16:15:00 UTC
      active_enter_monotonic_us: 73422134812
      uptime_s: 3600.4
      container_exists: true
      container_id: 7c4fc9a923b2
      container_state: running
      container_started_at: "2026-11-29T16:14:58.764581173Z"
      container_exit_code: 0
      container_oom_killed: false
      health: healthy
      health_failing_streak: 0
      health_output: PONG
  contains:
    service:
      description: The unit as given.
      returned: always
      type: str
      sample: ai-pc2-redis.service
    container:
      description: The container as given, V(null) when none was.
      returned: always
      type: str
      sample: pc2-redis
    ok:
      description: Whether the unit passed (loaded, active, container running and healthy).
      returned: always
      type: bool
      sample: true
    problem:
      description: What is wrong with the unit, in one line; V(null) when it passed.
      returned: always
      type: str
      sample: "unit is failed (failed), result exit-code, restarted 5 times"
    load_state:
      description: systemd C(LoadState), for example V(loaded) or V(not-found).
      returned: always
      type: str
      sample: loaded
    active_state:
      description: systemd C(ActiveState), for example V(active), V(activating), V(failed) or V(inactive).
      returned: always
      type: str
      sample: active
    sub_state:
      description: systemd C(SubState), for example V(running), V(start) or V(auto-restart).
      returned: always
      type: str
      sample: running
    result:
      description: systemd C(Result) of the last run, for example V(success), V(exit-code) or V(timeout).
      returned: always
      type: str
      sample: success
    unit_file_state:
      description: systemd C(UnitFileState); Quadlet units are V(generated).
      returned: always
      type: str
      sample: generated
    restarts:
      description: How often systemd restarted the unit (C(NRestarts)); V(null) when systemd does not report it.
      returned: always
      type: int
      sample: 0
    main_pid:
      description: The unit's main process, V(null) when it has none.
      returned: always
      type: int
      sample: 4242
    exit_status:
      description: Exit status of the unit's main process (C(ExecMainStatus)).
      returned: always
      type: int
      sample: 0
    active_since:
      description: When the unit last became active (C(ActiveEnterTimestamp)), V(null) if never.
      returned: always
      type: str
      sample: Sun 2026-11-29 16:15:00 UTC
    active_enter_monotonic_us:
      description: The same moment on the monotonic clock, in microseconds since boot.
      returned: always
      type: int
      sample: 73422134812
    uptime_s:
      description: Seconds the unit has been active, V(null) when it is not active.
      returned: always
      type: float
      sample: 3600.4
    container_exists:
      description: Whether Podman knows the container; V(false) also when no container was given.
      returned: always
      type: bool
      sample: true
    container_id:
      description: Short ID of the container.
      returned: always
      type: str
      sample: 7c4fc9a923b2
    container_state:
      description: Podman's state of the container, for example V(running), V(exited) or V(created).
      returned: always
      type: str
      sample: running
    container_started_at:
      description: When the container last started, as Podman reports it (C(State.StartedAt)).
      returned: always
      type: str
      sample: "2026-11-29T16:14:58.764581173Z"
    container_exit_code:
      description: Exit code of the container's last run.
      returned: always
      type: int
      sample: 0
    container_oom_killed:
      description: Whether the container was killed for running out of memory.
      returned: always
      type: bool
      sample: false
    health:
      description: The container's health check status, V(healthy), V(unhealthy) or V(starting); V(null) without one.
      returned: always
      type: str
      sample: healthy
    health_failing_streak:
      description: Health checks failed in a row.
      returned: always
      type: int
      sample: 0
    health_output:
      description: Output of the last health check (at most 300 characters).
      returned: always
      type: str
      sample: "FAIL 127.0.0.1:8120 (health): tcp failed: connection refused"
ok_count:
  description: Number of units that passed.
  returned: when the units could be read
  type: int
  sample: 6
failed_count:
  description: Number of units that did not pass.
  returned: when the units could be read
  type: int
  sample: 0
summary:
  description: One line per unit that did not pass, naming the unit and its problem.
  returned: when the units could be read
  type: list
  elements: str
  sample:
    - "ai-pc2-memory-system.service: container pc2-memory-system is unhealthy (3 failed checks in a row)"
"""
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish
from ansible_collections.ai_system.containers.plugins.module_utils.verify.unit_health_run import ARGUMENT_SPEC, run


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
