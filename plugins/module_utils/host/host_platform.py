# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a host is ready for the stack: pure judgements, one readiness item
each, of what ``host_parsers`` made of the host's files and commands.

Every ``check_*`` returns one item: ``name``, ``title``, ``status``
(``ready``, ``not ready``, ``warning`` or ``skipped``), ``evidence`` (what
was found), ``fix`` (the exact thing to do, ``None`` when ready) and, for a
skipped item, ``reason``.
``preflight_run`` reads the host, parses it and calls them.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.host.host_parsers import (
    version_tuple,
    wsl_systemd_enabled,
)

READY = "ready"
NOT_READY = "not ready"
WARNING = "warning"
SKIPPED = "skipped"
STATUSES = (READY, NOT_READY, WARNING, SKIPPED)

MIN_PODMAN = (4, 4)
# WSL's own library directory: NVML and CUDA of the Windows driver.
WSL_LIB_DIR = "/usr/lib/wsl/lib"
WSL_NVML = WSL_LIB_DIR + "/libnvidia-ml.so.1"

WSL_CONF_SYSTEMD = "[boot]\nsystemd=true"
WSLCONFIG_MIRRORED = "[wsl2]\nnetworkingMode=mirrored"
# What the WSL-specific fixes say about the Hyper-V firewall and the docs.
HOSTS_DOC = "docs/hosts.md"

# systemd-detect-virt's names of container managers (``--list`` of systemd 252+).
CONTAINER_VIRT = frozenset((
    "openvz", "lxc", "lxc-libvirt", "systemd-nspawn", "docker", "podman", "rkt", "wsl", "proot", "pouch",
))


def item(name: str, title: str, status: str, evidence: str, fix: Optional[str] = None,
         reason: Optional[str] = None) -> Dict[str, Any]:
    if status not in STATUSES:
        raise ValueError("unknown status %r" % status)
    return {"name": name, "title": title, "status": status, "evidence": evidence,
            "fix": None if status == READY else fix, "reason": reason}


# --------------------------------------------------------------------------
# The platform: distribution, WSL, Podman
# --------------------------------------------------------------------------

def describe_os(osr: Mapping[str, str]) -> str:
    return osr.get("PRETTY_NAME") or ("%s %s" % (osr.get("NAME", "unknown"), osr.get("VERSION_ID", ""))).strip()


def wsl_of(kernel: Mapping[str, Any], virt: str) -> Optional[int]:
    """Which WSL the host is (2, 1) or None: the kernel's release, or systemd-detect-virt's "wsl"."""
    if kernel.get("wsl"):
        return kernel["wsl"]
    return 2 if virt == "wsl" else None


def check_distribution(osr: Mapping[str, str], kernel: Mapping[str, Any], virt: str) -> Dict[str, Any]:
    wsl = wsl_of(kernel, virt)
    evidence = "%s, kernel %s" % (describe_os(osr), kernel.get("release") or "unknown")
    if virt != "none":
        evidence += ", virtualisation %s" % virt
    if wsl == 1:
        return item("distribution", "Distribution and release", NOT_READY, evidence + " (WSL 1)",
                    "WSL 1 runs no Linux kernel, so neither systemd nor Podman's containers work there. "
                    "Convert the distribution to WSL 2 in Windows PowerShell: "
                    "`wsl --set-version <distribution> 2` (`wsl -l -v` lists them).")
    if wsl == 2:
        evidence += " (WSL 2)"
    return item("distribution", "Distribution and release", READY, evidence)


UBUNTU_UPGRADE = (
    "Upgrade to Ubuntu 24.04 LTS, whose Podman 4.9 has Quadlet: `sudo apt-get update && "
    "sudo apt-get full-upgrade`, then `sudo do-release-upgrade` (22.04 to 24.04), reboot, and run "
    "playbooks/preflight.yml again.")
