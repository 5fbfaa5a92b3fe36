# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the preflight module does, as a function that returns its result.

It reads the host (files under /proc, /etc and /sys, ``systemd-detect-virt``,
``ip -j addr``, ``podman --version``, NVML through nvml_facts) and hands the
texts to host_platform's parsers and checks. It changes nothing.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.ai_system.containers.plugins.module_utils.host import host_parsers
from ansible_collections.ai_system.containers.plugins.module_utils.host import host_platform as hp
from ansible_collections.ai_system.containers.plugins.module_utils.verify import nvml_facts

ARGUMENT_SPEC = dict(
    host=dict(type="str"),
    lan_address=dict(type="str", required=True),
    published=dict(type="list", elements="dict", default=[]),
    monitoring=dict(type="dict"),
    services=dict(type="list", elements="str", default=[]),
    quadlet_dir=dict(type="path", default="/etc/containers/systemd"),
    gpu=dict(type="dict"),
    lab=dict(type="bool", default=False),
    controller_time=dict(type="float"),
    max_clock_offset_s=dict(type="float", default=30.0),
    min_free_gib=dict(type="float", default=20.0),
    podman_repository=dict(type="str", default=""),
    root=dict(type="path", default="/"),
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
QUADLET_PATHS = ("/usr/libexec/podman/quadlet", "/usr/lib/podman/quadlet")


class Host(object):
    """The host's files, under ``root`` (``/`` except in tests)."""

    def __init__(self, module, root="/"):
        self.module = module
        self.root = root

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path):
        try:
            with open(self.path(path), "r") as handle:
                return handle.read()
        except (IOError, OSError, UnicodeDecodeError):
            return None

    def unpath(self, path):
        """A path under ``root`` as the host names it."""
        return "/" + os.path.relpath(path, self.root).lstrip("./") if self.root != "/" else path

    def exists(self, path):
        return os.path.exists(self.path(path))

    def command(self, argv):
        """stdout of a command, or None when it is missing or fails."""
        binary = self.module.get_bin_path(argv[0])
        if not binary:
            return None
        rc, out, dummy = self.module.run_command([binary] + list(argv[1:]), environ_update=C_LOCALE)
        return out if rc == 0 or argv[0] == "systemd-detect-virt" else None


MANAGED_LABEL = "Label=io.ai-system.managed-by=ai_system.containers"
SERVICE_RE = re.compile(r"/([A-Za-z0-9_.@-]+)\.service\b")


def managed_services(cgroup, quadlet_dir):
    """The services of ``cgroup`` whose Quadlet file in ``quadlet_dir`` the
    collection wrote (its label): units a run replaces or removes, such as
    a pod unit before a switch to per-group mode or the units of a renamed
    unit prefix."""
    out = []
    for name in SERVICE_RE.findall(cgroup or ""):
        try:
            with open(os.path.join(quadlet_dir, name + ".container")) as handle:
                if MANAGED_LABEL in handle.read():
                    out.append(name + ".service")
        except (IOError, OSError):
            continue
    return out


