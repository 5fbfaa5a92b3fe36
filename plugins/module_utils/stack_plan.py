# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack plan: every host's inventory in, every host's files out.

Pure Python, no Ansible imports. :func:`build_plan` validates the whole
topology (all problems at once) and, when it is sound, returns per host the
Quadlet files, the endpoint map each group receives, the ports to publish and
the firewall openings, the secrets needed and the checks ``verify`` runs.
The result is plain data (JSON-serializable).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils import quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.stack_model import (
    Group, Host, load_hosts,
)
from ansible_collections.ai_system.containers.plugins.module_utils.stack_rules import (
    Link, check_all, gpu_warnings, start_order,
)

# Where things live inside every container.
CONTAINER_CONFIG = "/etc/ai-system/endpoints.json"
CONTAINER_PROBE = "/usr/local/lib/ai-system/zmq_health.py"
PROBE_FILE = "lib/zmq_health.py"  # relative to ai_config_dir on the host
LABEL_GROUP = "io.ai-system.group"
LABEL_MANAGED = "io.ai-system.managed-by=ai_system.containers"


def env_name(agent: str) -> str:
    """MemoryOrchestratorService -> AI_ENDPOINT_MEMORY_ORCHESTRATOR_SERVICE."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", agent)
    return "AI_ENDPOINT_" + snake.upper()


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
        return "%s%s.%s" % (self.prefix, group, kind)

    @property
    def network_file(self) -> str:
        return "%s.network" % self.settings.network_name

    def volume_file(self, name: str) -> str:
        return "%s%s.volume" % (self.prefix, name)

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
            else:
                address, health_port = lk.group, agent.health_port
            out[agent.name] = {
                "host": lk.host, "group": lk.group, "address": address,
                "port": agent.port, "health_port": health_port, "socket": agent.socket,
                "remote": lk.cross_host, "url": "tcp://%s:%d" % (address, agent.port),
            }
        self._endpoints[group.name] = out
        return out

    def endpoint_document(self, group: Group) -> str:
        doc = {
            "group": group.name,
            "host": self.host.name,
            "agents": {a.name: {"port": a.port, "health_port": a.health_port,
                                "socket": a.socket, "health_policy": a.policy.as_dict()}
                       for a in sorted(group.agents.values(), key=lambda a: a.name)},
            "connects_to": sorted(lk.agent.name
                                  for lk in self.links_by_group.get(group.name, [])),
            "endpoints": self.endpoints(group),
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

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

    def mount_options(self, options: Tuple[str, ...], private: bool) -> str:
        opts = list(options)
        if self.host.selinux and not any(o in ("z", "Z") for o in opts):
            opts.append("Z" if private else "z")
        return ",".join(opts)

    def container_unit(self, group: Group) -> str:
        cfg = self.settings
        unit: List[Tuple[str, quadlet.Value]] = [
            ("Description", group.description or "AI system group %s (%d agents)"
             % (group.name, len(group.agents))),
        ]
        deps = [d for d in group.depends_on if d in self.host.groups]
        for dep in deps:
            unit.append(("Requires", quadlet.service_name(self.unit_file(dep))))
        for dep in deps:
            unit.append(("After", quadlet.service_name(self.unit_file(dep))))

        image = self.unit_file(group.name, "build") if group.build else group.image
        box: List[Tuple[str, quadlet.Value]] = [
            ("ContainerName", group.name),
            ("HostName", group.name),
            ("Image", image),
            ("Network", self.network_file),
            ("Label", "%s=%s" % (LABEL_GROUP, group.name)),
            ("Label", LABEL_MANAGED),
        ]
        if group.command:
            box.append(("Exec", " ".join(quadlet.quote(c) for c in group.command)))
        env = dict(group.env)
        env.update({
            "CONTAINER_GROUP": group.name,
            "AI_SYSTEM_GROUP": group.name,
            "AI_SYSTEM_HOST": self.host.name,
            "AI_SYSTEM_CONFIG": CONTAINER_CONFIG,
            "AI_SYSTEM_AGENTS": ",".join(
                "%s:%d:%s" % (a.name, a.port, a.health_port or "")
                for a in sorted(group.agents.values(), key=lambda a: a.name)),
        })
        for aname, endpoint in self.endpoints(group).items():
            env[env_name(aname)] = endpoint["url"]
        if group.gpu:
            env["NVIDIA_DRIVER_CAPABILITIES"] = ",".join(group.gpu.capabilities)
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
                                                self.mount_options(mount.options, False))))

        for secret in group.secrets:
            spec = "%s,type=%s" % (secret.name, secret.type)
            if secret.target:
                spec += ",target=%s" % secret.target
            box.append(("Secret", spec))

        for (pgroup, _agent), pub in sorted(self.published.items()):
            if pgroup == group.name:
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
            ("TimeoutStartSec", cfg.start_timeout),
        ]
        return quadlet.render([
            ("Unit", unit),
            ("Container", box),
            ("Service", service),
            ("Install", [("WantedBy", "multi-user.target default.target")]),
        ])

    # -- whole host ------------------------------------------------------------
    def render(self) -> Dict[str, Any]:
        host, cfg = self.host, self.settings
        files: Dict[str, str] = {self.network_file: self.network_unit()}
        config: Dict[str, str] = {}
        units = []
        order = start_order(host)
        for gname in order:
            group = host.groups[gname]
            files.update(self.volume_units(group))
            if group.build:
                files[self.unit_file(gname, "build")] = self.build_unit(group)
            unit_file = self.unit_file(gname)
            files[unit_file] = self.container_unit(group)
            config_file = "groups/%s/endpoints.json" % gname
            config[config_file] = self.endpoint_document(group)
            units.append({
                "group": gname,
                "unit_file": unit_file,
                "service": quadlet.service_name(unit_file),
                "container": gname,
                "image": group.image_ref,
                "build": group.build is not None,
                "depends_on": [quadlet.service_name(self.unit_file(d))
                               for d in group.depends_on if d in host.groups],
                "depends_on_groups": [d for d in group.depends_on if d in host.groups],
                "gpu": group.gpu is not None,
                "cdi_devices": list(group.gpu.cdi_names) if group.gpu else [],
                "vram_mib": group.gpu.vram_mib if group.gpu else None,
                "secrets": [s.name for s in group.secrets],
                "config_files": [config_file],
                "healthcheck": self.has_health(group),
                "agents": sorted(group.agents),
            })
        published = [dict(v, consumers=sorted(v["consumers"]))
                     for _k, v in sorted(self.published.items())]
        firewall = []
        for pub in published:
            sources = sorted({c.split("/")[0] for c in pub["consumers"]})
            for src_host in sources:
                firewall.append({
                    "port": pub["port"], "proto": "tcp",
                    "source": self.hosts[src_host].lan_address, "source_host": src_host,
                    "group": pub["group"], "agent": pub["agent"],
                })
        links = []
        for lk in sorted(self.links, key=lambda k: (k.consumer_group, k.agent.name)):
            endpoint = self.endpoints(host.groups[lk.consumer_group])[lk.agent.name]
            links.append({
                "name": lk.agent.name,
                "from_group": lk.consumer_group,
                "container": lk.consumer_group,
                "to_host": lk.host,
                "to_group": lk.group,
                "address": endpoint["address"],
                "port": lk.agent.port,
                "kind": "main" if lk.agent.socket == "rep" else "greeting",
                "cross_host": lk.cross_host,
                "policy": lk.agent.policy.as_dict(),
                "strict": lk.strict,
                "request": json.loads(lk.request) if lk.request else None,
            })
        health = []
        for gname in order:
            for agent in host.groups[gname].probed_agents:
                health.append({"name": agent.name, "group": gname, "container": gname,
                               "address": "127.0.0.1", "port": agent.health_port,
                               "kind": "health", "policy": agent.policy.as_dict()})
        gpu_units = [u for u in units if u["gpu"]]
        images: Dict[str, List[str]] = {}
        for u in units:
            if not u["build"]:
                images.setdefault(u["image"], []).append(u["group"])
        return {
            "host": host.name,
            "lan_address": host.lan_address,
            "network": {"name": cfg.network_name, "subnet": host.subnet,
                        "unit_file": self.network_file},
            "quadlet_dir": cfg.quadlet_dir,
            "config_dir": cfg.config_dir,
            "unit_prefix": self.prefix,
            "quadlet": files,
            "config": config,
            "units": units,
            "start_order": order,
            "published": published,
            "firewall": firewall,
            "secrets": sorted({s for u in units for s in u["secrets"]}),
            "images": [{"image": i, "groups": g} for i, g in sorted(images.items())],
            "host_dirs": sorted({m.source for g in host.groups.values() for m in g.volumes
                                 if not m.named_volume}),
            "prune_patterns": ["%s*.container" % self.prefix, "%s*.volume" % self.prefix,
                               "%s*.build" % self.prefix, self.network_file],
            "gpu": {
                "required": bool(gpu_units),
                "model": host.gpu.model if host.gpu else None,
                "memory_mib": host.gpu.memory_mib if host.gpu else None,
                "cdi_devices": sorted({d for u in gpu_units for d in u["cdi_devices"]}),
                "vram_budgets": {u["group"]: u["vram_mib"] for u in gpu_units if u["vram_mib"]},
            },
            "checks": {
                "links": links,
                "health": health,
                "cuda": [u["container"] for u in gpu_units],
                "units": [u["service"] for u in units],
            },
        }


def summary_lines(host_plan: Mapping[str, Any]) -> List[str]:
    """A readable table of one host's plan."""
    lines = ["%s (%s): %d groups, network %s %s" % (
        host_plan["host"], host_plan["lan_address"], len(host_plan["units"]),
        host_plan["network"]["name"], host_plan["network"]["subnet"])]
    row = "  %-26s %-6s %-5s %-10s %s"
    lines.append(row % ("GROUP", "AGENTS", "GPU", "VRAM MiB", "AFTER"))
    for u in host_plan["units"]:
        lines.append(row % (u["group"], len(u["agents"]), "yes" if u["gpu"] else "-",
                            u["vram_mib"] or "-", ", ".join(u["depends_on_groups"]) or "-"))
    if host_plan["published"]:
        lines.append("  published (LAN %s only, firewalled to the consumers):"
                     % host_plan["lan_address"])
        for p in host_plan["published"]:
            consumers = ", ".join(p["consumers"])
            lines.append("    %-6d %s/%s <- %s" % (p["port"], p["group"], p["agent"], consumers))
    else:
        lines.append("  published: none")
    remote = [lk for lk in host_plan["checks"]["links"] if lk["cross_host"]]
    lines.append("  links to other hosts: %d" % len(remote))
    for lk in remote:
        target = "%s/%s %s:%d" % (lk["to_host"], lk["name"], lk["address"], lk["port"])
        lines.append("    %s -> %s" % (lk["from_group"], target))
    return lines


def build_plan(all_hostvars: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Validate every host and, when sound, render every host's plan.

    Returns ``{"ok": bool, "errors": [text], "problems": [dict],
    "warnings": [text], "hosts": {name: host plan}}``. ``hosts`` is empty when
    there is any error: nothing is rendered from an inventory that is wrong.
    """
    hosts, problems = load_hosts(all_hostvars)
    links = check_all(hosts, problems)
    warnings = [w for h in sorted(hosts) for w in gpu_warnings(hosts[h])]
    result: Dict[str, Any] = {
        "ok": not problems,
        "errors": [str(p) for p in problems.items],
        "problems": [p.as_dict() for p in problems.items],
        "warnings": warnings,
        "hosts": {},
    }
    if problems:
        return result
    consumed: Dict[str, List[Link]] = {name: [] for name in hosts}
    provided: Dict[str, List[Link]] = {name: [] for name in hosts}
    for lk in links:
        consumed[lk.consumer_host].append(lk)
        provided[lk.host].append(lk)
    for name in sorted(hosts):
        plan = _HostRenderer(hosts[name], hosts, consumed[name], provided[name]).render()
        plan["summary"] = summary_lines(plan)
        result["hosts"][name] = plan
    return result