UBUNTU_WSL_UPGRADE = (
    "Install Ubuntu 24.04 as a new WSL distribution beside this one, in Windows PowerShell: "
    "`wsl --install -d Ubuntu-24.04`; in it turn systemd on (/etc/wsl.conf `[boot]` `systemd=true`, "
    "then `wsl --shutdown`), install openssh-server in it and point this host's inventory entry at "
    "it; the old distribution stays as it is until you remove it (`wsl --unregister Ubuntu-22.04`). Upgrading in place inside WSL "
    "also works: `sudo do-release-upgrade`.")
UBUNTU_OPT_IN = (
    " Not supported by Ubuntu, but possible: set podman_repository to a package repository that "
    "carries Podman >= 4.4 for jammy; the podman role then installs from it and checks the version it got.")
DEBIAN_UPGRADE = (
    "Upgrade to Debian 13 (trixie), whose Podman 5.4 has Quadlet: replace bookworm with trixie in "
    "/etc/apt/sources.list and /etc/apt/sources.list.d/*, then `apt-get update && apt-get full-upgrade`, "
    "reboot, and run playbooks/preflight.yml again (Debian's release notes, \"Upgrades from Debian 12\").")
SUPPORTED = "Debian 13 (trixie), Ubuntu 24.04 (noble), Fedora, RHEL-compatible 9"


def platform_podman(osr: Mapping[str, str]) -> Tuple[Optional[bool], str]:
    """(whether the distribution offers Podman >= 4.4 with Quadlet, its name and release)."""
    ident = (osr.get("ID") or "").lower()
    like = (osr.get("ID_LIKE") or "").lower().split()
    version = version_tuple(osr.get("VERSION_ID"))
    name = describe_os(osr)
    if ident == "debian":
        return (version >= (13,) if version else True), name  # testing/sid have no VERSION_ID
    if ident == "ubuntu":
        return version >= (24, 4), name
    if ident == "fedora":
        return True, name
    if ident in ("rhel", "rocky", "almalinux", "centos") or "rhel" in like:
        return version >= (9,), name
    return None, name


def check_podman(osr: Mapping[str, str], podman_version: Optional[str], quadlet: Optional[str],
                 wsl: Optional[int], podman_repository: str = "") -> Dict[str, Any]:
    """Podman >= 4.4 with Quadlet: installed, or on offer from the distribution."""
    title = "Podman >= 4.4 with Quadlet"
    offered, name = platform_podman(osr)
    installed = version_tuple(podman_version)
    evidence = "%s; Podman %s" % (name, ("%s installed" % podman_version) if podman_version else "not installed")
    if installed and installed >= MIN_PODMAN and quadlet:
        return item("podman", title, READY, "%s, Quadlet at %s" % (evidence, quadlet))
    if offered:
        return item("podman", title, READY, evidence + "; the distribution offers Podman with Quadlet and the "
                    "podman role installs it")
    ident = (osr.get("ID") or "").lower()
    if ident == "ubuntu" and offered is False:
        if podman_repository:
            return item("podman", title, WARNING,
                        "%s; podman_repository is set (%s): Podman from a repository Ubuntu does not "
                        "support" % (evidence, podman_repository),
                        "The podman role installs Podman from podman_repository and checks that it is >= 4.4. "
                        "Accept this with ai_preflight_accept_warnings=true, or upgrade: " +
                        (UBUNTU_WSL_UPGRADE if wsl else UBUNTU_UPGRADE))
        return item("podman", title, NOT_READY,
                    evidence + "; Ubuntu %s offers Podman 3.4 at most, without Quadlet" % osr.get("VERSION_ID"),
                    (UBUNTU_WSL_UPGRADE if wsl else UBUNTU_UPGRADE) + UBUNTU_OPT_IN)
    if ident == "debian" and offered is False:
        return item("podman", title, NOT_READY,
                    evidence + "; Debian %s offers Podman 4.3 at most, without Quadlet" % osr.get("VERSION_ID"),
                    DEBIAN_UPGRADE)
    if offered is False:
        return item("podman", title, NOT_READY, evidence + "; this release offers no Podman with Quadlet",
                    "Upgrade to a release the podman role supports: %s." % SUPPORTED)
    return item("podman", title, NOT_READY, evidence + "; not a platform the podman role knows",
                "Use a platform the podman role supports: %s." % SUPPORTED)


