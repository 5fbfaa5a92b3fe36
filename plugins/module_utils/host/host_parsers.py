# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host is, from the text of its files and commands: pure parsers.

Every parser takes the text as the host has it (``/etc/os-release``,
``/proc/sys/kernel/osrelease``, ``/proc/1/comm``, ``/etc/wsl.conf``,
``ip -j addr``, ``/proc/net/tcp``, ``/proc/mounts``, ...) and returns plain
data; ``host_platform`` judges it, ``preflight_run`` reads the host.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from typing import Any, Dict, List, Mapping, Optional, Tuple

DEFAULT_GRAPHROOT = "/var/lib/containers/storage"


def parse_os_release(text: str) -> Dict[str, str]:
    """/etc/os-release (shell-style KEY=value lines) as a dict."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value.strip("\"'")]
        out[key.strip()] = words[0] if words else ""
    return out


def version_tuple(text: Optional[str]) -> Tuple[int, ...]:
    """The leading numbers of a version ("24.04", "13", "4.3.1+ds1") as a tuple."""
    match = re.match(r"\s*(\d+(?:\.\d+)*)", text or "")
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def parse_kernel_release(text: str) -> Dict[str, Any]:
    """/proc/sys/kernel/osrelease: the release and which WSL it is (2, 1 or None).

    WSL2 kernels are Microsoft's builds, ``5.15.167.4-microsoft-standard-WSL2``;
    WSL1 has no Linux kernel and reports e.g. ``4.4.0-19041-Microsoft``.
    """
    release = text.strip()
    lower = release.lower()
    wsl = None
    if "microsoft" in lower:
        wsl = 2 if ("wsl2" in lower or "microsoft-standard" in lower) else 1
    return {"release": release, "wsl": wsl}


def parse_detect_virt(stdout: Optional[str]) -> str:
    """systemd-detect-virt's answer ("none" when it printed nothing)."""
    text = (stdout or "").strip().splitlines()
    return text[0].strip() if text and text[0].strip() else "none"


def parse_pid1(comm: Optional[str]) -> Optional[str]:
    """/proc/1/comm: the name of PID 1, or None when unreadable."""
    name = (comm or "").strip()
    return name or None


def parse_ini(text: str) -> Dict[str, Dict[str, str]]:
    """A WSL-style ini file (/etc/wsl.conf, .wslconfig): sections of key=value.

    Keys and sections are lower-cased (WSL reads them so), values keep their
    case without surrounding quotes; ``#`` and ``;`` start comments.
    """
    out: Dict[str, Dict[str, str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and "]" in line:
            section = line[1:line.index("]")].strip().lower()
            out.setdefault(section, {})
            continue
        if "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = re.split(r"\s[#;]", value, maxsplit=1)[0].strip().strip("\"'")
        out.setdefault(section, {})[key.strip().lower()] = value
    return out


def wsl_systemd_enabled(conf: Mapping[str, Mapping[str, str]]) -> Optional[bool]:
    """[boot] systemd of /etc/wsl.conf: True, False, or None when not set."""
    value = (conf.get("boot") or {}).get("systemd")
    if value is None:
        return None
    return value.strip().lower() == "true"


def parse_ip_addr(text: str) -> List[Dict[str, Any]]:
    """``ip -j addr`` as a list of {ifname, family, local, prefixlen}."""
    data = json.loads(text or "[]")
    out = []
    for link in data if isinstance(data, list) else []:
        for addr in link.get("addr_info") or []:
            if "local" not in addr:
                continue
            out.append({"ifname": link.get("ifname"), "family": addr.get("family"),
                        "local": addr["local"], "prefixlen": addr.get("prefixlen")})
    return out


def _hex_address(text: str) -> str:
    """An address of /proc/net/tcp{,6}: little-endian 32-bit words in hex."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    mapped = getattr(address, "ipv4_mapped", None)
    # One spelling on every Python: ::ffff:192.0.2.1, not ::ffff:c000:201.
    return "::ffff:%s" % mapped if mapped else str(address)


def parse_proc_net_tcp(text: str) -> List[Dict[str, Any]]:
    """The listening sockets (state 0A) of /proc/net/tcp or /proc/net/tcp6:
    [{address, port, inode}]."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "0A":
            continue
        address, port = fields[1].rsplit(":", 1)
        out.append({"address": _hex_address(address), "port": int(port, 16), "inode": int(fields[9])})
    return out


def parse_cgroup_mounts(text: str) -> Optional[str]:
    """From /proc/mounts (or /proc/self/mounts): "v2", "v1", "hybrid" or None."""
    types: Dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            types[fields[1]] = fields[2]
    root = types.get("/sys/fs/cgroup")
    if root == "cgroup2":
        return "v2"
    if root is None:
        return None
    v1 = any(point.startswith("/sys/fs/cgroup/") and kind == "cgroup" for point, kind in types.items())
    if types.get("/sys/fs/cgroup/unified") == "cgroup2":
        return "hybrid"
    return "v1" if v1 or root == "tmpfs" else None


def parse_graphroot(storage_conf: Optional[str]) -> str:
    """Podman's graphroot from storage.conf's [storage] section (default /var/lib/containers/storage)."""
    section = ""
    for raw in (storage_conf or "").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == "storage" and "=" in line:
            key, value = line.split("=", 1)
            if key.strip() == "graphroot" and value.strip().strip("\"'"):
                return value.strip().strip("\"'")
    return DEFAULT_GRAPHROOT


def parse_podman_version(stdout: Optional[str]) -> Optional[str]:
    """``podman --version`` ("podman version 5.4.2") to "5.4.2"."""
    match = re.search(r"version\s+(\S+)", stdout or "")
    return match.group(1) if match else None


def parse_proc_modules(text: str) -> List[str]:
    """The names of the loaded kernel modules (/proc/modules)."""
    return [line.split()[0] for line in text.splitlines() if line.strip()]
