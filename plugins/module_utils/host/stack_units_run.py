# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the stack_units module does: the host I/O of bringing the plan's
units to their wanted state and the bounded wait until they are healthy.

The module ai_system.containers.stack_units is a thin wrapper around
:func:`run`. The decisions (what is stale, what is an orphan, the verdict of
each poll, the record) are unit_control's; this module reads the host and
acts on it. Its ``units`` option has the plan's shape: its argument spec is
derived from :class:`plan_contract.UnitPlan`. Where a command the host must
run fails, the module fails at once (``fail_json``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import time

from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import write_text
from ansible_collections.ai_system.containers.plugins.module_utils.verify.listen_ports import (
    as_result, container_listeners, endpoint_agents, silent_agents, silent_text,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    UnitPlan, argument_spec,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet import MANAGED_MARKER
from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_control import (
    MANAGED_LABEL, MANAGED_VALUE, checks_to_hasten, judge_poll, names_problem, orphan_containers, orphan_units,
    parse_record, plan_actions, progress_line, record_after, record_text, removable_container,
    removed_services, restart_counts, restart_set, stale_units, track_since, unit_inputs,
    units_problem, wait_state_problem,
)
from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import (
    FAILED, OK, WAITING, first_line, name_problem, read_systemd, read_unit_states,
)

ARGUMENT_SPEC = {
    # The plan's units (plan.units): every field of UnitPlan, in start order.
    "units": {"type": "list", "elements": "dict", "required": True,
              "options": argument_spec(UnitPlan)},
    "changed_files": {"type": "list", "elements": "str", "default": []},
    # Names of secrets, never their values.
    "changed_secrets": {"type": "list", "elements": "str", "default": [], "no_log": False},
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
}
REQUIRED_IF = [("wait_only", True, ["wait_state"])]

COMMAND_ENV = {"LANG": "C", "LC_ALL": "C", "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}
POLL_SECONDS = 2
# How often the wait runs the health check of a container still starting
# (unit_control.checks_to_hasten): often enough that a group is seen healthy
# a few seconds after its agents listen, seldom enough to cost little.
HASTEN_SECONDS = 4
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
        # Health checks run early: container -> (process, when it started).
        self.hastening = {}
        self.hastened = {}

    def hasten(self, containers, now=None):
        """Start ``podman healthcheck run`` for each of ``containers`` in the
        background (all at once, none waited for), at most once every
        HASTEN_SECONDS per container and never while its last one still runs.
        Its verdict is Podman's, which the next poll reads."""
        now = time.time() if now is None else now
        env = dict(os.environ, **COMMAND_ENV)
        for name in containers:
            proc, started = self.hastening.get(name, (None, 0.0))
            if (proc is not None and proc.poll() is None) or now - started < HASTEN_SECONDS:
                continue
            try:
                proc = subprocess.Popen([self.podman, "healthcheck", "run", "--", name], env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, close_fds=True)
            except OSError:
                continue  # the container's own timer still runs its checks
            self.hastening[name] = (proc, now)
            self.hastened[name] = self.hastened.get(name, 0) + 1

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


def initial_result():
    """The module's result before it acts or waits (what check mode returns of the wait)."""
    return {"changed": False, "stopped": [], "removed_orphans": [], "stale": {},
            "restarted": [], "started": [], "daemon_reloaded": False, "recorded": False,
            "units": [], "done": True, "progress": "not waited for in check mode", "hastened": {}}


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
        judgements = judge_poll(units, states, first, restarted_after)
        report = [report_entry(unit, state, judgement) for unit, state, judgement
                  in zip(units, states, judgements)]
        ctl.hasten(checks_to_hasten(units, states, judgements))
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


def run(module):
    """The module's result (it fails through ``fail_json`` where a command fails)."""
    p = module.params
    problem = options_problem(p)
    if problem:
        module.fail_json(msg=problem)
    if p["wait_only"]:
        return wait_units(module)
    ctl = UnitController(module)
    units = p["units"]
    result = initial_result()

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
    result.update(units=report, done=done, progress=progress_line(report, since, now),
                  hastened=dict(sorted(ctl.hastened.items())))
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
    result = initial_result()
    if module.check_mode:
        return result
    wait = dict(module.params["wait_state"])
    wait["first_restarts"] = wait.get("first_restarts")
    return wait_and_record(UnitController(module), result, wait)
