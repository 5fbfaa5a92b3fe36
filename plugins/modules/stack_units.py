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
options:
  units:
    description:
      - The host's units in start order, as the plan returns them (C(plan.units)); each needs
        C(service), C(group), C(container) and C(unit_file), and may have C(config_files)
        (relative to O(config_dir)), C(restart_on_change) (absolute paths), C(secrets),
        C(depends_on) and C(healthcheck).
    type: list
    elements: dict
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

import errno
import hashlib
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.atomic_file import write_text
from ansible_collections.ai_system.containers.plugins.module_utils.listen_ports import (
    as_result, container_listeners, endpoint_agents, silent_agents, silent_text,
)
from ansible_collections.ai_system.containers.plugins.module_utils.quadlet import MANAGED_MARKER
from ansible_collections.ai_system.containers.plugins.module_utils.unit_control import (
    MANAGED_LABEL, MANAGED_VALUE, judge_poll, names_problem, orphan_containers, orphan_units,
    parse_record, plan_actions, progress_line, record_after, record_text, removable_container,
    removed_services, restart_counts, restart_set, stale_units, track_since, unit_inputs,
    units_problem, wait_state_problem,
)
from ansible_collections.ai_system.containers.plugins.module_utils.unit_state import (
    FAILED, OK, WAITING, first_line, name_problem, read_systemd, read_unit_states,
)

COMMAND_ENV = {"LANG": "C", "LC_ALL": "C", "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}
POLL_SECONDS = 2
# What is read of a loaded unit that may be an orphan.
ORPHAN_PROPERTIES = ("Id", "LoadState", "ActiveState", "SourcePath", "FragmentPath")
# Bytes of a file searched for the collection's marker or label.
MARKER_BYTES = 512
FRAGMENT_BYTES = 65536


def _digest(path):
    """sha256 of a file's bytes; None when it does not exist."""
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(65536), b""):
                sha.update(chunk)
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    return sha.hexdigest()


