# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory data model of the stack: normalization and validation.

Pure Python, no Ansible imports. :func:`load_hosts` takes every AI host's
inventory variables at once (cross-host links and name clashes are only
visible that way) and returns the normalized hosts together with *all* the
problems found, each naming host, group, agent and field and saying what to
do. Nothing here touches a host.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils import stack_policy
from ansible_collections.ai_system.containers.plugins.module_utils import image_build
from ansible_collections.ai_system.containers.plugins.module_utils.quadlet import line_problem
from ansible_collections.ai_system.containers.plugins.module_utils.zmq_health import (
    HealthPolicy, merge_policies, policy_problems,
)

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

GROUP_KEYS = (
    "agents", "app_group", "build", "command", "connects_to", "cpus", "depends_on",
    "description", "devices", "entrypoint", "env", "gpu", "health", "health_policy", "image", "memory",
    "ports", "quadlet_options", "readonly_mounts", "restart_on_change", "secrets", "security",
    "volumes",
)
AGENT_KEYS = ("port", "health_port", "socket", "health_policy")
CONNECT_KEYS = ("agent", "strict", "request", "localhost")
# Mappings that merge key by key across defaults, overrides and the group.
MERGED_KEYS = ("env", "security", "health", "health_policy")
AGENT_SOCKETS = ("rep", "pub")
GPU_KEYS = ("devices", "capabilities", "vram_mib", "compute_percent")
GPU_CAPABILITIES = ("compute", "compat32", "graphics", "utility", "video", "display", "all")
HOST_GPU_KEYS = ("model", "memory_mib", "count", "sharing", "vram_reserve_mib")
# How the GPU groups of a host share its GPUs: none (each its own CUDA
# context, budgets checked on paper) or mps (CUDA MPS enforces each budget).
GPU_SHARING = ("none", "mps")
BUILD_KEYS = ("context", "file", "tag")
HEALTH_KEYS = ("cmd", "interval", "timeout", "retries", "start_period", "on_failure")
HEALTH_ON_FAILURE = ("none", "kill", "restart", "stop")
SECURITY_KEYS = (
    "read_only", "no_new_privileges", "drop_capabilities", "add_capabilities",
    "userns", "security_label_disable",
)
SECRET_KEYS = ("name", "type", "target")
SECRET_TYPES = ("mount", "env")
MOUNT_KEYS = ("source", "target", "options", "owner", "group", "mode")
# A user or group of the host, by name or number.
OWNER_RE = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\Z")
PORT_KEYS = ("port", "name", "publish")

# quadlet_options: the sections of a .container file, and the keys the plan
# writes itself from a field of the group (or never lets a group set: the
# network, the published ports and the names are the plan's).
QUADLET_SECTIONS = ("Unit", "Container", "Service", "Install", "Quadlet")
QUADLET_KEY_RE = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
QUADLET_OWNED = {
    ("Unit", "Description"): "description",
    ("Container", "ContainerName"): "the group's name",
    ("Container", "HostName"): "the group's name",
    ("Container", "Image"): "image or build",
    ("Container", "Network"): "the host's ai_network_name and ai_network_mode",
    ("Container", "PublishPort"): "connects_to (other hosts' consumers are published and "
                                  "firewalled by the plan)",
    ("Container", "Exec"): "command",
    ("Container", "Entrypoint"): "entrypoint",
    ("Container", "Environment"): "env",
    ("Container", "EnvironmentFile"): "env or secrets",
    ("Container", "Volume"): "volumes or readonly_mounts",
    ("Container", "Secret"): "secrets",
    ("Container", "AddDevice"): "gpu or devices",
    ("Container", "NoNewPrivileges"): "security.no_new_privileges",
    ("Container", "DropCapability"): "security.drop_capabilities",
    ("Container", "AddCapability"): "security.add_capabilities",
    ("Container", "ReadOnly"): "security.read_only",
    ("Container", "ReadOnlyTmpfs"): "security.read_only",
    ("Container", "UserNS"): "security.userns",
    ("Container", "SecurityLabelDisable"): "security.security_label_disable",
    ("Container", "HealthCmd"): "health.cmd",
    ("Container", "HealthInterval"): "health.interval",
    ("Container", "HealthTimeout"): "health.timeout",
    ("Container", "HealthRetries"): "health.retries",
    ("Container", "HealthStartPeriod"): "health.start_period",
    ("Container", "HealthOnFailure"): "health.on_failure",
    ("Container", "Notify"): "ai_notify_healthy",
    ("Service", "TimeoutStartSec"): "ai_start_timeout",
    ("Service", "RestartSec"): "ai_restart_sec",
}
# The unit the stack role installs to load the firewall table at boot.
FIREWALL_UNIT = "ai-system-firewall.service"

# The collection's own directories on a host (besides ai_config_dir and
# ai_quadlet_dir): no volume may mount them, read-write or read-only.
OWN_TREES = ("/etc/ai-system", "/var/lib/ai-system", "/etc/containers/systemd")

PORT_MIN = 1024
PORT_MAX = 65535

# ai_network_mode: how the groups of a host share the network.
NETWORK_MODES = ("group", "pod")
# In pod mode, the unit and container holding the host's network namespace
# are named <ai_unit_prefix>pod.
POD_NAME = "pod"
# What the application knows a group by (CONTAINER_GROUP): its starter looks
# the name up in its own configuration.
APP_GROUP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")

# Where the plan mounts each group's endpoint map and the health probe inside
# its container; no inventory mount may use these paths.
CONTAINER_CONFIG = "/etc/ai-system/endpoints.json"
CONTAINER_PROBE = "/usr/local/lib/ai-system/zmq_health.py"

# A Go duration as Podman reads it: 30s, 1m30s, 500ms.
DURATION_RE = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|\u00b5s|ms|s|m|h))+\Z")
# An image reference: no option-like or white-space tricks; Quadlet reads a
# name ending in .image or .build as a unit of its own.
IMAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*\Z")

# A group name becomes a container name, a DNS name on the host network and
# (with the unit prefix) a systemd unit name: keep it a DNS label.
GROUP_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# An inventory host name: it goes into paths, unit descriptions, environment
# variables and Prometheus labels.
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
AGENT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}\Z")
SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}\Z")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?\s*\Z", re.IGNORECASE)
CDI_DEVICE_RE = re.compile(r"^(all|\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-fA-F-]+)\Z")

MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
MIN_MEMORY_BYTES = 6 * 1024 ** 2  # Podman refuses anything below 6 MiB.


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inventory, located as precisely as possible."""

    message: str
    fix: str = ""
    host: str = ""
    group: str = ""
    agent: str = ""
    field: str = ""

    @property
    def location(self) -> str:
        parts = []
        if self.host:
            parts.append("host %s" % self.host)
        if self.group:
            parts.append("group %s" % self.group)
        if self.agent:
            parts.append("agent %s" % self.agent)
        if self.field:
            parts.append("field %s" % self.field)
        return ", ".join(parts)

    def __str__(self) -> str:
        text = "%s: %s" % (self.location, self.message) if self.location else self.message
        if self.fix:
            text += " -- %s" % self.fix
        return text

    def as_dict(self) -> Dict[str, str]:
        return {
            "host": self.host, "group": self.group, "agent": self.agent,
            "field": self.field, "message": self.message, "fix": self.fix,
            "text": str(self),
        }


class Problems:
    """Collects problems; validation never stops at the first one."""

    def __init__(self) -> None:
        self.items: List[Problem] = []

    def add(self, message: str, fix: str = "", **where: str) -> None:
        self.items.append(Problem(message=message, fix=fix, **where))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


# ---------------------------------------------------------------------------
# Normalized model
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Agent:
    name: str
    port: Optional[int]  # None only while the inventory has a problem here
    health_port: Optional[int]
    socket: str = "rep"
    # How this agent's health replies are judged (global, host, group and
    # agent layers merged, the most specific winning key by key).
    policy: HealthPolicy = field(default_factory=HealthPolicy)


@dataclass(frozen=True)
class ConnectRef:
    """One connects_to entry: an agent, and how the link to it is checked."""

    target: str  # "Agent" or "host/Agent"
    strict: bool = False  # the link must answer a healthy status, not just answer
    request: str = ""  # canonical JSON of the request sent, "" for the agent's policy request
    # The consumer's code reaches the agent at localhost:<port> (same host only).
    localhost: bool = False

    @property
    def request_object(self) -> Optional[Dict[str, Any]]:
        return json.loads(self.request) if self.request else None


@dataclass(frozen=True)
class ServicePort:
    """A port a group binds that is not an agent's (redis, a web UI, ...)."""

    port: int
    name: str


