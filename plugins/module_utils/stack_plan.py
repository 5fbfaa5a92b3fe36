# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack plan: every host's inventory in, every host's files out.

Pure Python, no Ansible imports. :func:`plan_stack` validates the whole
topology (all problems at once) and, when it is sound, returns per host the
Quadlet files, the endpoint map each group receives, the ports to publish and
the firewall openings, the secrets needed and the checks ``verify`` runs.

A host's plan is a :class:`HostPlan`, a tree of frozen dataclasses; its
``as_dict()`` is the plain JSON data the roles and playbooks read, and
:func:`build_plan` returns the whole plan that way.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils import mps_units, quadlet
from ansible_collections.ai_system.containers.plugins.module_utils import stack_monitoring
from ansible_collections.ai_system.containers.plugins.module_utils.stack_model import (
    CONTAINER_CONFIG, CONTAINER_PROBE, FIREWALL_UNIT, POD_NAME, Group, Host, Problem,
    check_contract, duration_seconds, load_hosts,
)
from ansible_collections.ai_system.containers.plugins.module_utils.stack_rules import (
    Link, check_all, gpu_warnings, host_dirs, mps_gpu_index, network_file, start_order, unit_file,
)
from ansible_collections.ai_system.containers.plugins.module_utils.zmq_health import HealthPolicy

# Where things live inside every container: CONTAINER_CONFIG and
# CONTAINER_PROBE (stack_model, which keeps inventory mounts off them).
PROBE_FILE = "lib/zmq_health.py"  # relative to ai_config_dir on the host
LABEL_GROUP = "io.ai-system.group"
LABEL_MANAGED = "io.ai-system.managed-by=ai_system.containers"
# The pod unit's process: waits for SIGTERM (as PID 1 it needs a handler).
POD_PROCESS = ("python3", "-c", "import signal, sys; signal.signal(signal.SIGTERM, "
               "lambda *a: sys.exit(0)); signal.pause()")
# Same-host peers in pod mode, and links the application makes to localhost.
LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------
# The plan's shape
# ---------------------------------------------------------------------------
#
# Every host's plan is a tree of frozen dataclasses: sequences are tuples,
# mappings read-only views. ``as_dict()`` turns one into plain JSON data (the
# shape the Ansible side reads); nothing else crosses that boundary.

Json = Any


def _freeze(value: Json) -> Json:
    """JSON data made read-only: dicts become mapping views, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _plain(value: Any) -> Json:
    """Plan data -> JSON-safe data: dataclasses and mappings become dicts,
    tuples lists, a health policy its dict."""
    if isinstance(value, _PlanData):
        return value.as_dict()
    if isinstance(value, HealthPolicy):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _PlanData:
    """Base of the plan's dataclasses: one ``as_dict`` for all of them."""

    # Fields left out of the dict when they are None (optional module options).
    _OMIT_NONE: Tuple[str, ...] = ()

    def as_dict(self) -> Dict[str, Json]:
        out: Dict[str, Json] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.name in self._OMIT_NONE:
                continue
            out[f.name] = _plain(value)
        return out


@dataclass(frozen=True)
class NetworkPlan(_PlanData):
    """The host's container network and its Quadlet file."""

    name: str
    subnet: str
    unit_file: str


@dataclass(frozen=True)
class UnitPlan(_PlanData):
    """One group's container unit."""

    group: str
    unit_file: str
    service: str
    container: str
    image: str
    build: bool
    depends_on: Tuple[str, ...]  # services of the same host this one requires
    gpu: bool
    cdi_devices: Tuple[str, ...]
    vram_mib: Optional[int]
    secrets: Tuple[str, ...]
    config_files: Tuple[str, ...]  # relative to config_dir; a change restarts the unit
    restart_on_change: Tuple[str, ...]  # host files whose content change restarts the unit
    healthcheck: bool
    agents: Tuple[str, ...]


@dataclass(frozen=True)
class Published(_PlanData):
    """An agent's main port, published on the host's LAN address."""

    group: str
    agent: str
    port: int
    address: str
    consumers: Tuple[str, ...]  # "host/group" of each consumer on another host


@dataclass(frozen=True)
class FirewallOpening(_PlanData):
    """A published port, opened to one peer host's address."""

    port: int
    proto: str
    source: str
    source_host: str
    group: str
    agent: str


@dataclass(frozen=True)
class ImageUse(_PlanData):
    """An image to pull and the groups that run it."""

    image: str
    groups: Tuple[str, ...]


@dataclass(frozen=True)
class GpuPlan(_PlanData):
    """What the host's GPU groups need."""

    required: bool
    model: Optional[str]
    memory_mib: Optional[int]
    cdi_devices: Tuple[str, ...]
    vram_budgets: Mapping[str, int]  # group -> MiB
    vram_reserve_mib: int
    mps_units: Mapping[str, str]  # daemon unit file name -> text (ai_gpu.sharing: mps)
    mps_lab_units: Mapping[str, str]  # the lab's stand-ins, same names


@dataclass(frozen=True)
class LinkCheck(_PlanData):
    """A group's connection to an agent, checked from inside the group's container."""

    name: str
    from_group: str
    container: str
    to_host: str
    to_group: str
    address: str
    port: int
    kind: str  # "main" (REP socket) or "greeting" (PUB socket)
    cross_host: bool
    policy: HealthPolicy
    strict: bool
    request: Optional[Mapping[str, Json]]
    # Why the link cannot work as the inventory has it (verify adds it to a
    # failure); "" when nothing is known to be wrong.
    note: str = ""


@dataclass(frozen=True)
class HealthCheck(_PlanData):
    """An agent's own health socket, checked on 127.0.0.1 inside its container."""

    name: str
    group: str
    container: str
    address: str
    port: int
    kind: str
    policy: HealthPolicy