def _head(path, size):
    """The first ``size`` bytes of a file; None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except (IOError, OSError):
        return None


class UnitController:
    """Runs systemctl/podman/journalctl and reads the host's files through the module."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.systemctl = module.get_bin_path("systemctl", required=True)
        self.podman = module.get_bin_path("podman", required=True)
        self.journalctl = module.get_bin_path("journalctl")

    def runner(self, argv):
        return self.module.run_command(argv, environ_update=COMMAND_ENV,
                                       expand_user_and_vars=False)

    def run(self, argv):
        rc, out, err = self.runner(argv)
        if rc != 0:
            detail = err.strip() or out.strip()
            self.module.fail_json(msg="%s failed (rc %d): %s" % (" ".join(argv), rc, detail))
        return out

    def show(self, services, properties=None):
        """``systemctl show`` properties by service, one call for all."""
        if properties:
            blocks, error = read_systemd(self.runner, self.systemctl, services,
                                         properties=properties)
        else:
            blocks, error = read_systemd(self.runner, self.systemctl, services)
        if error:
            self.module.fail_json(msg=error)
        return dict(zip(services, blocks))

    def read(self, units, systemd=None):
        """The state of every unit and its container: one systemctl, one podman call
        (no systemctl call when ``systemd`` holds the units' properties just read)."""
        states, error = read_unit_states(self.runner, self.systemctl, self.podman,
                                         [(u["service"], u["container"]) for u in units],
                                         blocks=systemd)
        if error:
            self.module.fail_json(msg=error)
        return states

    def journal(self, service, lines):
        if not self.journalctl:
            return []
        dummy, out, dummy_err = self.runner([self.journalctl, "--unit=" + service, "-n",
                                             str(lines), "--no-pager", "-o", "cat"])
        return out.splitlines()[-lines:]

    # -- JSON from podman -------------------------------------------------------------
    def _json_list(self, argv, what, missing_ok=False):
        rc, out, err = self.runner(argv)
        if rc != 0 and not (missing_ok and "no such" in (err or "").lower()):
            self.module.fail_json(msg="%s failed (rc %d): %s" % (what, rc, first_line(err or out)))
        try:
            data = json.loads(out) if out.strip() else []
        except ValueError as exc:
            self.module.fail_json(msg="%s printed no JSON (rc %d): %s -- %s"
                                  % (what, rc, first_line(out), exc))
        if not isinstance(data, list):
            self.module.fail_json(msg="%s printed no JSON list (rc %d): %s"
                                  % (what, rc, first_line(out)))
        return data

    # -- the inputs of each unit ---------------------------------------------------------
    def digest(self, path):
        try:
            return _digest(path)
        except (IOError, OSError) as exc:
            self.module.fail_json(msg="cannot read %s: %s" % (path, exc.strerror or exc))

    def secret_ids(self, names):
        """{name: "ID@UpdatedAt"}, None for a secret that does not exist."""
        if not names:
            return {}
        listed = self._json_list([self.podman, "secret", "inspect", "--"] + list(names),
                                 "podman secret inspect", missing_ok=True)
        found = {}
        for item in listed:
            spec = item.get("Spec") if isinstance(item, dict) else None
            name = spec.get("Name") if isinstance(spec, dict) else None
            if isinstance(name, str) and isinstance(item.get("ID"), str):
                found[name] = "%s@%s" % (item["ID"], item.get("UpdatedAt") or
                                         item.get("CreatedAt") or "")
        return {name: found.get(name) for name in names}

    def wanted_inputs(self, units):
        p = self.params
        secrets = self.secret_ids(sorted({s for u in units for s in u.get("secrets") or ()}))
        wanted = {}
        for unit in units:
            wanted[unit["service"]] = unit_inputs(
                self.digest(os.path.join(p["quadlet_dir"], unit["unit_file"])),
                {c: self.digest(os.path.join(p["config_dir"], c))
                 for c in unit.get("config_files") or ()},
                {w: self.digest(w) for w in unit.get("restart_on_change") or ()},
                {s: secrets[s] for s in unit.get("secrets") or ()})
        return wanted

    # -- the record ----------------------------------------------------------------------
    def read_record(self):
        path = self.params["state_file"]
        try:
            with open(path, "r") as handle:
                text = handle.read()
        except (IOError, OSError, UnicodeDecodeError) as exc:
            if getattr(exc, "errno", None) == errno.ENOENT:
                return {}, None
            text, error = None, "cannot read it: %s" % exc
        else:
            error = None
        record, problem = parse_record(text)
        problem = problem or error
        if problem:
            self.module.warn("the record %s is not usable (%s): every unit is restarted once"
                             % (path, problem))
        return record, text

    def write_record(self, entries, current_text):
        """Write the record atomically when its text changes; whether it was written."""
        text = record_text(entries)
        if text == current_text or (current_text is None and not entries):
            return False
        path = self.params["state_file"]
        directory = os.path.dirname(path) or "."
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
                os.chmod(directory, 0o700)
            write_text(path, text, mode=0o600, durable=True)
        except (IOError, OSError) as exc:
            self.module.fail_json(msg="cannot write the record %s: %s" % (path, exc))
        return True

    # -- orphans -------------------------------------------------------------------------
    def managed_containers(self):
        return self._json_list([self.podman, "ps", "-a", "--filter",
                                "label=%s=%s" % (MANAGED_LABEL, MANAGED_VALUE), "--format",
                                "json"], "podman ps")

    def loaded_services(self):
        out = self.run([self.systemctl, "list-units", "--all", "--type=service", "--plain",
                        "--no-legend", "--full", "--no-pager"])
        names = []
        for line in out.splitlines():
            name = next((w for w in line.split() if w.endswith(".service")), None)
            if name and not name_problem("unit", name, "unit"):
                names.append(name)
        return names

    def _quadlet_source(self, path):
        """(source, state) of a unit's SourcePath: a .container file directly in quadlet_dir."""
        root = self.params["quadlet_dir"].rstrip("/") + "/"
        if not (path or "").startswith(root) or "/" in path[len(root):] \
                or not path.endswith(".container"):
            return None, None
        head = _head(path, MARKER_BYTES)
        if head is None:
            return path, "gone" if not os.path.lexists(path) else "foreign"
        return path, "ours" if MANAGED_MARKER.encode() in head else "foreign"

    def find_orphans(self, units, record, removed):
        """(orphan containers, orphan units), as unit_control decides them."""
        planned = {u["service"] for u in units}
        containers = [c for c in orphan_containers(units, self.managed_containers())
                      if c["service"] not in removed]
        labelled = {c["service"] for c in containers if c["service"]}
        names = sorted((set(self.loaded_services()) | set(record) | labelled)
                       - planned - set(removed))
        label = ("%s=%s" % (MANAGED_LABEL, MANAGED_VALUE)).encode()
        candidates = []
        for name, props in self.show(names, ORPHAN_PROPERTIES).items():
            source, source_state = self._quadlet_source(props.get("SourcePath"))
            known = name in record or name in labelled
            if not known and source_state == "gone":
                fragment = _head(props.get("FragmentPath") or "", FRAGMENT_BYTES)
                known = bool(fragment and label in fragment)
            candidates.append({"service": name, "active_state": props.get("ActiveState"),
                               "source": source, "source_state": source_state, "known": known})
        return containers, orphan_units(planned, candidates)