# --------------------------------------------------------------------------
# systemd, cgroups
# --------------------------------------------------------------------------

def check_systemd(pid1: Optional[str], wsl: Optional[int], wsl_conf: Optional[Mapping[str, Mapping[str, str]]],
                  virt: str) -> Dict[str, Any]:
    title = "systemd as PID 1"
    if pid1 == "systemd":
        return item("systemd", title, READY, "PID 1 is systemd")
    evidence = "PID 1 is %s" % (pid1 or "unreadable (/proc/1/comm)")
    if wsl:
        setting = wsl_systemd_enabled(wsl_conf or {})
        if wsl_conf is None:
            evidence += "; /etc/wsl.conf does not exist"
        elif setting is None:
            evidence += "; /etc/wsl.conf has no [boot] systemd setting"
        else:
            evidence += "; /etc/wsl.conf has [boot] systemd=%s" % ("true" if setting else "false")
        fix = ("Quadlet units need systemd. Add these lines to /etc/wsl.conf inside the distribution "
               "(WSL 0.67.6 or later):\n%s\nthen run `wsl --shutdown` in Windows PowerShell and open the "
               "distribution again; `ps -p 1 -o comm=` must print systemd." % WSL_CONF_SYSTEMD)
        if setting:
            fix = ("/etc/wsl.conf already turns systemd on, but the distribution has not restarted since: "
                   "run `wsl --shutdown` in Windows PowerShell (or update WSL to 0.67.6 or later: "
                   "`wsl --update`) and open the distribution again.")
        return item("systemd", title, NOT_READY, evidence, fix)
    if virt in CONTAINER_VIRT:
        return item("systemd", title, NOT_READY, evidence + " (a %s container)" % virt,
                    "Quadlet units need systemd. Run the container with systemd as its init: "
                    "`podman run --systemd=always ... /sbin/init` (an image with systemd installed).")
    return item("systemd", title, NOT_READY, evidence,
                "Quadlet units need systemd. Boot the host with systemd as init (install systemd-sysv "
                "and remove init= from the kernel command line).")


def check_cgroup(version: Optional[str]) -> Dict[str, Any]:
    title = "cgroup version"
    if version == "v2":
        return item("cgroup", title, READY, "cgroup v2 (unified) at /sys/fs/cgroup")
    if version in ("v1", "hybrid"):
        return item("cgroup", title, READY,
                    "cgroup %s at /sys/fs/cgroup: Podman runs on it (cgroup v1 is deprecated upstream); the "
                    "podman role chooses the OCI runtime that works on it" % version)
    return item("cgroup", title, NOT_READY, "no cgroup file system mounted at /sys/fs/cgroup",
                "Mount the cgroup file system (systemd does so at boot); containers cannot be limited without it.")


# --------------------------------------------------------------------------
# Network: the LAN address, the published ports
# --------------------------------------------------------------------------