@dataclass(frozen=True)
class UnitCheck(_PlanData):
    """One entry of the unit_health module's ``units`` option."""

    service: str
    container: Optional[str]
    healthcheck: bool


@dataclass(frozen=True)
class ZmqEndpoint(_PlanData):
    """One entry of the zmq_check module's ``endpoints`` option."""

    _OMIT_NONE = ("group", "policy", "strict", "request")

    name: str
    address: str
    port: int
    kind: str
    group: Optional[str] = None
    policy: Optional[HealthPolicy] = None
    strict: Optional[bool] = None
    request: Optional[Mapping[str, Json]] = None

    @property
    def key(self) -> Tuple[str, str, int, str]:
        return (self.name, self.address, self.port, self.kind)


@dataclass(frozen=True)
class ZmqTarget(_PlanData):
    """One zmq_check run: the container it runs in and what it checks there."""

    container: str
    endpoints: Tuple[ZmqEndpoint, ...]


@dataclass(frozen=True)
class Checks(_PlanData):
    """What verify checks on the host."""

    links: Tuple[LinkCheck, ...]
    health: Tuple[HealthCheck, ...]
    cuda: Tuple[str, ...]  # containers that run a CUDA kernel
    cuda_budgets: Mapping[str, int]  # container -> its VRAM budget in MiB
    vram_enforced: bool  # MPS enforces cuda_budgets
    units: Tuple[UnitCheck, ...]
    zmq: Tuple[ZmqTarget, ...]


@dataclass(frozen=True)
class HostDir(_PlanData):
    """A host directory a group mounts: created with owner, group and mode
    when it is missing, left as it is when it exists."""

    path: str
    owner: str
    group: str
    mode: str


@dataclass(frozen=True)
class MonitoringPlan(_PlanData):
    """The host's exporter and, on the Prometheus host, Prometheus."""

    exporter_port: int
    exporter_service: str
    exporter_config: str  # path under config_dir
    plan_hash: str  # of the host's unit files and configuration without monitoring
    prometheus: bool  # this host runs Prometheus
    prometheus_host: str
    prometheus_address: str  # the only address the exporter answers
    prometheus_port: int
    prometheus_image: str
    prometheus_service: Optional[str]  # on the Prometheus host
    prometheus_config: Optional[str]  # path under config_dir, on the Prometheus host
    rules_file: Optional[str]  # path under config_dir, on the Prometheus host
    scrape_targets: Tuple[str, ...]  # "host=address:port" of every exporter
    # Where verify asks Prometheus: http://127.0.0.1:port, or with viewers
    # https://<LAN address>:port (TLS and basic auth).
    prometheus_url: str = ""
    prometheus_viewers: Tuple[str, ...] = ()  # who may reach it from the LAN


@dataclass(frozen=True)
class HostPlan(_PlanData):
    """One host's whole plan."""

    host: str
    lan_address: str
    network: NetworkPlan
    quadlet_dir: str
    config_dir: str
    unit_prefix: str
    quadlet: Mapping[str, str]  # file name -> text
    config: Mapping[str, str]  # path under config_dir -> text
    units: Tuple[UnitPlan, ...]  # in start order
    start_order: Tuple[str, ...]
    published: Tuple[Published, ...]
    firewall: Tuple[FirewallOpening, ...]
    secrets: Tuple[str, ...]
    images: Tuple[ImageUse, ...]
    host_dirs: Tuple["HostDir", ...]
    prune_patterns: Tuple[str, ...]
    gpu: GpuPlan
    checks: Checks
    monitoring: Optional[MonitoringPlan] = None  # None without ai_monitoring
    # Seconds the deploy waits for every unit to become healthy: the longest
    # chain of depends_on, each unit with its own start timeout.
    start_wait: int = 0

    def as_dict(self) -> Dict[str, Json]:
        out = super().as_dict()
        out["summary"] = summary_lines(self)
        return out


def _link_endpoint(link: LinkCheck) -> ZmqEndpoint:
    return ZmqEndpoint(name=link.name, address=link.address, port=link.port, kind=link.kind,
                       group="%s/%s" % (link.to_host, link.to_group), policy=link.policy,
                       strict=link.strict, request=link.request)


def _health_endpoint(check: HealthCheck) -> ZmqEndpoint:
    return ZmqEndpoint(name=check.name, address=check.address, port=check.port,
                       kind=check.kind, group=check.group, policy=check.policy)


def zmq_targets(links: Sequence[LinkCheck], health: Sequence[HealthCheck]) -> Tuple[ZmqTarget, ...]:
    """The links and health sockets as zmq_check runs: one per container, in
    the order containers first appear (links, then health sockets), each
    endpoint once."""
    by_container: Dict[str, List[ZmqEndpoint]] = {}
    seen = set()
    entries = [(lk.container, _link_endpoint(lk)) for lk in links]
    entries += [(hc.container, _health_endpoint(hc)) for hc in health]
    for container, endpoint in entries:
        if (container,) + endpoint.key in seen:
            continue
        seen.add((container,) + endpoint.key)
        by_container.setdefault(container, []).append(endpoint)
    return tuple(ZmqTarget(container=c, endpoints=tuple(e)) for c, e in by_container.items())


def entrypoint_value(argv: Sequence[str]) -> str:
    """Quadlet's Entrypoint=: one word as it is, several as a JSON array."""
    if len(argv) == 1:
        return argv[0]
    return json.dumps(list(argv))