def report_entry(unit, state, judgement):
    """One entry of RV(units)."""
    health = (state.get("health") or "") if state.get("container_exists") else "absent"
    return {"service": unit["service"], "group": unit["group"],
            "active": state.get("active_state") or "", "sub": state.get("sub_state") or "",
            "health": health, "restarts": state.get("restarts") or 0,
            "verdict": judgement.verdict, "problem": judgement.problem,
            "state": judgement.description}


def wait_healthy(ctl, units, deadline, restarted_after, first=None, until=None, systemd=None):
    """Poll until every unit is ok or one will not be, or until ``until`` (epoch
    seconds) when given: (report, units not ok, first restart counts, done).
    ``systemd``: the units' systemd properties, just read, for the first poll."""
    while True:
        states = ctl.read(units, systemd)
        systemd = None
        if first is None:
            first = restart_counts(states)
        report = [report_entry(unit, state, judgement) for unit, state, judgement
                  in zip(units, states, judge_poll(units, states, first, restarted_after))]
        failed = [e for e in report if e["verdict"] == FAILED]
        pending = [e for e in report if e["verdict"] == WAITING]
        if not pending and not failed:
            return report, [], first, True
        now = time.time()
        if now >= deadline or (failed and not pending):
            return report, failed + pending, first, True
        if until is not None and now >= until:
            return report, failed + pending, first, False
        time.sleep(POLL_SECONDS)


def listening_of(ctl, unit, entry):
    """For a unit whose container runs but is not healthy: what the container
    listens on and which declared ports of its agents (its endpoint map) are
    silent, as RV(listening) holds it; None when there is nothing to read."""
    # With Notify=healthy the unit stays "activating" until its container is
    # healthy: what counts is that the container exists.
    if entry.get("health") == "absent" or entry.get("active") not in ("active", "activating", "reloading"):
        return None
    agents = {}
    for name in unit.get("config_files") or ():
        if os.path.basename(name) == "endpoints.json":
            try:
                with open(os.path.join(ctl.params["config_dir"], name), encoding="utf-8") as handle:
                    agents.update(endpoint_agents(handle.read()))
            except (IOError, OSError, UnicodeError):
                continue
    if not agents:
        return None
    listeners, why = container_listeners(ctl.runner, ctl.podman, unit["container"])
    found = as_result(listeners, why)
    found["silent"] = silent_agents(agents, listeners) if listeners is not None else {}
    found["lines"] = ([silent_text(agent, ports, listeners) for agent, ports in found["silent"].items()]
                      if listeners is not None else ["the declared ports could not be checked: %s" % why])
    return found


