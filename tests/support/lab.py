# -*- coding: utf-8 -*-
"""Handles on the two-host lab for whole-system tests.

The session starts the lab hosts mainpc and pc2 (molecule scenario ``stack``:
containers booting systemd, on the lab network 10.89.100.0/24, nested Podman
storage on named volumes), lets the tests drive site.yml and verify.yml
against them through ansible-runner, and destroys the lab at the end, leaving
no container, network or volume behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time

import yaml

from support.ansible_run import REPO, run_playbook

LAB_INVENTORY = os.path.join(REPO, "inventory", "lab")
LAB_IMAGES = os.path.join(REPO, "build", "lab")
# The lab's connection plugin (lab_podman), which the repository's ansible.cfg names.
LAB_CONNECTION_PLUGINS = os.path.join(REPO, "scripts", "lab", "connection_plugins")
# The lab's hosts, network and volumes have fixed names: two lab runs on one
# machine would destroy each other's hosts. Every lab entry point (the system
# tests, scripts/lab-test.sh, the benches) holds this lock while it runs.
LAB_LOCK = os.environ.get("AI_SYSTEM_LAB_LOCK", "/run/lock/ai-system-lab.lock")
ENV = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1",
           PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def sh(argv, timeout=300, check=True):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ENV,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s -> rc %d\n%s\n%s" % (" ".join(argv), proc.returncode,
                                                      proc.stdout, proc.stderr))
    return proc


@contextlib.contextmanager
def lab_lock():
    """Holds the machine's lab lock, waiting (and saying so) while another run has it."""
    with open(LAB_LOCK, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another lab run holds %s: waiting for it to finish" % LAB_LOCK,
                  file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def molecule(action):
    return sh([os.path.join(os.path.dirname(sys.executable), "molecule"), action, "-s", "stack"],
              timeout=600)


def is_pod_unit(unit):
    """The unit that holds a host's network namespace in pod mode
    (ai_network_mode: pod): no group of the application's own."""
    return unit["group"] == "pod" and not unit["agents"] and not unit["healthcheck"]


class Lab:
    """Handles on the running lab."""

    hosts = ("mainpc", "pc2")

    def __init__(self, tmp_root):
        self.tmp_root = tmp_root
        self.runs = 0

    # -- Ansible ---------------------------------------------------------------
    def playbook(self, playbook="site.yml", inventory=LAB_INVENTORY, **kwargs):
        self.runs += 1
        envvars = {"AI_SYSTEM_LAB_IMAGES": LAB_IMAGES}
        extravars = dict(kwargs.pop("extravars", {}) or {})
        extravars.setdefault("ai_verify_report_dir", str(self.tmp_root / "reports"))
        return run_playbook(self.tmp_root / ("run%02d" % self.runs), playbook, inventory,
                            extravars=extravars, envvars=envvars, **kwargs)

    def edited_inventory(self, name, edit):
        """A copy of the lab inventory (links resolved) changed by edit(host_vars dict)."""
        dest = self.tmp_root / ("inventory-%s" % name)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(LAB_INVENTORY, dest, symlinks=False)
        data = {}
        for host in self.hosts:
            path = dest / "host_vars" / host / "groups.yml"
            data[host] = yaml.safe_load(path.read_text())
        edit(data)
        for host in self.hosts:
            (dest / "host_vars" / host / "groups.yml").write_text(
                yaml.safe_dump(data[host], sort_keys=False))
        return str(dest)

    # -- inside the lab hosts -----------------------------------------------------
    def exec(self, host, *argv, check=True, timeout=120):
        return sh(["podman", "exec", host] + list(argv), timeout=timeout, check=check)

    UNIT_PROPS = ("ActiveState", "SubState", "ActiveEnterTimestampMonotonic",
                  "InactiveExitTimestampMonotonic", "NRestarts")

    def unit_props(self, host, services, props=UNIT_PROPS):
        out = self.exec(host, "systemctl", "show", "-p", ",".join(("Id",) + tuple(props)),
                        *services).stdout
        units = {}
        for block in out.strip().split("\n\n"):
            entry = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            units[entry["Id"]] = entry
        return units

    def file_stat(self, host, path):
        """'uid:gid:mode' of a path on a lab host (mode in octal, as stat prints it)."""
        return self.exec(host, "stat", "-c", "%u:%g:%a", path).stdout.strip()

    def health(self, host, container):
        proc = self.exec(host, "podman", "inspect", "--format", "{{.State.Health.Status}}",
                         container, check=False)
        return proc.stdout.strip()

    def wait_all_healthy(self, plan, timeout=300):
        """Seconds until every unit of every host is active and healthy."""
        start = time.monotonic()
        pending = None
        while time.monotonic() - start < timeout:
            pending = []
            for host in self.hosts:
                units = plan["hosts"][host]["units"]
                props = self.unit_props(host, [u["service"] for u in units])
                for unit in units:
                    if props[unit["service"]]["ActiveState"] != "active" or (
                            unit["healthcheck"] and
                            self.health(host, unit["container"]) != "healthy"):
                        pending.append("%s/%s" % (host, unit["group"]))
            if not pending:
                return time.monotonic() - start
            time.sleep(3)
        raise AssertionError("not healthy after %d s: %s" % (timeout, ", ".join(pending)))

    def container_ip(self, host, container):
        return self.exec(host, "podman", "inspect", "--format",
                         "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                         container).stdout.strip()

    def container_targets(self, host_plan, host):
        """``address:port`` of every port of every group container of ``host``
        (agents, health sockets, Redis), by the container's address on the
        host's network: in pod mode the groups share the pod unit's, which is
        no group of its own. Host-network units (Prometheus) are left out."""
        units = host_plan["units"]
        pod = next((u["container"] for u in units if is_pod_unit(u)), None)
        out = []
        for unit in units:
            if unit["group"] == "prometheus" or unit["container"] == pod:
                continue
            address = self.container_ip(host, pod or unit["container"])
            assert address, unit["container"]
            config = json.loads(host_plan["config"]["groups/%s/endpoints.json" % unit["group"]])
            ports = {p for a in config["agents"].values() for p in (a["port"], a.get("health_port")) if p}
            out += ["%s:%d" % (address, port) for port in sorted(ports or {6379})]
        return out

    def latest_report(self):
        with open(self.tmp_root / "reports" / "latest.json") as handle:
            return json.load(handle)


# -- a LAN outsider ----------------------------------------------------------
#
# A third machine on the lab network, neither mainpc nor pc2, that routes a
# host's container subnet through that host as a LAN neighbour can; the
# firewall tests probe every container port from it.

LAB_NETWORK = "ai-system-lab"
OUTSIDER_IMAGE = "localhost/ai-system/lab-host:trixie"

# Connects to each address:port given, all at once; prints {target: result},
# a result being open, timeout, refused or "error <errno>".
PORT_PROBE = r"""
import json, socket, sys, threading
timeout = float(sys.argv[1])
out = {}
def probe(target):
    address, port = target.rsplit(":", 1)
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((address, int(port)))
        out[target] = "open"
    except socket.timeout:
        out[target] = "timeout"
    except ConnectionRefusedError:
        out[target] = "refused"
    except OSError as exc:
        out[target] = "error %s" % exc.errno
    finally:
        s.close()
threads = [threading.Thread(target=probe, args=(t,)) for t in sys.argv[2:]]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(out))
"""


@contextlib.contextmanager
def lan_outsider(name, address, routes):
    """The container ``name`` at ``address`` on the lab network, with a route
    for each (subnet, via) of ``routes``; removed on leaving."""
    sh(["podman", "rm", "-f", "-t", "0", name], check=False)
    sh(["podman", "run", "-d", "--name", name, "--network", LAB_NETWORK, "--ip", address,
        "--cap-add", "NET_ADMIN", "--entrypoint", "sleep", OUTSIDER_IMAGE, "infinity"])
    try:
        for subnet, via in routes:
            sh(["podman", "exec", name, "ip", "route", "add", subnet, "via", via])
        yield name
    finally:
        sh(["podman", "rm", "-f", "-t", "0", name], check=False)


def probe_ports(container, targets, timeout=1.0):
    """{address:port: result} of PORT_PROBE run in ``container`` (an outsider
    or a lab host) against ``targets``."""
    argv = ["podman", "exec", container, "python3", "-c", PORT_PROBE, str(timeout)] + list(targets)
    return json.loads(sh(argv, timeout=120).stdout)


def opened(results):
    """The targets of a probe's results that accepted the connection."""
    return sorted(t for t, r in results.items() if r == "open")
