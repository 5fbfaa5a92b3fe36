# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's part of the plan: its Quadlet units, endpoint maps, published
ports, firewall openings and the checks verify runs.

Pure Python, no Ansible imports. The keys a model field holds as it is are
rows of ``quadlet_keys.py``'s tables; the ``key_*`` methods here give the
keys that are computed (image, network, environment, volumes, secrets,
published ports, limits, start timeout), and the ``[Unit]`` section and the
pod unit are written out.
"""

from __future__ import annotations

import json
import math
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.plan import mps_units, quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.plan.app_environment import (
    contract_environment, endpoint_document, group_environment,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    Checks, FirewallOpening, GpuPlan, HealthCheck, HostDir, HostPlan, ImageUse, LinkCheck,
    NetworkPlan, Published, UnitCheck, UnitPlan, freeze_json, zmq_targets,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet_keys import (
    BUILD_KEYS, CONTAINER_KEYS, CONTAINER_SERVICE_KEYS, INSTALL_KEYS, LABEL_MANAGED, NETWORK_KEYS,
    KeySource, computed_by, section,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    CONTAINER_CONFIG, CONTAINER_PROBE, FIREWALL_UNIT, POD_NAME, Group, Host, duration_seconds,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_rules import (
    Link, host_dirs, mps_gpu_index, network_file, start_order, unit_file,
)

# Where things live inside every container: CONTAINER_CONFIG and
# CONTAINER_PROBE (stack_model, which keeps inventory mounts off them).
PROBE_FILE = "lib/zmq_health.py"  # relative to ai_config_dir on the host
LABEL_GROUP = "io.ai-system.group"
# The pod unit's process: waits for SIGTERM (as PID 1 it needs a handler).
POD_PROCESS = ("python3", "-c", "import signal, sys; signal.signal(signal.SIGTERM, "
               "lambda *a: sys.exit(0)); signal.pause()")
# Same-host peers in pod mode, and links the application makes to localhost.
LOOPBACK = "127.0.0.1"


class HostRenderer:
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
    def source(self, group: Optional[Group] = None) -> KeySource:
        """What the key tables read for ``group`` (None: a host-wide unit)."""
        return KeySource(host=self.host, settings=self.settings, group=group,
                         health_on=bool(group is not None and self.has_health(group)),
                         gpu=bool(group is not None and group.gpu))

    def network_unit(self) -> str:
        return quadlet.render([
            ("Unit", [("Description", "AI system network on %s (DNS by container name)"
                       % self.host.name)]),
            section("Network", NETWORK_KEYS, self.source()),
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
        return quadlet.render([
            ("Unit", [("Description", "Image build for AI system group %s" % group.name)]),
            section("Build", BUILD_KEYS, self.source(group)),
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
        src, computed = self.source(group), computed_by(self)
        sections: List[Tuple[str, List[Tuple[str, quadlet.Value]]]] = [
            ("Unit", self.unit_section(group)),
            section("Container", CONTAINER_KEYS, src, computed),
            section("Service", CONTAINER_SERVICE_KEYS, src, computed),
            section("Install", INSTALL_KEYS, src),
        ]
        # quadlet_options: keys the model has no field for, after the plan's own.
        extra = dict(group.quadlet_options)
        for title, pairs in sections:
            pairs.extend(extra.pop(title, ()))
        sections.extend((title, list(pairs)) for title, pairs in extra.items())
        return quadlet.render(sections)

    def unit_section(self, group: Group) -> List[Tuple[str, quadlet.Value]]:
        """[Unit]: the description, then what the group requires and starts after."""
        unit: List[Tuple[str, quadlet.Value]] = [
            ("Description", group.description or "AI system group %s (%d agents)"
             % (group.name, len(group.agents))),
        ]
        # Fail closed at boot: no group starts while its firewall is not loaded.
        if self.settings.firewall_required:
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
        return unit

    # -- the computed keys of quadlet_keys' tables --------------------------------
    def key_image(self, src: KeySource) -> List[str]:
        group = src.group
        return [self.unit_file(group.name, "build") if group.build else group.image]

    def key_network(self, src: KeySource) -> List[str]:
        return ["container:%s" % self.host.pod_container if self.pod else self.network_file]

    def key_group_label(self, src: KeySource) -> List[str]:
        return ["%s=%s" % (LABEL_GROUP, src.group.name)]

    def key_environment(self, src: KeySource) -> List[str]:
        group = src.group
        env = group_environment(group, self.host.name, self.endpoints(group),
                                contract_environment(self.host, self.hosts))
        if self.mps_index(group) is not None and group.gpu and group.gpu.vram_mib:
            env.update(mps_units.client_environment(group.gpu.vram_mib,
                                                    group.gpu.compute_percent))
        return [quadlet.env_assignment(name, env[name]) for name in sorted(env)]

    def key_volumes(self, src: KeySource) -> List[str]:
        group, cfg = src.group, self.settings
        out = []
        config_src = "%s/groups/%s/endpoints.json" % (cfg.config_dir, group.name)
        out.append("%s:%s:%s" % (config_src, CONTAINER_CONFIG, self.mount_options(("ro",), True)))
        out.append("%s/%s:%s:%s" % (cfg.config_dir, PROBE_FILE, CONTAINER_PROBE,
                                    self.mount_options(("ro",), False)))
        for mount in group.volumes:
            source = self.volume_file(mount.source) if mount.named_volume else mount.source
            opts = self.mount_options(mount.options, True)
            out.append("%s:%s%s" % (source, mount.target, ":" + opts if opts else ""))
        for mount in group.readonly_mounts:
            out.append("%s:%s:%s" % (mount.source, mount.target,
                                     self.mount_options(mount.options, False, label=False)))
        mps_index = self.mps_index(group)
        if mps_index is not None:
            for source, target, opt in mps_units.client_volumes(mps_index):
                opts = self.mount_options((opt,) if opt else (), False)
                out.append("%s:%s%s" % (source, target, ":" + opts if opts else ""))
        return out

    def key_secrets(self, src: KeySource) -> List[str]:
        out = []
        for secret in src.group.secrets:
            spec = "%s,type=%s" % (secret.name, secret.type)
            if secret.target:
                spec += ",target=%s" % secret.target
            out.append(spec)
        return out

    def key_published(self, src: KeySource) -> List[str]:
        if self.pod:
            return []
        return ["%s:%d:%d/tcp" % (pub["address"], pub["port"], pub["port"])
                for (pgroup, _agent), pub in sorted(self.published.items())
                if pgroup == src.group.name]

    def key_label_disable(self, src: KeySource) -> List[bool]:
        group = src.group
        return [True] if group.security.security_label_disable or (
            group.gpu and self.host.selinux) else []

    def key_health_cmd(self, src: KeySource) -> List[str]:
        return [self.health_cmd(src.group)]

    def key_limits(self, src: KeySource) -> List[str]:
        group = src.group
        limits = []
        if group.cpus is not None:
            limits.append("--cpus=%s" % quadlet.format_value(group.cpus))
        if group.memory is not None:
            limits.append("--memory=%s" % group.memory)
        return [" ".join(limits)] if limits else []

    def key_start_timeout(self, src: KeySource) -> List[int]:
        return [self.start_timeout(src.group)]

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
                request=freeze_json(json.loads(lk.request)) if lk.request else None,
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