def fail_unhealthy(ctl, result, bad, timeout, log_lines):
    """Fail naming each unit that is not ok, with its journal; ``result`` goes along.

    A running container whose agents' declared ports are silent says which
    ports it does listen on (read from its network namespace)."""
    lines = ["%d group(s) did not become healthy within %d s:" % (len(bad), timeout)]
    logs, listening = {}, {}
    units = {u["service"]: u for u in ctl.params["units"]}
    for entry in bad:
        lines.append("- %s (%s): %s" % (entry["group"], entry["service"], entry["problem"]))
        found = listening_of(ctl, units.get(entry["service"]) or {}, entry)
        if found is not None:
            listening[entry["group"]] = found
            lines.extend("    %s" % line for line in found["lines"])
        logs[entry["group"]] = ctl.journal(entry["service"], log_lines)
        lines.extend("    | %s" % line for line in logs[entry["group"]])
    ctl.module.fail_json(msg="\n".join(lines), logs=logs, unhealthy=[e["group"] for e in bad],
                         listening=listening, **result)


def options_problem(p):
    """The first problem with the options, or None."""
    for key in ("quadlet_dir", "config_dir", "state_file"):
        if not os.path.isabs(p[key]):
            return "%s must be an absolute path, got %r" % (key, p[key])
    for position, name in enumerate(p["removed_files"]):
        problem = name_problem("removed_files[%d]" % position, name, "unit file")
        if problem or "/" in name:
            return problem or "removed_files[%d] %r must be a file name, without '/'" % (
                position, name)
    if p["wait_slice"] < 0:
        return "wait_slice must be 0 or more seconds, got %d" % p["wait_slice"]
    return (units_problem(p["units"])
            or names_problem("changed_secrets", p["changed_secrets"], "secret")
            or (wait_state_problem(p["wait_state"]) if p["wait_only"] else None))


def merge_orphans(containers, units):
    """RV(removed_orphans): one entry per container or unit, a container with its unit."""
    by_service = {u["service"]: u for u in units}
    out = []
    for orphan in containers:
        unit = by_service.pop(orphan["service"], None) if orphan["service"] else None
        out.append({"container": orphan["container"], "service": orphan["service"],
                    "unit_file": unit["remove_file"] if unit else None})
    out.extend({"container": None, "service": u["service"], "unit_file": u["remove_file"]}
               for u in units if u["service"] in by_service)
    return out


def apply_units(module):
    p = module.params
    problem = options_problem(p)
    if problem:
        module.fail_json(msg=problem)
    if p["wait_only"]:
        return wait_units(module)
    ctl = UnitController(module)
    units = p["units"]
    result = {"changed": False, "stopped": [], "removed_orphans": [], "stale": {},
              "restarted": [], "started": [], "daemon_reloaded": False, "recorded": False,
              "units": [], "done": True, "progress": "not waited for in check mode"}

    record, record_text_now = ctl.read_record()
    wanted = ctl.wanted_inputs(units)
    stale = stale_units(units, wanted, record)
    result["stale"] = stale
    gone = removed_services(p["removed_files"])
    live = ctl.show(gone)
    result["stopped"] = [s for s in gone
                         if live.get(s, {}).get("ActiveState") not in (None, "", "inactive")]
    orphan_cs, orphan_us = ctl.find_orphans(units, record, gone)
    result["removed_orphans"] = merge_orphans(orphan_cs, orphan_us)
    result["daemon_reloaded"] = bool(p["daemon_reload"] or stale or gone
                                     or result["removed_orphans"])
    restart = restart_set(units, p["changed_files"], p["changed_secrets"]) + list(stale)
    if not module.check_mode:
        # Stop removed and orphan units while systemd still knows them, remove the
        # orphan containers and files, forget what is about to change, then reload.
        stop = result["stopped"] + [u["service"] for u in orphan_us
                                    if u["stop"] and u["service"] not in result["stopped"]]
        if stop:
            ctl.run([ctl.systemctl, "stop", "--"] + stop)
        remove = [removable_container(c) for c in orphan_cs]
        if None in remove:
            module.fail_json(msg="podman ps listed a managed container without a usable ID or "
                             "name: %r" % orphan_cs[remove.index(None)])
        if remove:
            ctl.run([ctl.podman, "rm", "-f", "--"] + remove)
        for orphan in orphan_us:
            if orphan["remove_file"]:
                try:
                    os.unlink(orphan["remove_file"])
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        module.fail_json(msg="cannot remove %s: %s" % (orphan["remove_file"],
                                                                       exc.strerror))
        kept = record_after(record, units, wanted, stale=stale)
        result["recorded"] = ctl.write_record(kept, record_text_now)
        if result["recorded"]:
            record, record_text_now = kept, record_text(kept)
        if result["daemon_reloaded"]:
            ctl.run([ctl.systemctl, "daemon-reload"])
    states = ctl.show([u["service"] for u in units])
    to_start, to_restart = plan_actions(units, states, restart)
    result["started"], result["restarted"] = to_start, to_restart
    if module.check_mode:
        result["changed"] = acted(result)
        return result
    restarted_after = {s: int(states[s].get("ActiveEnterTimestampMonotonic") or 0)
                       for s in to_restart}
    if to_restart:
        ctl.run([ctl.systemctl, "restart", "--no-block", "--"] + to_restart)
    if to_start:
        ctl.run([ctl.systemctl, "start", "--no-block", "--"] + to_start)
    now = time.time()
    wait = {"started": now, "deadline": now + p["timeout"], "timeout": p["timeout"],
            "restarted_after": restarted_after, "first_restarts": None, "since": {}}
    # Nothing started or restarted: the states just read are the first poll's.
    settled = None if to_start or to_restart else [states[u["service"]] for u in units]
    return wait_and_record(ctl, result, wait, (record, record_text_now, wanted), settled)


