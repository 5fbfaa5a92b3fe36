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
  - Stops the services of unit files that were removed, runs C(systemctl daemon-reload) once
    when asked, restarts only the services whose unit file, endpoint map or secret changed,
    starts every service that does not run, and waits, bounded, until every unit is active,
    its container runs and, when the plan gives it a health check, reports healthy.
  - Start order is systemd's, from the units' C(Requires=)/C(After=); with C(Notify=healthy) a
    dependent starts only once its dependencies are healthy.
  - Each poll of the wait reads every unit with one C(systemctl show) and every container with
    one C(podman container inspect), and judges each unit the way
    M(ai_system.containers.unit_health) does, except that a unit that may still settle
    (activating, its container starting, its health check starting or unhealthy, which
    C(HealthOnFailure=kill) answers with a restart) is still waited for.
  - The wait ends early, failed, when no unit is left to wait for and one is failed, that is
    systemd gave up on it, it is not found or masked, it stays inactive because a unit it
    depends on failed, or systemd restarted it 3 times since the wait began.
  - When the wait fails, the message names each group that did not become healthy, what is
    wrong with it and the last lines of its journal.
options:
  units:
    description: The host's units in start order, as the plan returns them (C(plan.units)).
    type: list
    elements: dict
    required: true
  changed_files:
    description: Unit and config file names written in this run (from M(ai_system.containers.file_set)).
    type: list
    elements: str
    default: []
  changed_secrets:
    description: Names of secrets whose value changed in this run.
    type: list
    elements: str
    default: []
  removed_files:
    description: Unit file names removed in this run; their services are stopped.
    type: list
    elements: str
    default: []
  daemon_reload:
    description: Run C(systemctl daemon-reload) before anything is started.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for every unit to be active and healthy.
    type: int
    default: 300
  log_lines:
    description: Journal lines reported for each unit that did not become healthy.
    type: int
    default: 20
attributes:
  check_mode:
    description: Reports what would be stopped, restarted and started, and changes nothing.
    support: full
  diff_mode:
    description: Unit states are not files; there is no diff.
    support: none
  platform:
    description: Hosts with systemd and Podman.
    support: full
    platforms: posix
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Start every group, restart what changed, wait until healthy
  ai_system.containers.stack_units:
    units: "{{ stack_host_plan.units }}"
    changed_files: "{{ units_written.written + configs_written.written }}"
    removed_files: "{{ units_written.removed }}"
    daemon_reload: "{{ units_written.changed }}"
    timeout: 300
"""

RETURN = r"""
stopped:
  description: Services stopped because their unit was removed.
  returned: always
  type: list
  elements: str
  sample: ["ai-old-group.service"]