@dataclass(frozen=True)
class Gpu:
    devices: Tuple[str, ...]
    capabilities: Tuple[str, ...]
    vram_mib: Optional[int]
    # CUDA_MPS_ACTIVE_THREAD_PERCENTAGE of the group's MPS clients.
    compute_percent: Optional[int] = None

    @property
    def cdi_names(self) -> Tuple[str, ...]:
        return tuple("nvidia.com/gpu=%s" % d for d in self.devices)


@dataclass(frozen=True)
class HostGpu:
    model: str
    memory_mib: int
    count: int = 1
    sharing: str = "none"
    # VRAM kept free for the desktop, the driver and the MPS server itself.
    vram_reserve_mib: int = 0


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    options: Tuple[str, ...] = ()
    # A host directory created by the deploy when it is missing gets these;
    # an existing one is left as it is.
    owner: str = "root"
    group: str = "root"
    mode: str = "0755"

    @property
    def named_volume(self) -> bool:
        return not self.source.startswith("/")


@dataclass(frozen=True)
class SecretRef:
    name: str
    type: str = "mount"
    target: str = ""


@dataclass(frozen=True)
class Health:
    cmd: Optional[str]  # None: the ZMQ-native probe of the group's agents
    enabled: bool = True
    interval: str = "15s"
    timeout: str = "5s"
    retries: int = 3
    start_period: str = "30s"
    on_failure: str = "kill"


@dataclass(frozen=True)
class Security:
    read_only: bool = True
    no_new_privileges: bool = True
    drop_capabilities: Tuple[str, ...] = ("ALL",)
    add_capabilities: Tuple[str, ...] = ()
    userns: str = ""
    security_label_disable: bool = False


@dataclass(frozen=True)
class Build:
    context: str
    file: str = ""
    tag: str = ""


@dataclass
class Group:
    host: str
    name: str
    image: str = ""
    build: Optional[Build] = None
    # The image is an ai_images entry, built from source by the collection.
    from_images: bool = False
    description: str = ""
    command: Tuple[str, ...] = ()
    entrypoint: Tuple[str, ...] = ()
    # The name the application knows the group by (CONTAINER_GROUP).
    app_group: str = ""
    agents: Dict[str, Agent] = field(default_factory=dict)
    ports: Tuple[ServicePort, ...] = ()
    gpu: Optional[Gpu] = None
    cpus: Optional[float] = None
    memory: Optional[str] = None  # normalized "<n>m" text for Podman
    memory_bytes: Optional[int] = None
    depends_on: Tuple[str, ...] = ()
    connects_to: Tuple[ConnectRef, ...] = ()
    env: Dict[str, str] = field(default_factory=dict)
    volumes: Tuple[Mount, ...] = ()
    readonly_mounts: Tuple[Mount, ...] = ()
    devices: Tuple[str, ...] = ()
    secrets: Tuple[SecretRef, ...] = ()
    health: Health = field(default_factory=lambda: Health(cmd=None))
    security: Security = field(default_factory=Security)
    # (section, ((key, value), ...)) written after the plan's own keys.
    quadlet_options: Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...] = ()
    # Host files whose content change restarts the group.
    restart_on_change: Tuple[str, ...] = ()

    @property
    def probed_agents(self) -> List[Agent]:
        """Request/reply agents with a health port: what the ZMQ health check asks."""
        return [a for a in sorted(self.agents.values(), key=lambda a: a.name)
                if a.socket == "rep" and a.health_port]

    @property
    def image_ref(self) -> str:
        """The image the container runs: the given one, or the tag of its build."""
        if self.build is not None:
            return self.build.tag or "localhost/ai-system/%s:latest" % self.name
        return self.image


@dataclass
class Host:
    name: str
    lan_address: str
    subnet: str
    gpu: Optional[HostGpu]
    selinux: bool
    settings: "Settings"
    groups: Dict[str, Group] = field(default_factory=dict)
    # "group": each group its own network namespace on the host network;
    # "pod": every group of the host in one namespace (localhost reaches
    # the other groups), held by the pod unit (pod_container).
    network_mode: str = "group"
    # (variable, host) pairs: each group's environment gets the named host's
    # LAN address under the variable (ai_host_address_env).
    address_env: Tuple[Tuple[str, str], ...] = ()
    # BIND_ADDRESS of every group ("" leaves it unset).
    bind_address: str = ""
    # The image the pod unit runs (ai_pod_image; "" chooses one of the groups').
    pod_image: str = ""

    @property
    def pod_container(self) -> str:
        """The container (and unit) that holds the host's network namespace in pod mode."""
        return self.settings.unit_prefix + POD_NAME


@dataclass(frozen=True)
class Settings:
    """Shared settings (group_vars/all.yml); every key has a default here."""

    network_name: str = "ai-system"
    unit_prefix: str = "ai-"
    config_dir: str = "/etc/ai-system"
    quadlet_dir: str = "/etc/containers/systemd"
    notify_healthy: bool = True
    start_timeout: int = 300
    restart_sec: int = 5
    # Every container unit requires the unit that loads the host's firewall
    # table (FIREWALL_UNIT) and starts after it; false only where the
    # firewall is left to the user (stack_firewall_backend: none).
    firewall_required: bool = True
    secret_names: Tuple[str, ...] = ()


SETTINGS_VARS = {
    "ai_network_name": "network_name",
    "ai_unit_prefix": "unit_prefix",
    "ai_config_dir": "config_dir",
    "ai_quadlet_dir": "quadlet_dir",
    "ai_notify_healthy": "notify_healthy",
    "ai_start_timeout": "start_timeout",
    "ai_restart_sec": "restart_sec",
    "ai_firewall_required": "firewall_required",
}

# The per-host variables parse_host reads besides SETTINGS_VARS.
HOST_VARS = (
    "ai_lan_address", "ai_network_subnet", "ai_gpu", "ai_selinux", "ai_groups",
    "ai_group_defaults", "ai_host_group_defaults", "ai_group_overrides", "ai_max_cpus",
    "ai_network_mode", "ai_host_address_env", "ai_bind_address", "ai_pod_image",
)

# Variables of which the plan needs only the keys (secret names): their values
# are never read, so vaulted values need no password for planning.
NAME_ONLY_VARS = ("ai_secrets",)

# Shared sections every host carries alike (group_vars/all), read by the
# plan across hosts: ai_monitoring (stack_monitoring).
SHARED_VARS = ("ai_monitoring",)

# Every inventory variable the model reads from a host: the one list the
# stack_plan action collects (a variable read here but missing from it would
# silently be unset in the plan).
# The images built from source (image_build): read once, from the first host
# that carries them; relative build contexts are read from inventory_dir.
IMAGE_VARS = ("ai_images", "ai_registry", "inventory_dir")

PLAN_VARS = HOST_VARS + tuple(SETTINGS_VARS) + NAME_ONLY_VARS + SHARED_VARS + IMAGE_VARS


# ---------------------------------------------------------------------------
# One rule for every text the plan reads: it must stay on its unit file line
# ---------------------------------------------------------------------------

