# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory data model of the stack: its vocabulary and its shape.

Pure Python, no Ansible imports. The keys and values the inventory may use,
the located :class:`Problem` every rule records, the frozen dataclasses a
host's variables normalize into (``Host``, ``Group``, ``Agent``, ...) and
``PLAN_VARS``, the one list of variables the plan reads. The parsers are
``model_values.py`` (single values), ``model_sections.py`` (a group's
sections) and ``model_load.py`` (groups, hosts, :func:`model_load.load_hosts`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import HealthPolicy


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

# quadlet_options: the sections of a .container file and the form of a key
# (the keys the plan writes itself are quadlet_keys.QUADLET_OWNED).
QUADLET_SECTIONS = ("Unit", "Container", "Service", "Install", "Quadlet")
QUADLET_KEY_RE = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
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


# Go durations (health check intervals and timeouts), as ``DURATION_RE`` accepts them.
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """A Go duration (as ``model_values.parse_duration`` accepts it: 30s, 1m30s, 250ms) in seconds."""
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


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