def _is_wsl_nat(address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network("172.16.0.0/12")
    except ValueError:
        return False


def check_lan_address(lan_address: str, addresses: Sequence[Mapping[str, Any]],
                      wsl: Optional[int]) -> Dict[str, Any]:
    title = "ai_lan_address is this host's"
    found = ["%s/%s (%s)" % (a["local"], a.get("prefixlen"), a.get("ifname"))
             for a in addresses if not str(a.get("ifname")).startswith(("lo", "podman", "cni", "veth"))]
    if any(a["local"] == lan_address for a in addresses):
        where = [a.get("ifname") for a in addresses if a["local"] == lan_address]
        return item("lan_address", title, READY, "%s is on %s" % (lan_address, where[0]))
    evidence = "%s is not an address of this host; its addresses: %s" % (lan_address, ", ".join(found) or "none")
    if wsl:
        nat = [a for a in addresses if a.get("ifname") == "eth0" and _is_wsl_nat(a["local"])]
        if nat or not found:
            return item("lan_address", title, NOT_READY,
                        evidence + " -- WSL's default NAT networking: other machines on the LAN cannot reach "
                        "this host's ports",
                        "Turn on WSL's mirrored networking (Windows 11 22H2 or later, WSL 2.0.0 or later: "
                        "`wsl --version`): in %%UserProfile%%\\.wslconfig on Windows add\n%s\nthen run "
                        "`wsl --shutdown` and open the distribution again; the distribution then has the "
                        "Windows host's LAN address %s. Inbound connections also pass the Hyper-V firewall: "
                        "allow the published ports there (%s)." % (WSLCONFIG_MIRRORED, lan_address, HOSTS_DOC))
    return item("lan_address", title, NOT_READY, evidence,
                "Set ai_lan_address in this host's host_vars to one of its LAN addresses, or give the host "
                "%s (a static address or a DHCP reservation)." % lan_address)


def planned_ports(published: Sequence[Mapping[str, Any]],
                  monitoring: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The TCP ports the plan has the host listen on, on its LAN address:
    the published agent ports, the exporter's and (on its host) Prometheus's."""
    ports = [{"port": int(p["port"]), "what": "%s/%s" % (p.get("group"), p.get("agent"))} for p in published or []]
    if monitoring:
        ports.append({"port": int(monitoring["exporter_port"]), "what": "exporter"})
        if monitoring.get("prometheus"):
            ports.append({"port": int(monitoring["prometheus_port"]), "what": "prometheus"})
    return sorted(ports, key=lambda p: p["port"])


def _clashes(listener: Mapping[str, Any], lan_address: str) -> bool:
    address = listener["address"]
    if address.startswith("::ffff:"):
        address = address[7:]
    return address in ("0.0.0.0", "::", lan_address)


def check_ports(ports: Sequence[Mapping[str, Any]], listeners: Sequence[Mapping[str, Any]], lan_address: str,
                owners: Optional[Mapping[int, Mapping[str, Any]]] = None) -> Dict[str, Any]:
    """Ports the plan publishes that something else already listens on.

    ``owners`` maps a socket inode to {pid, comm, ours}: a listener of the
    stack's own units (a re-run) is not in the way.
    """
    title = "Published ports are free"
    owners = owners or {}
    if not ports:
        return item("ports", title, READY, "the plan publishes no port on this host")
    taken, ours = [], []
    for port in ports:
        for lst in listeners:
            if lst["port"] != port["port"] or not _clashes(lst, lan_address):
                continue
            owner = owners.get(lst["inode"]) or {}
            if owner.get("ours"):
                ours.append(port["port"])
                continue
            who = ("%s (pid %s)" % (owner.get("comm"), owner.get("pid"))) if owner.get("pid") else "another process"
            taken.append("%d (%s) is in use by %s on %s" % (port["port"], port["what"], who, lst["address"]))
    numbers = ", ".join(str(p["port"]) for p in ports)
    if taken:
        return item("ports", title, NOT_READY, "; ".join(sorted(set(taken))),
                    "Stop what listens there (`ss -ltnp 'sport = :PORT'` names it), or move the agent to a free "
                    "port in host_vars/<host>/groups.yml and render again.")
    evidence = "%d port%s free on %s: %s" % (len(ports), "" if len(ports) == 1 else "s", lan_address, numbers)
    if ours:
        evidence += " (%s already served by the stack's own units)" % ", ".join(str(p) for p in sorted(set(ours)))
    return item("ports", title, READY, evidence)


# --------------------------------------------------------------------------
# Disk, clock
# --------------------------------------------------------------------------

GIB = 1024 ** 3


def check_disk(graphroot: str, path: str, free_bytes: int, min_free_gib: float) -> Dict[str, Any]:
    title = "Free disk space for images"
    free_gib = free_bytes / float(GIB)
    evidence = "%.1f GiB free at %s (Podman's graphroot %s); at least %g GiB needed" % (
        free_gib, path, graphroot, min_free_gib)
    if free_gib >= min_free_gib:
        return item("disk", title, READY, evidence)
    return item("disk", title, NOT_READY, evidence,
                "Free %.1f GiB or more on the file system of %s (`podman system prune -a` removes unused "
                "images), give it more space, or move Podman's graphroot in /etc/containers/storage.conf; "
                "ai_preflight_min_free_gib sets the threshold." % (min_free_gib - free_gib, path))


def check_clock(host_time: float, controller_time: Optional[float], max_offset_s: float) -> Dict[str, Any]:
    title = "Clock matches the controller's"
    if controller_time is None:
        return item("clock", title, SKIPPED, "no controller time given", reason="no controller time given")
    offset = host_time - controller_time
    evidence = "host clock %+.1f s from the controller's (allowed: %g s, connection time included)" % (
        offset, max_offset_s)
    if abs(offset) <= max_offset_s:
        return item("clock", title, READY, evidence)
    return item("clock", title, WARNING, evidence,
                "Synchronise the clock (`timedatectl set-ntp true`, or chrony/systemd-timesyncd); under WSL the "
                "clock drifts after the PC sleeps: `sudo hwclock -s` or `wsl --shutdown`.")


# --------------------------------------------------------------------------
# GPU
# --------------------------------------------------------------------------

WSL_DRIVER_FIX = (
    "Install the NVIDIA driver on Windows only (the GeForce/Studio driver for this GPU, which brings WSL's "
    "CUDA support), never inside the distribution; then `wsl --shutdown` and open it again: "
    "%s must exist and `nvidia-smi` must list the GPU." % WSL_NVML)
WSL_LINUX_DRIVER_FIX = (
    "A Linux NVIDIA driver inside WSL hides the Windows driver and breaks CUDA: remove it "
    "(`sudo apt-get purge '^nvidia-driver-.*' '^nvidia-dkms-.*' '^libnvidia-.*'` and `sudo apt-get autoremove`), "
    "then `wsl --shutdown`; the driver belongs on Windows only.")


def check_gpu(expected: Optional[Mapping[str, Any]], facts: Optional[Mapping[str, Any]], wsl: Optional[int],
              lab: bool, linux_driver: Sequence[str] = (), wsl_nvml: bool = False,
              install_hint: str = "") -> Dict[str, Any]:
    """The NVIDIA driver through NVML, its version, and the GPU model and memory
    against the inventory's ai_gpu (``expected``: model, memory_mib, required).

    ``linux_driver``: evidence of a Linux driver (the nvidia kernel module,
    /proc/driver/nvidia), an error under WSL. ``facts``: nvml_facts's reading.
    """
    title = "NVIDIA driver and GPU"
    expected = expected or {}
    if not expected.get("model") and not expected.get("required"):
        return item("gpu", title, SKIPPED, "no ai_gpu for this host", reason="no ai_gpu in the inventory")
    facts = facts or {}
    if wsl and linux_driver:
        return item("gpu", title, NOT_READY, "WSL 2 with a Linux NVIDIA driver inside: %s" % "; ".join(linux_driver),
                    WSL_LINUX_DRIVER_FIX)
    if not facts.get("available"):
        why = facts.get("reason") or "NVML unavailable"
        if lab:
            return item("gpu", title, SKIPPED, "lab host: %s" % why, reason="no NVIDIA driver (lab)")
        if wsl:
            evidence = "%s; %s %s" % (why, WSL_NVML, "exists" if wsl_nvml else "does not exist")
            return item("gpu", title, NOT_READY, evidence, WSL_DRIVER_FIX)
        return item("gpu", title, NOT_READY, why, install_hint or "Install the NVIDIA driver for this GPU.")
    gpus = facts.get("gpus") or []
    names = [str(g.get("name") or "") for g in gpus]
    model = str(expected.get("model") or "")
    evidence = "driver %s (CUDA %s)%s; %s" % (
        facts.get("driver_version"), facts.get("cuda_driver_version"), " from Windows" if wsl else "",
        ", ".join("%s %s MiB" % (g.get("name"), g.get("memory_total_mib")) for g in gpus))
    match = [g for g in gpus if str(g.get("name") or "").strip().lower() == model.strip().lower()]
    if model and not match:
        return item("gpu", title, NOT_READY, evidence + "; ai_gpu.model is %s" % model,
                    "Set ai_gpu.model in this host's host_vars to the model NVML reports (%s), or put the %s "
                    "in this host." % (", ".join(names) or "none", model))
    memory = expected.get("memory_mib")
    gpu = match[0] if match else (gpus[0] if gpus else {})
    total = gpu.get("memory_total_mib")
    if memory and total is not None:
        if total < int(memory) * 0.98:
            return item("gpu", title, NOT_READY, evidence + "; ai_gpu.memory_mib is %s" % memory,
                        "Set ai_gpu.memory_mib to %d (what NVML reports) and check the groups' VRAM budgets "
                        "against it." % total)
        if total > int(memory) * 1.02:
            return item("gpu", title, WARNING, evidence + "; ai_gpu.memory_mib is only %s" % memory,
                        "Set ai_gpu.memory_mib to %d (what NVML reports)." % total)
    return item("gpu", title, READY, evidence)


# --------------------------------------------------------------------------
# The whole report of one host
# --------------------------------------------------------------------------

def summarize(items: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    counts = dict((status, 0) for status in STATUSES)
    for it in items:
        counts[it["status"]] += 1
    return {"ready": counts[NOT_READY] == 0, "counts": counts,
            "failing": [it for it in items if it["status"] == NOT_READY],
            "warnings": [it for it in items if it["status"] == WARNING]}


def _status_word(it: Mapping[str, Any]) -> str:
    if it["status"] == SKIPPED:
        return "skipped: %s" % it.get("reason")
    return it["status"]


def verdict(items: Sequence[Mapping[str, Any]]) -> str:
    summary = summarize(items)
    counts = summary["counts"]
    word = "NOT READY" if not summary["ready"] else ("READY with warnings" if counts[WARNING] else "READY")
    return "%s (%d ready, %d not ready, %d warnings, %d skipped)" % (
        word, counts[READY], counts[NOT_READY], counts[WARNING], counts[SKIPPED])


def text_lines(host: str, items: Sequence[Mapping[str, Any]]) -> List[str]:
    lines = ["%s: %s" % (host, verdict(items))]
    for it in items:
        lines.append("  %-12s %-10s %s" % (it["name"], _status_word(it), it["evidence"]))
        if it.get("fix") and it["status"] in (NOT_READY, WARNING):
            lines.append("  %-12s %-10s fix: %s" % ("", "", it["fix"].replace("\n", " / ")))
    return lines


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", "<br>")


def markdown(host: str, items: Sequence[Mapping[str, Any]]) -> str:
    lines = ["## %s: %s" % (host, verdict(items)), "",
             "| Item | Status | Evidence | Fix |", "| --- | --- | --- | --- |"]
    for it in items:
        cells = (it["title"], _status_word(it), it["evidence"], it.get("fix") or "")
        lines.append("| %s |" % " | ".join(_cell(c) for c in cells))
    return "\n".join(lines) + "\n"


def failure_lines(host: str, items: Sequence[Mapping[str, Any]], warnings: bool = False) -> List[str]:
    """One line per not-ready item (and warning, with ``warnings``): host, item, evidence, fix."""
    wanted = (NOT_READY, WARNING) if warnings else (NOT_READY,)
    return ["%s: %s %s: %s -- fix: %s" % (
        host, it["name"], it["status"].upper(), it["evidence"], (it.get("fix") or "").replace("\n", " / "))
        for it in items if it["status"] in wanted]