def socket_owners(inodes, services, proc="/proc", quadlet_dir=None):
    """{inode: {pid, comm, ours}} for the listening sockets ``inodes``:
    ``ours`` when the process runs in the cgroup of one of ``services``, or
    of a unit the collection wrote in ``quadlet_dir``."""
    wanted = set("socket:[%d]" % i for i in inodes)
    owners = {}
    if not wanted:
        return owners
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        links = []
        for fd in fds:
            try:
                links.append(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:  # closed since the listing
                continue
        for link in links:
            if link in wanted:
                inode = int(link[len("socket:["):-1])
                comm = nvml_facts.read_process_name(pid, proc) or "?"
                try:
                    with open(os.path.join(proc, pid, "cgroup")) as handle:
                        cgroup = handle.read()
                except (IOError, OSError):
                    cgroup = ""
                ours = any("/%s" % service in cgroup for service in services) or bool(
                    quadlet_dir and managed_services(cgroup, quadlet_dir))
                owners[inode] = {"pid": int(pid), "comm": comm, "ours": ours}
    return owners


def free_space(path):
    """(the nearest existing directory of ``path``, bytes free there for an unprivileged writer)."""
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    stat = os.statvfs(path)
    return path, stat.f_bavail * stat.f_frsize


def gpu_reading(host, loader=None):
    """(nvml_facts's facts, Linux-driver evidence, whether WSL's NVML library exists)."""
    try:
        nvml, binding = (loader or nvml_facts.load_nvml)()
        facts = nvml_facts.collect_gpu_facts(nvml, binding)
    except nvml_facts.NvmlFactsError as exc:
        facts = {"available": False, "reason": str(exc)}
    except OSError as exc:
        facts = {"available": False, "reason": nvml_facts.NO_DRIVER_PREFIX + str(exc)}
    linux = []
    if "nvidia" in host_parsers.parse_proc_modules(host.read("/proc/modules") or ""):
        linux.append("the nvidia kernel module is loaded (/proc/modules)")
    if host.exists("/proc/driver/nvidia"):
        linux.append("/proc/driver/nvidia exists")
    return facts, linux, host.exists(hp.WSL_NVML)


def read_items(module, host, now=None, nvml_loader=None):
    """Every readiness item of the host, and the platform facts found."""
    params = module.params
    host_time = time.time() if now is None else now
    osr = host_parsers.parse_os_release(host.read("/etc/os-release") or host.read("/usr/lib/os-release") or "")
    kernel = host_parsers.parse_kernel_release(host.read("/proc/sys/kernel/osrelease") or "")
    virt = host_parsers.parse_detect_virt(host.command(["systemd-detect-virt"]))
    if virt == "none" and (host.exists("/run/.containerenv") or host.exists("/.dockerenv")):
        virt = "podman" if host.exists("/run/.containerenv") else "docker"
    wsl = hp.wsl_of(kernel, virt)
    pid1 = host_parsers.parse_pid1(host.read("/proc/1/comm"))
    wsl_conf_text = host.read("/etc/wsl.conf")
    wsl_conf = host_parsers.parse_ini(wsl_conf_text) if wsl_conf_text is not None else None
    podman_version = host_parsers.parse_podman_version(host.command(["podman", "--version"]))
    quadlet = next((p for p in QUADLET_PATHS if host.exists(p)), None)
    items = [
        hp.check_distribution(osr, kernel, virt),
        hp.check_podman(osr, podman_version, quadlet, wsl, params["podman_repository"]),
        hp.check_systemd(pid1, wsl, wsl_conf, virt),
        hp.check_cgroup(host_parsers.parse_cgroup_mounts(host.read("/proc/mounts") or "")),
    ]
    ip_out = host.command(["ip", "-j", "addr"])
    if ip_out is None:
        items.append(hp.item("lan_address", "ai_lan_address is this host's", hp.NOT_READY,
                             "`ip -j addr` did not run (is iproute2 installed?)",
                             "Install iproute2 (the `ip` command) and run the preflight again."))
    else:
        items.append(hp.check_lan_address(params["lan_address"], host_parsers.parse_ip_addr(ip_out), wsl))
    listeners = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        listeners += host_parsers.parse_proc_net_tcp(host.read(table) or "")
    ports = hp.planned_ports(params["published"], params.get("monitoring"))
    numbers = set(p["port"] for p in ports)
    candidates = [lst["inode"] for lst in listeners if lst["port"] in numbers]
    monitoring = params.get("monitoring") or {}
    services = list(params["services"]) + [monitoring[k] for k in ("exporter_service", "prometheus_service")
                                           if monitoring.get(k)]
    owners = socket_owners(candidates, services, host.path("/proc"),
                           host.path(params["quadlet_dir"])) if candidates else {}
    items.append(hp.check_ports(ports, listeners, params["lan_address"], owners))
    graphroot = host_parsers.parse_graphroot(host.read("/etc/containers/storage.conf"))
    path, free = free_space(host.path(graphroot))
    items.append(hp.check_disk(graphroot, host.unpath(path), free, params["min_free_gib"]))
    items.append(hp.check_clock(host_time, params.get("controller_time"), params["max_clock_offset_s"]))
    facts, linux_driver, wsl_nvml = gpu_reading(host, nvml_loader)
    items.append(hp.check_gpu(params.get("gpu"), facts, wsl, params["lab"], linux_driver, wsl_nvml,
                              nvml_facts.INSTALL_HINT))
    platform = {"os": hp.describe_os(osr), "id": osr.get("ID"), "version_id": osr.get("VERSION_ID"),
                "kernel": kernel["release"], "wsl": wsl, "virtualization": virt, "pid1": pid1,
                "podman_version": podman_version, "graphroot": graphroot,
                "driver_version": facts.get("driver_version")}
    return items, platform


def run(module, now=None, nvml_loader=None):
    """Everything the preflight module does for ``module.params``."""
    host = Host(module, module.params["root"])
    name = module.params.get("host") or "host"
    items, platform = read_items(module, host, now, nvml_loader)
    summary = hp.summarize(items)
    return dict(
        changed=False,
        ready=summary["ready"],
        counts=summary["counts"],
        items=items,
        platform=platform,
        failing=hp.failure_lines(name, items),
        warning_lines=hp.failure_lines(name, [i for i in items if i["status"] == hp.WARNING], warnings=True),
        text=hp.text_lines(name, items),
        markdown=hp.markdown(name, items),
    )