def env_name(agent: str) -> str:
    """MemoryOrchestratorService -> AI_ENDPOINT_MEMORY_ORCHESTRATOR_SERVICE."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", agent)
    return "AI_ENDPOINT_" + snake.upper()


def contract_environment(host: Host, hosts: Mapping[str, Host],
                         addresses: bool = True) -> Dict[str, str]:
    """What the application reads from its environment to find the hosts:
    each ai_host_address_env variable with its host's LAN address (unless
    ``addresses`` is false), and BIND_ADDRESS (ai_bind_address)."""
    env = {var: hosts[target].lan_address for var, target in host.address_env
           if target in hosts and addresses}
    if host.bind_address:
        env["BIND_ADDRESS"] = host.bind_address
    return env


def group_environment(group: Group, host: str,
                      endpoints: Mapping[str, Mapping[str, Any]],
                      contract: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment every container of a group gets: the inventory's env,
    the application's contract (CONTAINER_GROUP, the hosts' addresses,
    BIND_ADDRESS), the plan's own variables and one AI_ENDPOINT_* URL per
    consumed agent."""
    env = dict(group.env)
    env.update(contract or {})
    env.update({
        "CONTAINER_GROUP": group.app_group or group.name,
        "AI_SYSTEM_GROUP": group.name,
        "AI_SYSTEM_HOST": host,
        "AI_SYSTEM_CONFIG": CONTAINER_CONFIG,
        "AI_SYSTEM_AGENTS": ",".join(
            "%s:%d:%s" % (a.name, a.port, a.health_port or "")
            for a in sorted(group.agents.values(), key=lambda a: a.name)),
    })
    for aname, endpoint in endpoints.items():
        env[env_name(aname)] = endpoint["url"]
    if group.gpu:
        env["NVIDIA_DRIVER_CAPABILITIES"] = ",".join(group.gpu.capabilities)
    return env