def wait_and_record(ctl, result, wait, known=None, systemd=None):
    """Wait for the units (for at most O(wait_slice) seconds when set), then, once
    the wait is done, record the healthy units and fail naming the others.

    ``known``: (record, its text, wanted inputs) when this call read them already;
    ``systemd``: the units' systemd properties when nothing was started since
    they were read (the first poll then does not ask systemd again).
    """
    p = ctl.params
    units = p["units"]
    until = time.time() + p["wait_slice"] if p["wait_slice"] else None
    report, bad, first, done = wait_healthy(ctl, units, wait["deadline"],
                                            wait["restarted_after"], wait["first_restarts"],
                                            until, systemd)
    now = time.time()
    since = track_since(report, wait["since"], wait["started"], now)
    result.update(units=report, done=done, progress=progress_line(report, since, now))
    if not done:
        result["wait_state"] = dict(wait, first_restarts=first, since=since)
        result["changed"] = acted(result)
        return result
    if known is None:
        record, record_text_now = ctl.read_record()
        wanted = ctl.wanted_inputs(units)
    else:
        record, record_text_now, wanted = known
    healthy = [e["service"] for e in report if e["verdict"] == OK]
    if ctl.write_record(record_after(record, units, wanted, healthy=healthy), record_text_now):
        result["recorded"] = True
    result["changed"] = acted(result)
    if bad:
        fail_unhealthy(ctl, result, bad, wait["timeout"], p["log_lines"])
    return result


def acted(result):
    """Whether this call changed anything on the host (or would, in check mode)."""
    return bool(result["stopped"] or result["removed_orphans"] or result["recorded"]
                or result["daemon_reloaded"] or result["started"] or result["restarted"])


def wait_units(module):
    """O(wait_only): go on with the wait of the call before, acting on nothing."""
    result = {"changed": False, "stopped": [], "removed_orphans": [], "stale": {},
              "restarted": [], "started": [], "daemon_reloaded": False, "recorded": False,
              "units": [], "done": True, "progress": "not waited for in check mode"}
    if module.check_mode:
        return result
    wait = dict(module.params["wait_state"])
    wait["first_restarts"] = wait.get("first_restarts")
    return wait_and_record(UnitController(module), result, wait)


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
            "quadlet_dir": {"type": "path", "default": "/etc/containers/systemd"},
            "config_dir": {"type": "path", "default": "/etc/ai-system"},
            "state_file": {"type": "path", "default": "/var/lib/ai-system/applied.json"},
            "timeout": {"type": "int", "default": 300},
            "log_lines": {"type": "int", "default": 20},
            "wait_slice": {"type": "int", "default": 0},
            "wait_only": {"type": "bool", "default": False},
            "wait_state": {"type": "dict"},
        },
        required_if=[("wait_only", True, ["wait_state"])],
        supports_check_mode=True,
    )
    module.exit_json(**apply_units(module))


if __name__ == "__main__":
    main()