def _scan_text(value: Any, problems: Problems, path: str, **where: str) -> None:
    """Refuse control characters and a trailing backslash in every string
    (keys included) under ``value``; ``path`` is the field, dotted."""
    if isinstance(value, str):
        problem = line_problem(value)
        if problem:
            problems.add("%s %s" % (path, problem),
                         "write the value on one line, without control characters or "
                         "a trailing backslash", field=path, **where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _scan_text(key, problems, "%s key" % path, **where)
            _scan_text(item, problems, "%s.%s" % (path, key), **where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _scan_text(item, problems, "%s[%d]" % (path, index), **where)


def _scan_group(name: Any, raw: Any, problems: Problems, prefix: str, host: str) -> None:
    """Like _scan_text for one group, located by group (and agent) name."""
    if not isinstance(raw, Mapping):
        _scan_text(raw, problems, prefix.rstrip("."), host=host, group=str(name))
        return
    for key, value in raw.items():
        if key == "agents" and isinstance(value, Mapping):
            for agent, spec in value.items():
                _scan_text(agent, problems, "%sagents key" % prefix, host=host, group=str(name))
                _scan_text(spec, problems, "%sagents.%s" % (prefix, agent), host=host,
                           group=str(name), agent=str(agent))
        else:
            _scan_text(value, problems, prefix + str(key), host=host, group=str(name))


def scan_hostvars(name: str, variables: Mapping[str, Any], problems: Problems) -> None:
    """Every text of the plan variables (PLAN_VARS), before anything is parsed."""
    for var in PLAN_VARS:
        value = variables.get(var)
        if var in NAME_ONLY_VARS:
            value = list(value) if isinstance(value, Mapping) else None
        if var in ("ai_groups", "ai_group_overrides") and isinstance(value, Mapping):
            for gname, graw in value.items():
                _scan_text(gname, problems, "%s key" % var, host=name)
                _scan_group(gname, graw, problems,
                            "" if var == "ai_groups" else var + ".", name)
        elif value is not None:
            _scan_text(value, problems, var, host=name)


# ---------------------------------------------------------------------------
# Small parsers; each returns None after recording a problem
# ---------------------------------------------------------------------------

def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if close:
        return "did you mean '%s'?" % close[0]
    return "allowed keys: %s" % ", ".join(sorted(choices))


def _check_keys(value: Mapping[str, Any], allowed: Sequence[str], problems: Problems,
                what: str, **where: str) -> None:
    for key in value:
        if key not in allowed:
            problems.add("unknown key '%s' in %s" % (key, what),
                         "%s" % _suggest(str(key), allowed), field=str(key), **where)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_port(value: Any, problems: Problems, **where: str) -> Optional[int]:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_int(value):
        problems.add("port %r is not a whole number" % (value,),
                     "use a number between %d and %d" % (PORT_MIN, PORT_MAX), **where)
        return None
    if value < PORT_MIN or value > PORT_MAX:
        reason = "privileged/reserved" if 0 <= value < PORT_MIN else "out of range"
        problems.add("port %d is %s" % (value, reason),
                     "use a port between %d and %d" % (PORT_MIN, PORT_MAX), **where)
        return None
    return value


def parse_memory(value: Any, problems: Problems, **where: str) -> Optional[Tuple[str, int]]:
    """'2g', '512m', '1536M', '1.5g' -> ('1536m', bytes)."""
    if _is_int(value):
        value = str(value)
    match = MEMORY_RE.match(value) if isinstance(value, str) else None
    if not match:
        problems.add("memory %r is not a size" % (value,),
                     "write a number with a unit, such as 512m or 2g", **where)
        return None
    number = float(match.group(1))
    nbytes = int(number * MEMORY_UNITS[match.group(2).lower()])
    if nbytes < MIN_MEMORY_BYTES:
        problems.add("memory %r is below Podman's minimum of 6 MiB" % (value,),
                     "give the group at least 6m (most agents need 256m or more)", **where)
        return None
    if nbytes % (1024 ** 2) == 0:
        text = "%dm" % (nbytes // 1024 ** 2)
    else:
        text = "%dk" % -(-nbytes // 1024)
    return text, nbytes


def parse_cpus(value: Any, problems: Problems, **where: str) -> Optional[float]:
    raw = value
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        problems.add("cpus %r is not a number" % (raw,),
                     "write a number of CPUs such as 0.5 or 2", **where)
        return None
    if value <= 0 or value > 1024:
        problems.add("cpus %r is out of range" % (value,),
                     "use a number above 0 and at most 1024", **where)
        return None
    return float(value)


def _string_list(value: Any, problems: Problems, what: str, **where: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        problems.add("%s must be a list" % what, "write it as a YAML list", **where)
        return []
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            problems.add("%s entry %r is not a non-empty string" % (what, item),
                         "write each entry as text", **where)
            continue
        out.append(item.strip())
    return out


def _mapping(value: Any, problems: Problems, what: str, **where: str) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add("%s must be a mapping" % what, "write it as 'key: value' pairs", **where)
        return {}
    return dict(value)


def _bool(value: Any, problems: Problems, what: str, **where: str) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    problems.add("%s must be true or false, not %r" % (what, value), "", **where)
    return None


# ---------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------

def _host_path(value: str, problems: Problems, what: str, **where: str) -> bool:
    """An absolute, normalised host path that is not a system directory."""
    if not value.startswith("/"):
        problems.add("%s %r is not an absolute path" % (what, value),
                     "write the full path, e.g. /srv/ai-system/data", field=what, **where)
        return False
    if posixpath.normpath(value) != value or value.startswith("//"):
        problems.add("%s %r is not a normalised path" % (what, value),
                     "write it as %s (no '..', '.', '//' or trailing '/')"
                     % posixpath.normpath(value), field=what, **where)
        return False
    if "$" in value:
        problems.add("%s %r holds '$'" % (what, value),
                     "rename the directory: systemd would read '$' as a variable",
                     field=what, **where)
        return False
    return True


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """A Go duration (as :func:`_duration` accepts it: 30s, 1m30s, 250ms) in seconds."""
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


def _duration(value: Any, problems: Problems, what: str, allow_zero: bool = False,
              **where: str) -> Optional[str]:
    """A positive Go duration (30s, 1m30s); '0s' only where allow_zero."""
    text = str(value).strip()
    zero = bool(DURATION_RE.match(text)) and not re.search(r"[1-9]", text)
    if not DURATION_RE.match(text) or (zero and not allow_zero):
        kind = "duration" if allow_zero else "positive duration"
        problems.add("%s %r is not a %s" % (what, value, kind),
                     "write a number with a unit, e.g. 30s, 2m or 1m30s", field=what, **where)
        return None
    return text


def check_policy(spec: Any, problems: Problems, fix_suffix: str = "",
                 **where: str) -> Dict[str, Any]:
    """Validate a (merged) health policy mapping, recording located problems.

    Returns the normalized values of its valid keys.
    """
    values, found = policy_problems(spec)
    for fld, message, fix in found:
        problems.add(message, fix + fix_suffix, field=fld, **where)
    return values


def _agent_policy(group_policy: Mapping[str, Any], group_default: HealthPolicy, raw: Any,
                  problems: Problems, **where: str) -> HealthPolicy:
    """The agent's policy: its own keys over the group's (which already
    carry the host's and the global defaults); the group's when it has none."""
    if raw is None:
        return group_default
    if not isinstance(raw, Mapping):
        problems.add("health_policy must be a mapping", "write keys among request, healthy, "
                     "degraded, required_keys", field="health_policy", **where)
        raw = {}
    values = check_policy(merge_policies(group_policy, raw), problems, **where)
    return HealthPolicy(**values)


def _parse_agents(raw: Any, problems: Problems, host: str, group: str,
                  group_policy: Mapping[str, Any]) -> Dict[str, Agent]:
    agents: Dict[str, Agent] = {}
    # Judged once for the group; reported there (see parse_group), not per agent.
    group_default = HealthPolicy(**policy_problems(group_policy)[0])
    for name, spec in _mapping(raw, problems, "agents", host=host, group=group,
                               field="agents").items():
        where = dict(host=host, group=group, agent=str(name))
        if not isinstance(name, str) or not AGENT_NAME_RE.match(name):
            problems.add("agent name %r is not valid" % (name,),
                         "start with a letter; use letters, digits and '_' only",
                         field="agents", **where)
            continue
        if isinstance(spec, (list, tuple)) and len(spec) == 2:
            spec = {"port": spec[0], "health_port": spec[1]}
        if not isinstance(spec, Mapping):
            problems.add("agent must be a mapping with port and health_port",
                         "write e.g. {port: 7120, health_port: 8120}", field="agents", **where)
            continue
        _check_keys(spec, AGENT_KEYS, problems, "agent", **where)
        if "port" not in spec:
            problems.add("agent has no port", "add 'port:' (the ZMQ main port)",
                         field="port", **where)
            continue
        port = parse_port(spec["port"], problems, field="port", **where)
        health_port = None
        if spec.get("health_port") is not None:
            health_port = parse_port(spec["health_port"], problems, field="health_port", **where)
        socket = spec.get("socket", "rep")
        if socket not in AGENT_SOCKETS:
            problems.add("socket %r is not one of %s" % (socket, ", ".join(AGENT_SOCKETS)),
                         "use rep for request/reply agents, pub for publishers",
                         field="socket", **where)
            continue
        # Kept even with a bad port, so that references to it still resolve and
        # the one real problem is not followed by invented ones.
        policy = _agent_policy(group_policy, group_default, spec.get("health_policy"), problems,
                               **where)
        agents[name] = Agent(name=name, port=port, health_port=health_port, socket=socket,
                             policy=policy)
    return agents


def _parse_ports(raw: Any, problems: Problems, host: str, group: str) -> Tuple[ServicePort, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        problems.add("ports must be a list", "write e.g. [6379]", host=host, group=group,
                     field="ports")
        return ()
    out = []
    for item in raw:
        spec = item if isinstance(item, Mapping) else {"port": item}
        _check_keys(spec, PORT_KEYS, problems, "ports entry", host=host, group=group)
        port = parse_port(spec.get("port"), problems, host=host, group=group, field="ports")
        if spec.get("publish") not in (None, False):
            problems.add("ports entry %s asks to be published" % (spec.get("port"),),
                         "remove 'publish': groups on this host reach the port by container "
                         "name; other hosts reach agents through connects_to, which publishes "
                         "and firewalls exactly the ports they consume",
                         host=host, group=group, field="ports")
        if port is not None:
            out.append(ServicePort(port=port, name=str(spec.get("name") or "port %d" % port)))
    return tuple(out)


def _parse_gpu(raw: Any, problems: Problems, host: str, group: str) -> Optional[Gpu]:
    where = dict(host=host, group=group)
    if raw in (None, False):
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.add("gpu must be false or a mapping", "write e.g. {devices: [all], "
                     "capabilities: [compute, utility], vram_mib: 8192}", field="gpu", **where)
        return None
    _check_keys(raw, GPU_KEYS, problems, "gpu", **where)
    devices = raw.get("devices", ["all"])
    if isinstance(devices, (str, int)):
        devices = [devices]
    devs = []
    for dev in devices if isinstance(devices, (list, tuple)) else [devices]:
        text = str(dev)
        if text.startswith("/dev/") or "nvidia" in text:
            problems.add("gpu device %r is a raw device, not a CDI device" % text,
                         "name the GPU by index, UUID or 'all'; the unit gets "
                         "nvidia.com/gpu=<name> through CDI", field="gpu.devices", **where)
        elif not CDI_DEVICE_RE.match(text):
            problems.add("gpu device %r is not a GPU index, UUID or 'all'" % text,
                         "use e.g. all, 0 or GPU-<uuid>", field="gpu.devices", **where)
        else:
            devs.append(text)
    caps = _string_list(raw.get("capabilities", ["compute", "utility"]), problems,
                        "gpu.capabilities", field="gpu.capabilities", **where)
    for cap in caps:
        if cap not in GPU_CAPABILITIES:
            problems.add("gpu capability %r is unknown" % cap,
                         "use %s" % ", ".join(GPU_CAPABILITIES), field="gpu.capabilities",
                         **where)
    vram = raw.get("vram_mib")
    if vram is not None and (not _is_int(vram) or vram <= 0):
        problems.add("vram_mib %r is not a positive whole number of MiB" % (vram,),
                     "write the group's VRAM budget in MiB, e.g. 8192",
                     field="gpu.vram_mib", **where)
        vram = None
    percent = raw.get("compute_percent")
    if percent is not None and (not _is_int(percent) or not 1 <= percent <= 100):
        problems.add("compute_percent %r is not a whole number from 1 to 100" % (percent,),
                     "write the share of the GPU's threads the group may use, e.g. 50",
                     field="gpu.compute_percent", **where)
        percent = None
    return Gpu(devices=tuple(devs) or ("all",), capabilities=tuple(caps), vram_mib=vram,
               compute_percent=percent)


def _parse_mounts(raw: Any, problems: Problems, what: str, readonly: bool,
                  own_trees: Sequence[str] = (), **where: str) -> Tuple[Mount, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        problems.add("%s must be a list" % what, "write e.g. ['/srv/data:/app/data']",
                     field=what, **where)
        return ()
    out = []
    for item in raw:
        if isinstance(item, str):
            parts = item.split(":")
            if len(parts) < 2 or len(parts) > 3:
                problems.add("%s entry %r is not SOURCE:TARGET[:OPTIONS]" % (what, item),
                             "write e.g. /srv/models:/app/models:ro", field=what, **where)
                continue
            spec: Mapping[str, Any] = {"source": parts[0], "target": parts[1],
                                       "options": parts[2].split(",") if len(parts) == 3 else []}
        elif isinstance(item, Mapping):
            _check_keys(item, MOUNT_KEYS, problems, what + " entry", **where)
            spec = item
        else:
            problems.add("%s entry %r is neither text nor a mapping" % (what, item), "",
                         field=what, **where)
            continue
        source, target = str(spec.get("source") or ""), str(spec.get("target") or "")
        options = spec.get("options") or []
        if isinstance(options, str):
            options = options.split(",")
        if not source or not target.startswith("/"):
            problems.add("%s entry needs a source and an absolute target" % what,
                         "write e.g. {source: /etc/ssl/certs, target: /app/certs}",
                         field=what, **where)
            continue
        if not source.startswith("/") and not GROUP_NAME_RE.match(source):
            problems.add("volume name %r is not valid" % source,
                         "use an absolute host path or a lower-case volume name",
                         field=what, **where)
            continue
        if source.startswith("/"):
            if not _host_path(source, problems, what, **where):
                continue
        if posixpath.normpath(target) != target or "$" in target:
            problems.add("%s target %r is not a normalised path" % (what, target),
                         "write it as %s" % posixpath.normpath(target).replace("$", ""),
                         field=what, **where)
            continue
        if not stack_policy.container_target_ok(target):
            problems.add("%s target %s covers the container's root or its /proc, /sys or /dev"
                         % (what, target), "mount it on a directory of the application, e.g. "
                         "/app/data", field=what, **where)
            continue
        opts = tuple(str(o) for o in options if o)
        found = stack_policy.mount_problems(source, opts, readonly, own_trees)
        for message, fix in found:
            problems.add("%s entry %s: %s" % (what, source, message), fix, field=what, **where)
        if found:
            continue
        if readonly and "ro" not in opts:
            opts = ("ro",) + tuple(o for o in opts if o != "rw")
        created = _directory_options(spec, problems, what, readonly or not source.startswith("/"),
                                     **where)
        out.append(Mount(source=source, target=target, options=opts, **created))
    return tuple(out)


def _directory_options(spec: Mapping[str, Any], problems: Problems, what: str,
                       refused: bool, **where: str) -> Dict[str, str]:
    """owner, group and mode a missing host directory is created with."""
    given = {key: spec[key] for key in ("owner", "group", "mode") if spec.get(key) is not None}
    if given and refused:
        problems.add("%s entry sets %s, which only a host directory of volumes can have"
                     % (what, ", ".join(sorted(given))),
                     "remove them: named volumes belong to Podman, readonly_mounts to the host",
                     field=what, **where)
        return {}
    out = {}
    for key in ("owner", "group"):
        if key in given:
            value = given[key]
            if isinstance(value, bool) or not (
                    (isinstance(value, int) and 0 <= value < 4294967295)
                    or (isinstance(value, str) and OWNER_RE.match(value))):
                problems.add("%s.%s %r is not a user or group of the host" % (what, key, value),
                             "write a name (e.g. ai) or a number (e.g. 1000)",
                             field="%s.%s" % (what, key), **where)
                continue
            out[key] = str(value)
    if "mode" in given:
        mode = given["mode"]
        if not isinstance(mode, str) or not re.match(r"0?[0-1]?[0-7]{3}\Z", mode):
            problems.add("%s.mode %r is not an octal mode in quotes (0000-1777)" % (what, mode),
                         'write e.g. mode: "0750" (setuid and setgid are refused)',
                         field="%s.mode" % what, **where)
        else:
            out["mode"] = "%04o" % int(mode, 8)
    return out


def _parse_secrets(raw: Any, problems: Problems, **where: str) -> Tuple[SecretRef, ...]:
    out = []
    for item in raw if isinstance(raw, (list, tuple)) else ([] if raw is None else [raw]):
        spec = {"name": item} if isinstance(item, str) else item
        if not isinstance(spec, Mapping):
            problems.add("secrets entry %r is neither a name nor a mapping" % (item,), "",
                         field="secrets", **where)
            continue
        _check_keys(spec, SECRET_KEYS, problems, "secrets entry", **where)
        name = str(spec.get("name") or "")
        kind = spec.get("type", "mount")
        if not SECRET_NAME_RE.match(name):
            problems.add("secret name %r is not valid" % name,
                         "use letters, digits, '.', '_' and '-'", field="secrets", **where)
            continue
        if kind not in SECRET_TYPES:
            problems.add("secret %s has type %r" % (name, kind),
                         "use mount (a file under /run/secrets) or env", field="secrets",
                         **where)
            continue
        target = str(spec.get("target") or "")
        if kind == "env":
            target = target or re.sub(r"[^A-Za-z0-9_]", "_", name).upper()
            if not ENV_NAME_RE.match(target):
                problems.add("secret %s targets %r, not a valid variable name" % (name, target),
                             "", field="secrets", **where)
                continue
        out.append(SecretRef(name=name, type=kind, target=target))
    return tuple(out)


def _parse_connects_to(raw: Any, problems: Problems, **where: str) -> Tuple[ConnectRef, ...]:
    """Entries are agent names ("Agent", "host/Agent") or mappings
    {agent, strict, request} for links checked more closely."""
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)):
        problems.add("connects_to must be a list", "write it as a YAML list", field="connects_to",
                     **where)
        return ()
    out = []
    for item in raw:
        spec = {"agent": item} if isinstance(item, str) else item
        if not isinstance(spec, Mapping):
            problems.add("connects_to entry %r is neither an agent name nor a mapping" % (item,),
                         "write e.g. SystemDigitalTwin or {agent: UnifiedWebAgent, strict: true}",
                         field="connects_to", **where)
            continue
        _check_keys(spec, CONNECT_KEYS, problems, "connects_to entry", **where)
        target = spec.get("agent")
        if not isinstance(target, str) or not target.strip():
            problems.add("connects_to entry %r names no agent" % (dict(spec),),
                         "add 'agent: <AgentName>'", field="connects_to", **where)
            continue
        strict = spec.get("strict", False)
        if not isinstance(strict, bool):
            problems.add("connects_to %s: strict must be true or false, not %r" % (target, strict),
                         "", field="connects_to.strict", **where)
            strict = False
        request = spec.get("request")
        text = ""
        if request is not None:
            if not isinstance(request, Mapping) or not request:
                problems.add("connects_to %s: request must be a non-empty mapping" % target,
                             "write e.g. request: {command: health_check}",
                             field="connects_to.request", **where)
            else:
                text = json.dumps(dict(request), sort_keys=True)
        local = spec.get("localhost", False)
        if not isinstance(local, bool):
            problems.add("connects_to %s: localhost must be true or false, not %r"
                         % (target, local), "", field="connects_to.localhost", **where)
            local = False
        out.append(ConnectRef(target=target.strip(), strict=strict, request=text,
                              localhost=local))
    return tuple(out)


def _parse_argv(raw: Any, problems: Problems, what: str, **where: str) -> Tuple[str, ...]:
    """command / entrypoint: a list of arguments, or one line split like a
    shell does (quotes group words)."""
    if raw is None:
        return ()
    fix = ("write a list, e.g. %s: [python3, /app/start.py], or one line such as "
           "'python3 /app/start.py --verbose'" % what)
    if isinstance(raw, str):
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            problems.add("%s %r cannot be split into arguments: %s" % (what, raw, exc), fix,
                         field=what, **where)
            return ()
    elif isinstance(raw, (list, tuple)):
        words = []
        for item in raw:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                problems.add("%s entry %r is not text" % (what, item), fix, field=what, **where)
                return ()
            words.append(str(item))
    else:
        problems.add("%s must be a list of arguments or one line of text" % what, fix,
                     field=what, **where)
        return ()
    if not words or not words[0].strip():
        problems.add("%s is empty" % what, "remove it to keep the image's own %s, or %s"
                     % ("CMD" if what == "command" else "ENTRYPOINT", fix), field=what, **where)
        return ()
    return tuple(words)


def _parse_health(raw: Any, defaults: Health, problems: Problems, **where: str) -> Health:
    if raw is False:
        return Health(cmd=None, enabled=False)
    spec = _mapping(raw, problems, "health", field="health", **where)
    _check_keys(spec, HEALTH_KEYS, problems, "health", **where)
    cmd = spec.get("cmd", defaults.cmd)
    if isinstance(cmd, (list, tuple)):
        cmd = " ".join(str(c) for c in cmd)
    on_failure = spec.get("on_failure", defaults.on_failure)
    if on_failure not in HEALTH_ON_FAILURE:
        problems.add("health.on_failure %r is unknown" % (on_failure,),
                     "use %s" % ", ".join(HEALTH_ON_FAILURE), field="health.on_failure",
                     **where)
        on_failure = defaults.on_failure
    retries = spec.get("retries", defaults.retries)
    if not _is_int(retries) or retries < 1:
        problems.add("health.retries %r is not a positive whole number" % (retries,), "",
                     field="health.retries", **where)
        retries = defaults.retries
    times = {}
    for key, zero in (("interval", False), ("timeout", False), ("start_period", True)):
        times[key] = _duration(spec.get(key, getattr(defaults, key)), problems,
                               "health.%s" % key, allow_zero=zero, **where) \
            or getattr(defaults, key)
    return Health(cmd=cmd, enabled=True, retries=retries, on_failure=on_failure, **times)


def _parse_quadlet_options(raw: Any, problems: Problems,
                           **where: str) -> Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...]:
    """section -> key -> value or list of values, for keys the model has no field for."""
    spec = _mapping(raw, problems, "quadlet_options", field="quadlet_options", **where)
    out = []
    for section, keys in spec.items():
        what = "quadlet_options.%s" % section
        if section not in QUADLET_SECTIONS:
            problems.add("quadlet_options section %r is not a section of a .container file"
                         % (section,), "use one of %s" % ", ".join(QUADLET_SECTIONS),
                         field="quadlet_options", **where)
            continue
        if not isinstance(keys, Mapping):
            problems.add("%s must be a mapping of key to value" % what,
                         "write e.g. {Container: {Ulimit: nofile=4096:4096}}", field=what, **where)
            continue
        pairs = []
        for key, value in keys.items():
            field_ = "%s.%s" % (what, key)
            if not isinstance(key, str) or not QUADLET_KEY_RE.match(key):
                problems.add("%r is not a Quadlet key" % (key,),
                             "write the key as Quadlet spells it, e.g. Ulimit", field=what, **where)
                continue
            if (section, key) in QUADLET_OWNED:
                problems.add("%s is written by the plan" % field_,
                             "set it through %s" % QUADLET_OWNED[section, key], field=field_,
                             **where)
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            if not values or any(isinstance(v, (Mapping, list, tuple)) or v is None
                                 or isinstance(v, float) for v in values):
                problems.add("%s must be text, a whole number, true/false or a list of them"
                             % field_, "write e.g. Ulimit: [nofile=4096:4096, nproc=512]",
                             field=field_, **where)
                continue
            found = stack_policy.option_problems(section, key, values)
            for message, fix in found:
                problems.add(message, fix, field=field_, **where)
            if found:
                continue
            pairs.extend((key, v) for v in values)
        if pairs:
            out.append((section, tuple(pairs)))
    return tuple(out)


def _parse_watched(raw: Any, problems: Problems, **where: str) -> Tuple[str, ...]:
    """restart_on_change: absolute, normalised host files."""
    paths = _string_list(raw, problems, "restart_on_change", field="restart_on_change", **where)
    return tuple(p for p in paths
                 if _host_path(p, problems, "restart_on_change", **where))


def _parse_security(raw: Any, defaults: Security, problems: Problems, **where: str) -> Security:
    spec = _mapping(raw, problems, "security", field="security", **where)
    _check_keys(spec, SECURITY_KEYS, problems, "security", **where)
    values: Dict[str, Any] = {}
    for key in ("read_only", "no_new_privileges", "security_label_disable"):
        if key in spec:
            parsed = _bool(spec[key], problems, "security.%s" % key,
                           field="security.%s" % key, **where)
            if parsed is not None:
                values[key] = parsed
    for key in ("drop_capabilities", "add_capabilities"):
        if key in spec:
            caps = _string_list(spec[key], problems, "security.%s" % key,
                                field="security.%s" % key, **where)
            if key == "add_capabilities":
                found = stack_policy.capability_problems(caps)
                for message, fix in found:
                    problems.add(message, fix, field="security.%s" % key, **where)
                if found:
                    continue
            values[key] = tuple(c.upper() for c in caps)
    if "userns" in spec:
        values["userns"] = str(spec["userns"] or "")
    merged = defaults.__dict__.copy()
    merged.update(values)
    return Security(**merged)


def _merge_defaults(raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """Group values win; env, security, health and health_policy merge key by key."""
    merged = dict(defaults)
    for key, value in raw.items():
        if key in MERGED_KEYS and isinstance(value, Mapping) \
                and isinstance(defaults.get(key), Mapping):
            both = dict(defaults[key])
            both.update(value)
            merged[key] = both
        else:
            merged[key] = value
    return merged


def parse_group(host: str, name: str, raw: Any, defaults: Mapping[str, Any],
                problems: Problems, own_trees: Sequence[str] = OWN_TREES,
                images: Optional[Mapping[str, str]] = None) -> Optional[Group]:
    """One group; ``own_trees``: the collection's directories on the host,
    which no volume may mount; ``images``: ai_images names -> the tag their
    groups run."""
    where = dict(host=host, group=str(name))
    if not isinstance(name, str) or not GROUP_NAME_RE.match(name):
        problems.add("group name %r is not a valid container/unit name" % (name,),
                     "use lower-case letters, digits and '-' (at most 63, no leading '-')",
                     **where)
        name = str(name)  # keep checking the group's contents
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.add("group must be a mapping of settings", "see docs/inventory.md", **where)
        return None
    _check_keys(raw, GROUP_KEYS, problems, "group", **where)
    spec = _merge_defaults(raw, defaults)
    group = Group(host=host, name=name)
    group.description = str(spec.get("description") or "")
    group_policy = spec.get("health_policy") or {}
    if not isinstance(group_policy, Mapping):
        problems.add("health_policy must be a mapping", "write keys among request, healthy, "
                     "degraded, required_keys", field="health_policy", **where)
        group_policy = {}
    elif "health_policy" in raw:
        check_policy(group_policy, problems, **where)
    group.agents = _parse_agents(spec.get("agents"), problems, host, name, group_policy)
    group.ports = _parse_ports(spec.get("ports"), problems, host, name)

    build = spec.get("build")
    if build is not None and "build" in raw:
        if isinstance(build, str):
            build = {"context": build}
        b = _mapping(build, problems, "build", field="build", **where)
        _check_keys(b, BUILD_KEYS, problems, "build", **where)
        if not str(b.get("context", "")).startswith("/"):
            problems.add("build.context must be an absolute path on the host",
                         "write e.g. build: {context: /srv/ai-system/src}", field="build.context",
                         **where)
        elif _host_path(str(b["context"]), problems, "build.context", **where):
            context = str(b["context"])
            if stack_policy.under(context, stack_policy.NEVER_TREES + tuple(own_trees)) \
                    or context in stack_policy.SYSTEM_PATHS:
                problems.add("build.context %s is a system directory or one of the collection's "
                             "own: the build could copy any file under it into the image"
                             % context, "keep the sources in a directory of their own, e.g. "
                             "/srv/ai-system/src", field="build.context", **where)
            group.build = Build(context=str(b["context"]), file=str(b.get("file") or ""),
                                tag=str(b.get("tag") or ""))
    image = spec.get("image")
    image_name = image_build.image_name_of(image)
    if image_name is not None and group.build is None:
        # image: {name: agents} runs the ai_images entry by its source digest.
        known = images or {}
        if image_name in known:
            group.image = known[image_name]
            group.from_images = True
        else:
            problems.add("image %r is not in ai_images" % (image_name,),
                         "declare it under ai_images (group_vars/all) or use one of: %s"
                         % (", ".join(sorted(known)) or "(ai_images is empty)"),
                         field="image.name", **where)
    elif group.build is None:
        if not isinstance(image, str) or not image.strip():
            problems.add("group has no image", "set 'image:' (or 'build:') on the group, "
                         "or ai_group_defaults.image", field="image", **where)
        elif not IMAGE_RE.match(image.strip()) or image.strip().endswith((".build", ".image")):
            problems.add("image %r is not an image reference" % image,
                         "write e.g. docker.io/library/redis:7 (no white space, no leading "
                         "'-', not ending in .build or .image)", field="image", **where)
        else:
            group.image = image.strip()

    group.command = _parse_argv(spec.get("command"), problems, "command", **where)
    group.entrypoint = _parse_argv(spec.get("entrypoint"), problems, "entrypoint", **where)
    app_group = spec.get("app_group")
    if app_group is None:
        group.app_group = name.replace("-", "_")
    elif not isinstance(app_group, str) or not APP_GROUP_RE.match(app_group):
        problems.add("app_group %r is not a group name the application can be given"
                     % (app_group,),
                     "write the name the application's own configuration uses, e.g. "
                     "core_services (letters, digits, '_', '.', '-')", field="app_group",
                     **where)
        group.app_group = name.replace("-", "_")
    else:
        group.app_group = app_group

    group.gpu = _parse_gpu(spec.get("gpu"), problems, host, name)
    if spec.get("cpus") is not None:
        group.cpus = parse_cpus(spec["cpus"], problems, field="cpus", **where)
    if spec.get("memory") is not None:
        mem = parse_memory(spec["memory"], problems, field="memory", **where)
        if mem:
            group.memory, group.memory_bytes = mem
    group.depends_on = tuple(_string_list(spec.get("depends_on"), problems, "depends_on",
                                          field="depends_on", **where))
    group.connects_to = _parse_connects_to(spec.get("connects_to"), problems, **where)
    env = _mapping(spec.get("env"), problems, "env", field="env", **where)
    for key, value in env.items():
        if not isinstance(key, str) or not ENV_NAME_RE.match(key):
            problems.add("environment variable name %r is not valid" % (key,), "",
                         field="env", **where)
        elif isinstance(value, (Mapping, list, tuple)) or value is None:
            problems.add("environment variable %s must be text or a number" % key, "",
                         field="env", **where)
        else:
            group.env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    group.volumes = _parse_mounts(spec.get("volumes"), problems, "volumes", False, own_trees,
                                  **where)
    group.readonly_mounts = _parse_mounts(spec.get("readonly_mounts"), problems,
                                          "readonly_mounts", True, own_trees, **where)
    for mount in group.readonly_mounts:
        if mount.named_volume:
            problems.add("readonly_mounts entry %r must be a host path" % mount.source,
                         "use volumes: for named volumes", field="readonly_mounts", **where)
    targets = {CONTAINER_CONFIG: "the endpoint map", CONTAINER_PROBE: "the health probe"}
    for what, mounts in (("volumes", group.volumes), ("readonly_mounts", group.readonly_mounts)):
        for mount in mounts:
            if mount.target in targets:
                problems.add("%s mounts %s on %s, already used by %s"
                             % (what, mount.source, mount.target, targets[mount.target]),
                             "give each mount its own container path", field=what, **where)
            targets.setdefault(mount.target, "%s %s" % (what, mount.source))
    devices = _string_list(spec.get("devices"), problems, "devices", field="devices", **where)
    allowed_devices = []
    for dev in devices:
        if "nvidia" in dev:
            problems.add("device %s passes a raw NVIDIA device" % dev,
                         "remove it and declare 'gpu:' instead; the GPU is given through CDI",
                         field="devices", **where)
        elif not dev.startswith("/dev"):
            problems.add("device %r is not a path under /dev" % dev, "", field="devices",
                         **where)
        else:
            found = stack_policy.device_problems(dev)
            for message, fix in found:
                problems.add(message, fix, field="devices", **where)
            if not found:
                allowed_devices.append(dev)
    group.devices = tuple(allowed_devices)
    group.secrets = _parse_secrets(spec.get("secrets"), problems, **where)

    default_health = Health(cmd=None)
    group.health = _parse_health(spec.get("health"), default_health, problems, **where)
    if group.health.enabled and group.health.cmd is None and not group.probed_agents:
        if group.ports:
            problems.add("group has no agents to probe and no health.cmd",
                         "set health.cmd (e.g. 'redis-cli ping') or health: false",
                         field="health", **where)
    group.security = _parse_security(spec.get("security"), Security(), problems, **where)
    group.quadlet_options = _parse_quadlet_options(spec.get("quadlet_options"), problems, **where)
    group.restart_on_change = _parse_watched(spec.get("restart_on_change"), problems, **where)
    return group


# ---------------------------------------------------------------------------
# Hosts
# ---------------------------------------------------------------------------

def _parse_settings(hostvars: Mapping[str, Any], problems: Problems, host: str) -> Settings:
    values: Dict[str, Any] = {}
    base = Settings()
    for var, attr in SETTINGS_VARS.items():
        if var in hostvars and hostvars[var] is not None:
            expected = type(getattr(base, attr))
            value = hostvars[var]
            if expected is bool and not isinstance(value, bool):
                problems.add("%s must be true or false" % var, "", host=host, field=var)
                continue
            if expected is int and not _is_int(value):
                problems.add("%s must be a whole number" % var, "", host=host, field=var)
                continue
            values[attr] = value
    if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}\Z", values.get("network_name", base.network_name)):
        problems.add("ai_network_name is not a valid network name",
                     "use lower-case letters, digits and '-'", host=host, field="ai_network_name")
    if not re.match(r"^[a-z0-9-]{0,20}\Z", values.get("unit_prefix", base.unit_prefix)):
        problems.add("ai_unit_prefix is not valid", "use lower-case letters, digits and '-'",
                     host=host, field="ai_unit_prefix")
    for var in ("ai_config_dir", "ai_quadlet_dir"):
        path = values.get(SETTINGS_VARS[var])
        if path is not None and (not isinstance(path, str) or
                                 not _host_path(path, problems, var, host=host)):
            values.pop(SETTINGS_VARS[var])
    for var, least in (("ai_start_timeout", 1), ("ai_restart_sec", 0)):
        value = values.get(SETTINGS_VARS[var])
        if value is not None and value < least:
            problems.add("%s is %s; it must be at least %d seconds" % (var, value, least), "",
                         host=host, field=var)
            values.pop(SETTINGS_VARS[var])
    secrets = hostvars.get("ai_secrets") or {}
    if not isinstance(secrets, Mapping):
        problems.add("ai_secrets must be a mapping of secret name to value",
                     "keep the values in Ansible Vault", host=host, field="ai_secrets")
        secrets = {}
    values["secret_names"] = tuple(sorted(str(k) for k in secrets))
    return Settings(**{**base.__dict__, **values})


def _parse_host_gpu(raw: Any, problems: Problems, host: str) -> Optional[HostGpu]:
    if raw in (None, False):
        return None
    if not isinstance(raw, Mapping):
        problems.add("ai_gpu must be false or a mapping with model and memory_mib", "",
                     host=host, field="ai_gpu")
        return None
    _check_keys(raw, HOST_GPU_KEYS, problems, "ai_gpu", host=host)
    mem = raw.get("memory_mib")
    if not _is_int(mem) or mem <= 0:
        problems.add("ai_gpu.memory_mib %r is not a positive whole number" % (mem,),
                     "write the GPU's memory in MiB (nvidia-smi --query-gpu=memory.total)",
                     host=host, field="ai_gpu.memory_mib")
        return None
    count = raw.get("count", 1)
    if not _is_int(count) or count < 1:
        problems.add("ai_gpu.count %r is not a positive whole number" % (count,), "",
                     host=host, field="ai_gpu.count")
        count = 1
    sharing = raw.get("sharing", "none")
    if sharing not in GPU_SHARING:
        problems.add("ai_gpu.sharing %r is unknown" % (sharing,),
                     "use none (the default) or mps (CUDA MPS enforces each group's vram_mib)",
                     host=host, field="ai_gpu.sharing")
        sharing = "none"
    reserve = raw.get("vram_reserve_mib", 0)
    if not _is_int(reserve) or reserve < 0:
        problems.add("ai_gpu.vram_reserve_mib %r is not a whole number of MiB" % (reserve,),
                     "write the VRAM kept free for the desktop and the driver, e.g. 1024",
                     host=host, field="ai_gpu.vram_reserve_mib")
        reserve = 0
    return HostGpu(model=str(raw.get("model") or "NVIDIA GPU"), memory_mib=mem, count=count,
                   sharing=sharing, vram_reserve_mib=reserve)


def _lan_address(name: str, value: Any, problems: Problems) -> str:
    """The host's IPv4 unicast LAN address, or '' after a problem."""
    fix = "set ai_lan_address to the host's IPv4 LAN address in host_vars/%s/host.yml" % name
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        problems.add("ai_lan_address %r is not an IP address" % (value,), fix,
                     host=name, field="ai_lan_address")
        return ""
    why = ""
    if addr.version != 4:
        why = "is IPv6; the published ports and firewall rules are IPv4 only"
    elif addr.is_unspecified:
        why = "is unspecified: ports would be published on every interface"
    elif addr.is_loopback:
        why = "is a loopback address: the other hosts could not reach it"
    elif addr.is_multicast or addr.is_reserved or str(addr) == "255.255.255.255":
        why = "is not a unicast address"
    if why:
        problems.add("ai_lan_address %s %s" % (addr, why), fix, host=name,
                     field="ai_lan_address")
        return ""
    return str(addr)


def _parse_contract(host: Host, hostvars: Mapping[str, Any], problems: Problems) -> None:
    """ai_network_mode, ai_host_address_env and ai_bind_address: what the
    application expects of its network (host names are checked against the
    whole inventory by :func:`check_contract`)."""
    name = host.name
    mode = hostvars.get("ai_network_mode")
    if mode is not None:
        if mode not in NETWORK_MODES:
            problems.add("ai_network_mode %r is unknown" % (mode,),
                         "use group (each group its own network namespace) or pod (the "
                         "groups of the host share one, so localhost reaches the other "
                         "groups)", host=name, field="ai_network_mode")
        else:
            host.network_mode = mode
    env = hostvars.get("ai_host_address_env")
    if env is not None:
        if not isinstance(env, Mapping):
            problems.add("ai_host_address_env must be a mapping of variable to host",
                         "write e.g. {MAINPC_IP: mainpc, PC2_IP: pc2}", host=name,
                         field="ai_host_address_env")
        else:
            pairs = []
            for var, target in env.items():
                if not isinstance(var, str) or not ENV_NAME_RE.match(var):
                    problems.add("ai_host_address_env: %r is not a valid variable name" % (var,),
                                 "use letters, digits and '_', not starting with a digit",
                                 host=name, field="ai_host_address_env")
                elif not isinstance(target, str) or not target:
                    problems.add("ai_host_address_env.%s must name a host, not %r"
                                 % (var, target), "write e.g. %s: mainpc" % var, host=name,
                                 field="ai_host_address_env.%s" % var)
                else:
                    pairs.append((var, target))
            host.address_env = tuple(sorted(pairs))
    bind = hostvars.get("ai_bind_address")
    if bind not in (None, ""):
        try:
            host.bind_address = str(ipaddress.ip_address(str(bind)))
        except ValueError:
            problems.add("ai_bind_address %r is not an IP address" % (bind,),
                         "write e.g. 0.0.0.0 (every interface of the container's network "
                         "namespace)", host=name, field="ai_bind_address")
    pod_image = hostvars.get("ai_pod_image")
    if pod_image not in (None, ""):
        if not isinstance(pod_image, str) or not IMAGE_RE.match(pod_image.strip()) \
                or pod_image.strip().endswith((".build", ".image")):
            problems.add("ai_pod_image %r is not an image reference" % (pod_image,),
                         "name an image with python3 that the host has, e.g. the image of "
                         "one of its groups", host=name, field="ai_pod_image")
        else:
            host.pod_image = pod_image.strip()


def check_contract(hosts: Mapping[str, Host], problems: Problems) -> None:
    """Rules of the application's contract that need every host: the hosts
    ai_host_address_env names exist; in pod mode no group takes the name of
    the pod unit; a group's environment does not set what the plan sets."""
    for hname in sorted(hosts):
        host = hosts[hname]
        for var, target in host.address_env:
            if target not in hosts:
                problems.add("ai_host_address_env.%s names unknown host '%s'" % (var, target),
                             _suggest(target, list(hosts)).replace("allowed keys", "hosts"),
                             host=hname, field="ai_host_address_env.%s" % var)
        for gname, group in sorted(host.groups.items()):
            for var, _target in host.address_env:
                if var in group.env:
                    problems.add("env sets %s, which ai_host_address_env sets to a host's "
                                 "address" % var,
                                 "remove it from the group's env (or from "
                                 "ai_host_address_env)", host=hname, group=gname, field="env")
            for var in ("CONTAINER_GROUP", "BIND_ADDRESS"):
                if var in group.env and (var == "CONTAINER_GROUP" or host.bind_address):
                    problems.add("env sets %s, which the plan sets" % var,
                                 "use app_group for CONTAINER_GROUP and ai_bind_address for "
                                 "BIND_ADDRESS" if var == "CONTAINER_GROUP" else
                                 "remove it: ai_bind_address sets it for every group",
                                 host=hname, group=gname, field="env")
        if host.network_mode != "pod":
            continue
        for gname in sorted(host.groups):
            if gname == POD_NAME or gname == host.pod_container:
                problems.add("group name '%s' is the name of the pod unit of this host "
                             "(ai_network_mode: pod)" % gname,
                             "rename the group", host=hname, group=gname)


def parse_host(name: str, hostvars: Mapping[str, Any], problems: Problems,
               images: Optional[Mapping[str, str]] = None) -> Host:
    """One host; ``images`` maps ai_images names to the tag their groups run."""
    scan_hostvars(name, hostvars, problems)
    lan = _lan_address(name, hostvars.get("ai_lan_address"), problems)
    subnet = hostvars.get("ai_network_subnet")
    try:
        subnet = str(ipaddress.ip_network(str(subnet)))
        if ipaddress.ip_network(subnet).version != 4:
            raise ValueError(subnet)
    except ValueError:
        problems.add("ai_network_subnet %r is not an IPv4 network" % (subnet,),
                     "set e.g. ai_network_subnet: 172.20.0.0/16", host=name,
                     field="ai_network_subnet")
        subnet = ""
    if subnet:
        for why in stack_policy.subnet_problems(ipaddress.IPv4Network(subnet), [lan]):
            problems.add("ai_network_subnet %s %s" % (subnet, why),
                         "choose a private range of its own, e.g. 172.20.0.0/16", host=name,
                         field="ai_network_subnet")
    selinux = hostvars.get("ai_selinux", False)
    host = Host(name=name, lan_address=lan, subnet=subnet,
                gpu=_parse_host_gpu(hostvars.get("ai_gpu"), problems, name),
                selinux=bool(selinux), settings=_parse_settings(hostvars, problems, name))
    _parse_contract(host, hostvars, problems)
    # Shared defaults (group_vars) refined per host (host_vars), key by key.
    defaults: Dict[str, Any] = {}
    for var in ("ai_group_defaults", "ai_host_group_defaults"):
        layer = hostvars.get(var) or {}
        if not isinstance(layer, Mapping):
            problems.add("%s must be a mapping" % var, "", host=name, field=var)
            continue
        _check_keys(layer, GROUP_KEYS, problems, var, host=name)
        defaults = _merge_defaults(layer, defaults)
    if "health_policy" in defaults:
        check_policy(defaults["health_policy"], problems,
                     " (in ai_group_defaults or ai_host_group_defaults)", host=name)
    raw_groups = hostvars.get("ai_groups")
    if raw_groups is None:
        raw_groups = {}
    if not isinstance(raw_groups, Mapping):
        problems.add("ai_groups must be a mapping of group name to group", "",
                     host=name, field="ai_groups")
        raw_groups = {}
    overrides = hostvars.get("ai_group_overrides") or {}
    if not isinstance(overrides, Mapping):
        problems.add("ai_group_overrides must be a mapping of group name to settings", "",
                     host=name, field="ai_group_overrides")
        overrides = {}
    for gname in overrides:
        if gname not in raw_groups:
            problems.add("ai_group_overrides names unknown group '%s'" % gname,
                         _suggest(str(gname), [str(g) for g in raw_groups]),
                         host=name, field="ai_group_overrides")
    max_cpus = hostvars.get("ai_max_cpus")
    if max_cpus is not None:
        max_cpus = parse_cpus(max_cpus, problems, host=name, field="ai_max_cpus")
    for gname, graw in raw_groups.items():
        if gname in overrides and isinstance(graw, Mapping) and \
                isinstance(overrides[gname], Mapping):
            graw = _merge_defaults(overrides[gname], graw)
        group = parse_group(name, gname, graw, defaults, problems,
                            own_trees=OWN_TREES + (host.settings.config_dir,
                                                   host.settings.quadlet_dir),
                            images=images)
        if group is not None and max_cpus is not None and group.cpus is not None:
            group.cpus = min(group.cpus, max_cpus)
        if group is not None:
            host.groups[gname] = group
    return host


def load_hosts(all_hostvars: Mapping[str, Mapping[str, Any]]) -> Tuple[Dict[str, Host], Problems]:
    """Normalize every host; return hosts plus every problem found in isolation.

    Cross-host rules live in :mod:`stack_rules`.
    """
    problems = Problems()
    hosts = {}
    images = image_refs(all_hostvars, problems)
    for name in sorted(all_hostvars, key=str):
        if not isinstance(name, str) or not HOST_NAME_RE.match(name):
            shown = ascii(name)
            problems.add("inventory host name %s is not valid: it names files, units and "
                         "labels on every host" % shown,
                         "rename the host in the inventory: letters, digits, '.', '_' and '-', "
                         "at most 63, starting with a letter or digit", host=shown)
            continue
        hosts[name] = parse_host(name, all_hostvars[name] or {}, problems, images)
    return hosts, problems


def image_refs(all_hostvars: Mapping[str, Mapping[str, Any]], problems: Problems) -> Dict[str, str]:
    """ai_images name -> the tag of its source digest (image_build), from the
    first host that declares ai_images; its problems are reported once."""
    for name in sorted(all_hostvars, key=str):
        hostvars = all_hostvars[name] or {}
        if hostvars.get("ai_images") or hostvars.get("ai_registry"):
            model = image_build.cached_images(hostvars.get("ai_images"),
                                              str(hostvars.get("inventory_dir") or "."),
                                              hostvars.get("ai_registry"))
            for p in model.problems:
                problems.add(p.message, p.fix, field=p.field)
            return {n: spec.ref for n, spec in model.images.items()}
    return {}