def endpoint_document(group: Group, host: str, links: Sequence[Link],
                      endpoints: Mapping[str, Mapping[str, Any]]) -> str:
    """A group's endpoint map (endpoints.json): its own agents with their
    health ports and policies (what the health probe reads) and where each
    agent it connects to is reached."""
    doc = {
        "group": group.name,
        "host": host,
        "agents": {a.name: {"port": a.port, "health_port": a.health_port,
                            "socket": a.socket, "health_policy": a.policy.as_dict()}
                   for a in sorted(group.agents.values(), key=lambda a: a.name)},
        "connects_to": sorted(lk.agent.name for lk in links),
        "endpoints": dict(endpoints),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


class _HostRenderer:
    """Renders one host's part of the plan."""

    def __init__(self, host: Host, hosts: Mapping[str, Host], consumed: List[Link],
                 provided: List[Link]):
        """consumed: links whose consumer is on this host; provided: links from
        other hosts to this host's agents."""
        self.host = host
        self.hosts = hosts
        self.settings = host.settings
        self.prefix = host.settings.unit_prefix
        self.links = consumed
        self.links_by_group: Dict[str, List[Link]] = {}
        for lk in consumed:
            self.links_by_group.setdefault(lk.consumer_group, []).append(lk)
        self._endpoints: Dict[str, Dict[str, Dict[str, Any]]] = {}
        # Published: agents of this host consumed from another host.
        self.published: Dict[Tuple[str, str], Dict[str, Any]] = {}
        for lk in provided:
            if lk.cross_host:
                entry = self.published.setdefault((lk.group, lk.agent.name), {
                    "group": lk.group, "agent": lk.agent.name, "port": lk.agent.port,
                    "address": host.lan_address, "consumers": [],
                })
                consumer = "%s/%s" % (lk.consumer_host, lk.consumer_group)
                if consumer not in entry["consumers"]:
                    entry["consumers"].append(consumer)

    # -- names ---------------------------------------------------------------
    def unit_file(self, group: str, kind: str = "container") -> str:
        return unit_file(self.host, group, kind)

    @property
    def network_file(self) -> str:
        return network_file(self.host)

    def volume_file(self, name: str) -> str:
        return unit_file(self.host, name, "volume")

    # -- endpoint map ----------------------------------------------------------
    def endpoints(self, group: Group) -> Dict[str, Dict[str, Any]]:
        """The agents a group connects to: same-host ones by container name on
        the host network, remote ones by the peer's LAN address (where only
        the main port is published)."""
        if group.name in self._endpoints:
            return self._endpoints[group.name]
        out: Dict[str, Dict[str, Any]] = {}
        for lk in self.links_by_group.get(group.name, []):
            agent = lk.agent
            if lk.cross_host:
                address, health_port = self.hosts[lk.host].lan_address, None
            elif lk.localhost or self.pod:
                # The application's own address for it (localhost), which
                # reaches the peer when the host's groups share a namespace.
                address, health_port = LOOPBACK, agent.health_port
            else:
                address, health_port = lk.group, agent.health_port
            out[agent.name] = {
                "host": lk.host, "group": lk.group, "address": address,
                "port": agent.port, "health_port": health_port, "socket": agent.socket,
                "remote": lk.cross_host, "url": "tcp://%s:%d" % (address, agent.port),
            }
        self._endpoints[group.name] = out
        return out

    @property
    def pod(self) -> bool:
        return self.host.network_mode == "pod"

    def link_note(self, lk: Link) -> str:
        """Why a link the application makes to localhost cannot work here."""
        if not lk.localhost or self.pod or lk.cross_host:
            return ""
        return ("%s reaches %s at localhost, but %s runs each group in its own network "
                "namespace (ai_network_mode: group): localhost there is %s's own container, "
                "not %s's; set ai_network_mode: pod for %s" % (
                    lk.consumer_group, lk.agent.name, self.host.name, lk.consumer_group,
                    lk.group, self.host.name))

    def start_timeout(self, group: Group) -> int:
        """TimeoutStartSec: ai_start_timeout, or longer where the group's
        health check may take longer to say healthy or unhealthy (its start
        period, then every retry)."""
        timeout = self.settings.start_timeout
        if self.has_health(group):
            hc = group.health
            budget = duration_seconds(hc.start_period) + hc.retries * (
                duration_seconds(hc.interval) + duration_seconds(hc.timeout))
            timeout = max(timeout, int(math.ceil(budget)))
        return timeout

    def start_wait(self, order: Sequence[str]) -> int:
        """The longest chain of start timeouts along depends_on (a unit
        starts once its dependencies are healthy)."""
        done: Dict[str, int] = {}
        for gname in order:
            group = self.host.groups[gname]
            before = [done[d] for d in group.depends_on if d in done]
            done[gname] = self.start_timeout(group) + max(before or [0])
        return max(done.values() or [self.settings.start_timeout])

    def endpoint_document(self, group: Group) -> str:
        return endpoint_document(group, self.host.name, self.links_by_group.get(group.name, []),
                                 self.endpoints(group))

    # -- units -----------------------------------------------------------------
    def network_unit(self) -> str:
        pairs: List[Tuple[str, quadlet.Value]] = [
            ("NetworkName", self.settings.network_name),
            ("Subnet", self.host.subnet),
            ("Label", LABEL_MANAGED),
        ]
        return quadlet.render([
            ("Unit", [("Description", "AI system network on %s (DNS by container name)"
                       % self.host.name)]),
            ("Network", pairs),
        ])

    def volume_units(self, group: Group) -> Dict[str, str]:
        files = {}
        for mount in group.volumes:
            if mount.named_volume:
                files[self.volume_file(mount.source)] = quadlet.render([
                    ("Unit", [("Description", "AI system volume %s" % mount.source)]),
                    ("Volume", [("VolumeName", mount.source), ("Label", LABEL_MANAGED)]),
                ])
        return files

    def build_unit(self, group: Group) -> str:
        if group.build is None:
            raise ValueError("group %s has no build context" % group.name)
        pairs: List[Tuple[str, quadlet.Value]] = [
            ("ImageTag", group.image_ref),
            ("SetWorkingDirectory", group.build.context),
        ]
        if group.build.file:
            pairs.append(("File", group.build.file))
        pairs.append(("Label", LABEL_MANAGED))
        return quadlet.render([
            ("Unit", [("Description", "Image build for AI system group %s" % group.name)]),
            ("Build", pairs),
        ])

    def health_cmd(self, group: Group) -> str:
        if group.health.cmd:
            return group.health.cmd
        # The probe reads each agent's health port and policy from the
        # group's endpoint map: one source for systemd, Podman and verify.
        return "python3 %s --timeout 3 --config %s" % (CONTAINER_PROBE, CONTAINER_CONFIG)

    def has_health(self, group: Group) -> bool:
        if not group.health.enabled:
            return False
        return bool(group.health.cmd or group.probed_agents)

    def mount_options(self, options: Tuple[str, ...], private: bool, label: bool = True) -> str:
        """``label``: the path is one the collection creates (its files, a
        volume's host directory, a named volume), so ai_selinux relabels it;
        any other host path keeps its own label."""
        opts = list(options)
        if label and self.host.selinux and not any(o in ("z", "Z") for o in opts):
            opts.append("Z" if private else "z")
        return ",".join(opts)

    def container_unit(self, group: Group) -> str:
        cfg = self.settings
        unit: List[Tuple[str, quadlet.Value]] = [
            ("Description", group.description or "AI system group %s (%d agents)"
             % (group.name, len(group.agents))),
        ]
        # Fail closed at boot: no group starts while its firewall is not loaded.
        if cfg.firewall_required:
            unit.append(("Requires", FIREWALL_UNIT))
            unit.append(("After", FIREWALL_UNIT))
        deps = [d for d in group.depends_on if d in self.host.groups]
        for dep in deps:
            unit.append(("Requires", quadlet.service_name(self.unit_file(dep))))
        for dep in deps:
            unit.append(("After", quadlet.service_name(self.unit_file(dep))))
        mps_index = self.mps_index(group)
        if mps_index is not None:
            unit.append(("Requires", mps_units.unit_name(mps_index)))
            unit.append(("After", mps_units.unit_name(mps_index)))
        if self.pod:
            # The group lives in the pod unit's network namespace: it starts
            # after it and stops (and restarts) with it.
            pod_service = quadlet.service_name(self.pod_unit_file)
            unit.append(("BindsTo", pod_service))
            unit.append(("After", pod_service))

        image = self.unit_file(group.name, "build") if group.build else group.image
        network = "container:%s" % self.host.pod_container if self.pod else self.network_file
        box: List[Tuple[str, quadlet.Value]] = [
            ("ContainerName", group.name),
            ("HostName", group.name),
            ("Image", image),
            ("Network", network),
            ("Label", "%s=%s" % (LABEL_GROUP, group.name)),
            ("Label", LABEL_MANAGED),
        ]
        if group.entrypoint:
            box.append(("Entrypoint", entrypoint_value(group.entrypoint)))
        if group.command:
            box.append(("Exec", " ".join(quadlet.quote(c) for c in group.command)))
        env = group_environment(group, self.host.name, self.endpoints(group),
                                contract_environment(self.host, self.hosts))
        if mps_index is not None and group.gpu and group.gpu.vram_mib:
            env.update(mps_units.client_environment(group.gpu.vram_mib,
                                                    group.gpu.compute_percent))
        for name in sorted(env):
            box.append(("Environment", quadlet.env_assignment(name, env[name])))

        for cdi in (group.gpu.cdi_names if group.gpu else ()):
            box.append(("AddDevice", cdi))
        for dev in group.devices:
            box.append(("AddDevice", dev))

        config_src = "%s/groups/%s/endpoints.json" % (cfg.config_dir, group.name)
        box.append(("Volume", "%s:%s:%s" % (config_src, CONTAINER_CONFIG,
                                            self.mount_options(("ro",), True))))
        box.append(("Volume", "%s/%s:%s:%s" % (cfg.config_dir, PROBE_FILE, CONTAINER_PROBE,
                                               self.mount_options(("ro",), False))))
        for mount in group.volumes:
            source = self.volume_file(mount.source) if mount.named_volume else mount.source
            opts = self.mount_options(mount.options, True)
            box.append(("Volume", "%s:%s%s" % (source, mount.target, ":" + opts if opts else "")))
        for mount in group.readonly_mounts:
            box.append(("Volume", "%s:%s:%s" % (mount.source, mount.target,
                                                self.mount_options(mount.options, False,
                                                                   label=False))))
        if mps_index is not None:
            for source, target, opt in mps_units.client_volumes(mps_index):
                opts = self.mount_options((opt,) if opt else (), False)
                box.append(("Volume", "%s:%s%s" % (source, target, ":" + opts if opts else "")))

        for secret in group.secrets:
            spec = "%s,type=%s" % (secret.name, secret.type)
            if secret.target:
                spec += ",target=%s" % secret.target
            box.append(("Secret", spec))

        for (pgroup, _agent), pub in sorted(self.published.items()):
            if pgroup == group.name and not self.pod:
                box.append(("PublishPort", "%s:%d:%d/tcp" % (pub["address"], pub["port"],
                                                             pub["port"])))

        sec = group.security
        if sec.no_new_privileges:
            box.append(("NoNewPrivileges", True))
        for cap in sec.drop_capabilities:
            box.append(("DropCapability", cap))
        for cap in sec.add_capabilities:
            box.append(("AddCapability", cap))
        if sec.read_only:
            box.append(("ReadOnly", True))
            box.append(("ReadOnlyTmpfs", True))
        if sec.userns and not group.gpu:
            box.append(("UserNS", sec.userns))
        if sec.security_label_disable or (group.gpu and self.host.selinux):
            box.append(("SecurityLabelDisable", True))

        if self.has_health(group):
            hc = group.health
            box.extend([
                ("HealthCmd", self.health_cmd(group)),
                ("HealthInterval", hc.interval),
                ("HealthTimeout", hc.timeout),
                ("HealthRetries", hc.retries),
                ("HealthStartPeriod", hc.start_period),
                ("HealthOnFailure", hc.on_failure),
            ])
            if cfg.notify_healthy:
                box.append(("Notify", "healthy"))

        limits = []
        if group.cpus is not None:
            limits.append("--cpus=%s" % quadlet.format_value(group.cpus))
        if group.memory is not None:
            limits.append("--memory=%s" % group.memory)
        if limits:
            box.append(("PodmanArgs", " ".join(limits)))

        service: List[Tuple[str, quadlet.Value]] = [
            ("Restart", "on-failure"),
            ("RestartSec", "%ds" % cfg.restart_sec),
            ("TimeoutStartSec", self.start_timeout(group)),
        ]
        sections: List[Tuple[str, List[Tuple[str, quadlet.Value]]]] = [
            ("Unit", unit),
            ("Container", box),
            ("Service", service),
            ("Install", [("WantedBy", "multi-user.target default.target")]),
        ]
        # quadlet_options: keys the model has no field for, after the plan's own.
        extra = dict(group.quadlet_options)
        for title, pairs in sections:
            pairs.extend(extra.pop(title, ()))
        sections.extend((title, list(pairs)) for title, pairs in extra.items())
        return quadlet.render(sections)

    def mps_index(self, group: Group) -> Optional[int]:
        """The GPU whose MPS daemon serves ``group``, or None without MPS."""
        if self.host.gpu is None or self.host.gpu.sharing != "mps" or group.gpu is None:
            return None
        return mps_gpu_index(self.host, group)

    # -- pod mode --------------------------------------------------------------
    @property
    def pod_unit_file(self) -> str:
        return self.unit_file(POD_NAME)

    def pod_group(self, order: Sequence[str]) -> Group:
        """The group whose image the pod unit runs (one the host has anyway):
        the first, in start order, whose agents the ZMQ probe checks -- the
        image contract gives those python3 -- preferring an image the
        collection does not build (a rebuild of the pod's image restarts the
        pod, and with it every group of the host); else the first group."""
        groups = [self.host.groups[g] for g in order]
        probed = [g for g in groups if g.probed_agents and not g.health.cmd]
        stable = [g for g in probed if not g.build and not g.from_images]
        return (stable or probed or groups)[0]

    def pod_image(self, order: Sequence[str]) -> str:
        if self.host.pod_image:
            return self.host.pod_image
        group = self.pod_group(order)
        return self.unit_file(group.name, "build") if group.build else group.image

    def pod_unit(self, order: Sequence[str]) -> str:
        """The unit holding the host's network namespace in pod mode: a
        container on the host network that publishes every published port,
        resolves each group's name to 127.0.0.1 and does nothing else. The
        groups join it (Network=container:), which every Podman from 4.4 on
        supports."""
        image = self.pod_image(order)
        box: List[Tuple[str, quadlet.Value]] = [
            ("ContainerName", self.host.pod_container),
            ("HostName", self.host.name),
            ("Image", image),
            ("Network", self.network_file),
            ("Label", "%s=%s" % (LABEL_GROUP, POD_NAME)),
            ("Label", LABEL_MANAGED),
            ("Entrypoint", POD_PROCESS[0]),
            ("Exec", " ".join(quadlet.quote(c) for c in POD_PROCESS[1:])),
        ]
        for gname in order:
            box.append(("AddHost", "%s:%s" % (gname, LOOPBACK)))
        for (_group, _agent), pub in sorted(self.published.items()):
            box.append(("PublishPort", "%s:%d:%d/tcp" % (pub["address"], pub["port"],
                                                         pub["port"])))
        box.extend([
            ("NoNewPrivileges", True),
            ("DropCapability", "ALL"),
            ("ReadOnly", True),
            ("PodmanArgs", "--memory=64m --cpus=0.1"),
        ])
        return quadlet.render([
            ("Unit", [("Description", "AI system pod of %s: the network namespace its %d "
                       "groups share (ai_network_mode: pod)" % (self.host.name, len(order)))]),
            ("Container", box),
            ("Service", [("Restart", "always"), ("RestartSec", "%ds" % self.settings.restart_sec),
                         ("TimeoutStartSec", self.settings.start_timeout)]),
            ("Install", [("WantedBy", "multi-user.target default.target")]),
        ])

    def pod_unit_plan(self, order: Sequence[str]) -> UnitPlan:
        group = self.pod_group(order)
        return UnitPlan(
            group=POD_NAME, unit_file=self.pod_unit_file,
            service=quadlet.service_name(self.pod_unit_file),
            container=self.host.pod_container, image=self.host.pod_image or group.image_ref,
            build=not self.host.pod_image and group.build is not None, depends_on=(), gpu=False, cdi_devices=(),
            vram_mib=None, secrets=(), config_files=(), restart_on_change=(),
            healthcheck=False, agents=())

    # -- whole host ------------------------------------------------------------
    def unit_plan(self, group: Group, config_file: str) -> UnitPlan:
        unit_file = self.unit_file(group.name)
        return UnitPlan(
            group=group.name,
            unit_file=unit_file,
            service=quadlet.service_name(unit_file),
            container=group.name,
            image=group.image_ref,
            build=group.build is not None,
            depends_on=tuple(quadlet.service_name(self.unit_file(d))
                             for d in group.depends_on if d in self.host.groups),
            gpu=group.gpu is not None,
            cdi_devices=tuple(group.gpu.cdi_names) if group.gpu else (),
            vram_mib=group.gpu.vram_mib if group.gpu else None,
            secrets=tuple(s.name for s in group.secrets),
            config_files=(config_file,),
            restart_on_change=group.restart_on_change,
            healthcheck=self.has_health(group),
            agents=tuple(sorted(group.agents)),
        )

    def published_ports(self) -> Tuple[Published, ...]:
        return tuple(Published(group=v["group"], agent=v["agent"], port=v["port"],
                               address=v["address"], consumers=tuple(sorted(v["consumers"])))
                     for _k, v in sorted(self.published.items()))

    def firewall(self, published: Sequence[Published]) -> Tuple[FirewallOpening, ...]:
        openings = []
        for pub in published:
            for src_host in sorted({c.split("/")[0] for c in pub.consumers}):
                openings.append(FirewallOpening(
                    port=pub.port, proto="tcp", source=self.hosts[src_host].lan_address,
                    source_host=src_host, group=pub.group, agent=pub.agent))
        return tuple(openings)

    def link_checks(self) -> Tuple[LinkCheck, ...]:
        checks = []
        for lk in sorted(self.links, key=lambda k: (k.consumer_group, k.agent.name)):
            endpoint = self.endpoints(self.host.groups[lk.consumer_group])[lk.agent.name]
            checks.append(LinkCheck(
                name=lk.agent.name,
                from_group=lk.consumer_group,
                container=lk.consumer_group,
                to_host=lk.host,
                to_group=lk.group,
                address=endpoint["address"],
                port=lk.agent.port,
                kind="main" if lk.agent.socket == "rep" else "greeting",
                cross_host=lk.cross_host,
                policy=lk.agent.policy,
                strict=lk.strict,
                request=_freeze(json.loads(lk.request)) if lk.request else None,
                note=self.link_note(lk),
            ))
        return tuple(checks)

    def health_checks(self, order: Sequence[str]) -> Tuple[HealthCheck, ...]:
        return tuple(HealthCheck(name=agent.name, group=gname, container=gname,
                                 address="127.0.0.1", port=agent.health_port, kind="health",
                                 policy=agent.policy)
                     for gname in order for agent in self.host.groups[gname].probed_agents)

    def render(self) -> HostPlan:
        host, cfg = self.host, self.settings
        files: Dict[str, str] = {self.network_file: self.network_unit()}
        config: Dict[str, str] = {}
        units: List[UnitPlan] = []
        order = tuple(start_order(host))
        if self.pod and order:
            files[self.pod_unit_file] = self.pod_unit(order)
            units.append(self.pod_unit_plan(order))
        for gname in order:
            group = host.groups[gname]
            files.update(self.volume_units(group))
            if group.build:
                files[self.unit_file(gname, "build")] = self.build_unit(group)
            files[self.unit_file(gname)] = self.container_unit(group)
            config_file = "groups/%s/endpoints.json" % gname
            config[config_file] = self.endpoint_document(group)
            units.append(self.unit_plan(group, config_file))
        published = self.published_ports()
        links = self.link_checks()
        health = self.health_checks(order)
        gpu_units = [u for u in units if u.gpu]
        mps_indexes = sorted({i for i in (self.mps_index(host.groups[u.group]) for u in gpu_units)
                              if i is not None})
        model = host.gpu.model if host.gpu else ""
        images: Dict[str, List[str]] = {}
        for u in units:
            if not u.build and u.group != POD_NAME:
                images.setdefault(u.image, []).append(u.group)
        return HostPlan(
            host=host.name,
            lan_address=host.lan_address,
            network=NetworkPlan(name=cfg.network_name, subnet=host.subnet,
                                unit_file=self.network_file),
            quadlet_dir=cfg.quadlet_dir,
            config_dir=cfg.config_dir,
            unit_prefix=self.prefix,
            quadlet=MappingProxyType(files),
            config=MappingProxyType(config),
            units=tuple(units),
            start_order=((POD_NAME,) if self.pod and order else ()) + order,
            published=published,
            firewall=self.firewall(published),
            secrets=tuple(sorted({s for u in units for s in u.secrets})),
            images=tuple(ImageUse(image=i, groups=tuple(g)) for i, g in sorted(images.items())),
            host_dirs=tuple(HostDir(path=m.source, owner=m.owner, group=m.group, mode=m.mode)
                            for m in host_dirs(host)),
            prune_patterns=("%s*.container" % self.prefix, "%s*.volume" % self.prefix,
                            "%s*.build" % self.prefix, self.network_file),
            gpu=GpuPlan(
                required=bool(gpu_units),
                model=host.gpu.model if host.gpu else None,
                memory_mib=host.gpu.memory_mib if host.gpu else None,
                cdi_devices=tuple(sorted({d for u in gpu_units for d in u.cdi_devices})),
                vram_budgets=MappingProxyType({u.group: u.vram_mib for u in gpu_units
                                               if u.vram_mib}),
                vram_reserve_mib=host.gpu.vram_reserve_mib if host.gpu else 0,
                mps_units=MappingProxyType({mps_units.unit_name(i): mps_units.daemon_unit(i, model)
                                            for i in mps_indexes}),
                mps_lab_units=MappingProxyType({mps_units.unit_name(i): mps_units.lab_unit(i)
                                                for i in mps_indexes}),
            ),
            checks=Checks(
                links=links,
                health=health,
                cuda=tuple(u.container for u in gpu_units),
                cuda_budgets=MappingProxyType({u.container: u.vram_mib for u in gpu_units
                                               if u.vram_mib}),
                vram_enforced=bool(mps_indexes),
                units=tuple(UnitCheck(service=u.service, container=u.container,
                                      healthcheck=u.healthcheck) for u in units),
                zmq=zmq_targets(links, health),
            ),
            start_wait=self.start_wait(order),
        )


def summary_lines(plan: HostPlan) -> List[str]:
    """A readable table of one host's plan."""
    pod = any(u.group == POD_NAME for u in plan.units)
    lines = ["%s (%s): %d groups, network %s %s%s" % (
        plan.host, plan.lan_address, len([u for u in plan.units if u.group != POD_NAME]),
        plan.network.name, plan.network.subnet,
        ", one namespace for all groups (pod mode)" if pod else "")]
    group_of = {u.service: u.group for u in plan.units}
    row = "  %-26s %-6s %-5s %-10s %s"
    lines.append(row % ("GROUP", "AGENTS", "GPU", "VRAM MiB", "AFTER"))
    for u in plan.units:
        after = ", ".join(group_of[s] for s in u.depends_on)
        lines.append(row % (u.group, len(u.agents), "yes" if u.gpu else "-",
                            u.vram_mib or "-", after or "-"))
    if plan.published:
        lines.append("  published (LAN %s only, firewalled to the consumers):" % plan.lan_address)
        for p in plan.published:
            consumers = ", ".join(p.consumers)
            lines.append("    %-6d %s/%s <- %s" % (p.port, p.group, p.agent, consumers))
    else:
        lines.append("  published: none")
    remote = [lk for lk in plan.checks.links if lk.cross_host]
    lines.append("  links to other hosts: %d" % len(remote))
    for lk in remote:
        target = "%s/%s %s:%d" % (lk.to_host, lk.name, lk.address, lk.port)
        lines.append("    %s -> %s" % (lk.from_group, target))
    mon = plan.monitoring
    if mon is not None:
        lines.append("  exporter: %s:%d (firewalled to %s %s)" % (
            plan.lan_address, mon.exporter_port, mon.prometheus_host, mon.prometheus_address))
        if mon.prometheus:
            lines.append("  prometheus: %s at %s (%s), scraping %s" % (
                mon.prometheus_image, mon.prometheus_url,
                "TLS and basic auth, firewalled to %s" % ", ".join(mon.prometheus_viewers)
                if mon.prometheus_viewers else "this host only",
                ", ".join(mon.scrape_targets)))
    return lines


@dataclass(frozen=True)
class StackPlan:
    """The whole stack: the inventory's problems, or every host's plan."""

    problems: Tuple[Problem, ...]
    warnings: Tuple[str, ...]
    hosts: Mapping[str, HostPlan]  # empty when there is any problem

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> Dict[str, Json]:
        return {
            "ok": self.ok,
            "errors": [str(p) for p in self.problems],
            "problems": [p.as_dict() for p in self.problems],
            "warnings": list(self.warnings),
            "hosts": {name: plan.as_dict() for name, plan in self.hosts.items()},
        }


def plan_stack(all_hostvars: Mapping[str, Mapping[str, Any]]) -> StackPlan:
    """Validate every host and, when sound, render every host's plan.

    Nothing is rendered from an inventory that is wrong: ``hosts`` is empty
    when there is any problem."""
    return plan_with_model(all_hostvars)[0]


def plan_with_model(all_hostvars: Mapping[str, Mapping[str, Any]]
                    ) -> Tuple[StackPlan, Dict[str, Host], List[Link]]:
    """:func:`plan_stack`, with the normalized hosts and the links between
    groups it was made from (for outputs other than Quadlet, such as the
    Kubernetes manifests)."""
    hosts, problems = load_hosts(all_hostvars)
    links = check_all(hosts, problems)
    check_contract(hosts, problems)
    monitoring = stack_monitoring.parse_monitoring(all_hostvars, problems)
    if monitoring is not None:
        stack_monitoring.check_monitoring(monitoring, hosts, problems)
    warnings = tuple(w for h in sorted(hosts) for w in gpu_warnings(hosts[h]))
    if problems:
        return (StackPlan(problems=tuple(problems.items), warnings=warnings,
                          hosts=MappingProxyType({})), hosts, links)
    consumed: Dict[str, List[Link]] = {name: [] for name in hosts}
    provided: Dict[str, List[Link]] = {name: [] for name in hosts}
    for lk in links:
        consumed[lk.consumer_host].append(lk)
        provided[lk.host].append(lk)
    rendered = {name: _HostRenderer(hosts[name], hosts, consumed[name], provided[name]).render()
                for name in sorted(hosts)}
    if monitoring is not None:
        rendered = {name: with_monitoring(plan, monitoring, hosts) for name, plan in rendered.items()}
    return (StackPlan(problems=(), warnings=warnings, hosts=MappingProxyType(rendered)),
            hosts, links)


def with_monitoring(plan: HostPlan, mon: "stack_monitoring.Monitoring",
                    hosts: Mapping[str, Host]) -> HostPlan:
    """``plan`` with the host's exporter and, on the Prometheus host, Prometheus:
    their files, the exporter port opened to the Prometheus host only."""
    host = hosts[plan.host]
    digest = stack_monitoring.plan_hash({"quadlet": dict(plan.quadlet), "config": dict(plan.config)})
    quadlet_files = dict(plan.quadlet)
    config = dict(plan.config)
    on_prometheus = plan.host == mon.host
    gpus = host.gpu.count if host.gpu else 0

    prometheus_service = None
    units, order = plan.units, plan.start_order
    if on_prometheus:
        quadlet_files.update(stack_monitoring.prometheus_files(mon, host))
        config[stack_monitoring.PROMETHEUS_CONFIG] = stack_monitoring.prometheus_document(mon, hosts)
        if mon.viewers:
            config[stack_monitoring.WEB_CONFIG] = stack_monitoring.web_document(mon)
        unit_file = stack_monitoring.container_file_name(host)
        prometheus_service = quadlet.service_name(unit_file)
        # A unit of the plan like the groups': stack_units starts it, restarts
        # it when its configuration or rules change, and verify checks it.
        units += (UnitPlan(
            group=stack_monitoring.UNIT_GROUP, unit_file=unit_file, service=prometheus_service,
            container=stack_monitoring.CONTAINER_NAME, image=mon.image, build=False, depends_on=(),
            gpu=False, cdi_devices=(), vram_mib=None, secrets=(),
            config_files=(stack_monitoring.PROMETHEUS_CONFIG, stack_monitoring.RULES_FILE)
            + ((stack_monitoring.WEB_CONFIG,) if mon.viewers else ()),
            restart_on_change=(), healthcheck=False, agents=()),)
        order += (stack_monitoring.UNIT_GROUP,)
    openings = tuple(FirewallOpening(**o) for o in
                     stack_monitoring.firewall_openings(mon, hosts)[plan.host])
    images = plan.images
    if on_prometheus and mon.image not in {i.image for i in images}:
        images = tuple(sorted(images + (ImageUse(image=mon.image, groups=("prometheus",)),),
                              key=lambda i: i.image))
    monitoring = MonitoringPlan(
        exporter_port=mon.exporter_port,
        exporter_service=stack_monitoring.EXPORTER_SERVICE,
        exporter_config=stack_monitoring.EXPORTER_CONFIG,
        plan_hash=digest,
        prometheus=on_prometheus,
        prometheus_host=mon.host,
        prometheus_address=hosts[mon.host].lan_address,
        prometheus_port=mon.port,
        prometheus_image=mon.image,
        prometheus_service=prometheus_service,
        prometheus_config=stack_monitoring.PROMETHEUS_CONFIG if on_prometheus else None,
        rules_file=stack_monitoring.RULES_FILE if on_prometheus else None,
        scrape_targets=tuple("%s=%s:%d" % (h, hosts[h].lan_address, mon.exporter_port)
                             for h in sorted(hosts)),
        prometheus_url="%s://%s:%d" % ("https" if mon.viewers else "http",
                                       stack_monitoring.listen_address(mon, hosts[mon.host]),
                                       mon.port),
        prometheus_viewers=mon.viewers,
    )
    checks = dataclasses.replace(plan.checks, units=tuple(
        UnitCheck(service=u.service, container=u.container, healthcheck=u.healthcheck) for u in units))
    plan = dataclasses.replace(plan, units=units, start_order=order, checks=checks)
    # The exporter watches every unit of the host, Prometheus's too.
    config[stack_monitoring.EXPORTER_CONFIG] = json.dumps(
        stack_monitoring.exporter_document(mon, _plain(plan), digest, gpus),
        indent=2, sort_keys=True) + "\n"
    return dataclasses.replace(plan, quadlet=MappingProxyType(quadlet_files),
                               config=MappingProxyType(config),
                               firewall=plan.firewall + openings, images=images,
                               monitoring=monitoring)


def build_plan(all_hostvars: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """:func:`plan_stack` as plain data, for Ansible.

    Returns ``{"ok": bool, "errors": [text], "problems": [dict],
    "warnings": [text], "hosts": {name: host plan dict}}``.
    """
    return plan_stack(all_hostvars).as_dict()