restarted:
  description: Services restarted because their unit, endpoint map or secret changed.
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
  description: Whether systemd was reloaded.
  returned: always
  type: bool
  sample: true
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
logs:
  description: The last O(log_lines) journal lines of each group that did not become healthy.
  returned: when the wait failed
  type: dict
  sample: {core-services: ["Error: image not known"]}
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.unit_control import (
    judge_poll, plan_actions, removed_services, restart_counts, restart_set,
)
from ansible_collections.ai_system.containers.plugins.module_utils.unit_state import (
    FAILED, WAITING, read_systemd, read_unit_states,
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
POLL_SECONDS = 2


class UnitController:
    """Runs systemctl/podman/journalctl through the module."""

    def __init__(self, module):
        self.module = module
        self.systemctl = module.get_bin_path("systemctl", required=True)
        self.podman = module.get_bin_path("podman", required=True)
        self.journalctl = module.get_bin_path("journalctl")

    def runner(self, argv):
        return self.module.run_command(argv, environ_update=C_LOCALE, expand_user_and_vars=False)

    def run(self, argv):
        rc, out, err = self.runner(argv)
        if rc != 0:
            detail = err.strip() or out.strip()
            self.module.fail_json(msg="%s failed (rc %d): %s" % (" ".join(argv), rc, detail))
        return out

    def states(self, services):
        """``systemctl show`` properties by service, one call for all."""
        blocks, error = read_systemd(self.runner, self.systemctl, services)
        if error:
            self.module.fail_json(msg=error)
        return dict(zip(services, blocks))

    def read(self, units):
        """The state of every unit and its container: one systemctl, one podman call."""
        states, error = read_unit_states(self.runner, self.systemctl, self.podman,
                                         [(u["service"], u["container"]) for u in units])
        if error:
            self.module.fail_json(msg=error)
        return states

    def journal(self, service, lines):
        if not self.journalctl:
            return []
        dummy, out, dummy_err = self.runner([self.journalctl, "-u", service, "-n", str(lines),
                                             "--no-pager", "-o", "cat"])
        return out.splitlines()[-lines:]


def report_entry(unit, state, judgement):
    """One entry of RV(units)."""
    health = (state.get("health") or "") if state.get("container_exists") else "absent"
    return {"service": unit["service"], "group": unit["group"],
            "active": state.get("active_state") or "", "sub": state.get("sub_state") or "",
            "health": health, "restarts": state.get("restarts") or 0,
            "verdict": judgement.verdict, "problem": judgement.problem,
            "state": judgement.description}


def wait_healthy(ctl, units, timeout, log_lines):
    """Poll until every unit is ok; fail naming the ones that are not."""
    deadline = time.monotonic() + timeout
    first = None
    while True:
        states = ctl.read(units)
        if first is None:
            first = restart_counts(states)
        report = [report_entry(unit, state, judgement) for unit, state, judgement
                  in zip(units, states, judge_poll(units, states, first))]
        failed = [e for e in report if e["verdict"] == FAILED]
        pending = [e for e in report if e["verdict"] == WAITING]
        if not pending and not failed:
            return report
        if time.monotonic() >= deadline or (failed and not pending):
            bad = failed + pending
            lines = ["%d group(s) did not become healthy within %d s:" % (len(bad), timeout)]
            logs = {}
            for entry in bad:
                lines.append("- %s (%s): %s" % (entry["group"], entry["service"], entry["problem"]))
                logs[entry["group"]] = ctl.journal(entry["service"], log_lines)
                lines.extend("    | %s" % line for line in logs[entry["group"]])
            ctl.module.fail_json(msg="\n".join(lines), units=report, logs=logs,
                                 unhealthy=[e["group"] for e in bad])
        time.sleep(POLL_SECONDS)


def apply_units(module):
    p = module.params
    ctl = UnitController(module)
    units = p["units"]
    for unit in units:
        for key in ("service", "group", "container", "unit_file"):
            if not unit.get(key):
                module.fail_json(msg="units entry %r has no %s; pass the plan's units" %
                                 (unit.get("group") or unit, key))
    result = {"changed": False, "stopped": [], "restarted": [], "started": [],
              "daemon_reloaded": False, "units": []}

    gone = removed_services(p["removed_files"])
    live = ctl.states(gone)
    result["stopped"] = [s for s in gone
                         if live.get(s, {}).get("ActiveState") not in (None, "", "inactive")]
    result["daemon_reloaded"] = bool(p["daemon_reload"])
    restart = restart_set(units, p["changed_files"], p["changed_secrets"])
    if not module.check_mode:
        # Stop removed units while systemd still knows them, then reload.
        if result["stopped"]:
            ctl.run([ctl.systemctl, "stop"] + result["stopped"])
        if p["daemon_reload"]:
            ctl.run([ctl.systemctl, "daemon-reload"])
    states = ctl.states([u["service"] for u in units])
    to_start, to_restart = plan_actions(units, states, restart)
    result["started"], result["restarted"] = to_start, to_restart
    result["changed"] = bool(result["stopped"] or result["daemon_reloaded"] or to_start or
                             to_restart)
    if module.check_mode:
        return result
    if to_restart:
        ctl.run([ctl.systemctl, "restart", "--no-block"] + to_restart)
    if to_start:
        ctl.run([ctl.systemctl, "start", "--no-block"] + to_start)
    result["units"] = wait_healthy(ctl, units, p["timeout"], p["log_lines"])
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "dict", "required": True},
            "changed_files": {"type": "list", "elements": "str", "default": []},
            # Names of secrets, never their values.
            "changed_secrets": {"type": "list", "elements": "str", "default": [],
                                "no_log": False},
            "removed_files": {"type": "list", "elements": "str", "default": []},
            "daemon_reload": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 300},
            "log_lines": {"type": "int", "default": 20},
        },
        supports_check_mode=True,
    )
    module.exit_json(**apply_units(module))


if __name__ == "__main__":
    main()
