# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``ai_monitoring`` section of the inventory: a Prometheus server on one
host, an exporter on every host, and what the plan makes of them.

Pure Python, no Ansible imports. :func:`parse_monitoring` reads the section
(it lives in ``group_vars/all``, so every host carries the same value) and
records located problems; :func:`check_monitoring` adds the rules that need
the hosts (the Prometheus host exists, no port clashes with an agent);
:func:`render_host` gives each host its part of the plan: the exporter's
configuration, and on the Prometheus host its Quadlet unit, volume,
configuration and alert rules.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.ai_system.containers.plugins.module_utils import quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.stack_model import (
    IMAGE_RE, Host, Problems, _check_keys, _duration, _suggest, duration_seconds, parse_port,
)

# The collection's version, as galaxy.yml has it (a unit test keeps the two equal).
COLLECTION_VERSION = "0.1.0"

VAR = "ai_monitoring"
MONITORING_KEYS = ("prometheus", "exporter")
PROMETHEUS_KEYS = ("host", "image", "port", "scrape_interval", "retention", "volume")
EXPORTER_KEYS = ("port", "probe_interval", "probe_timeout", "cache", "gpu")

# Where the exporter's configuration and the rules live, under ai_config_dir.
EXPORTER_CONFIG = "monitoring/exporter.json"
PROMETHEUS_CONFIG = "monitoring/prometheus.yml"
RULES_FILE = "monitoring/ai-system-alerts.yml"
# Where the Prometheus container reads them.
CONTAINER_CONFIG_DIR = "/etc/prometheus/ai-system"
CONTAINER_DATA_DIR = "/var/lib/prometheus"
EXPORTER_SERVICE = "ai-system-exporter.service"
# Prometheus as a unit of the plan: its group name and container name.
UNIT_GROUP = "prometheus"
CONTAINER_NAME = "ai-prometheus"

VOLUME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}\Z")


@dataclass(frozen=True)
class Monitoring:
    """The normalized ``ai_monitoring`` section."""

    host: str
    image: str
    port: int = 9090
    scrape_interval: str = "15s"
    retention: str = "15d"
    volume: str = "ai-prometheus-data"
    exporter_port: int = 9464
    probe_interval: str = "30s"
    probe_timeout: str = "2s"
    cache: str = "5s"
    gpu: bool = True  # read NVML (false where the GPU is a stand-in, as in the lab)


def _section(hostvars: Mapping[str, Mapping[str, Any]], problems: Problems) -> Any:
    """The one value of ai_monitoring all hosts share (None when absent)."""
    values: Dict[str, Any] = {}
    for name in sorted(hostvars):
        value = (hostvars[name] or {}).get(VAR)
        if value not in (None, False):
            values[name] = value
    if not values:
        return None
    names = sorted(values)
    first = values[names[0]]
    for name in names[1:]:
        if values[name] != first:
            problems.add("%s differs between hosts %s and %s" % (VAR, names[0], name),
                         "define it once, in group_vars/all/", host=name, field=VAR)
            return None
    if len(values) != len(hostvars):
        lacking = sorted(set(hostvars) - set(values))
        problems.add("%s is set on %s but not on %s" % (VAR, ", ".join(names), ", ".join(lacking)),
                     "define it once, in group_vars/all/, so that every host has it",
                     host=lacking[0], field=VAR)
        return None
    return first


def parse_monitoring(hostvars: Mapping[str, Mapping[str, Any]],
                     problems: Problems) -> Optional[Monitoring]:
    """The monitoring section, or None when there is none or it is wrong."""
    raw = _section(hostvars, problems)
    if raw is None:
        return None
    before = len(problems)
    if not isinstance(raw, Mapping):
        problems.add("%s must be a mapping with prometheus and exporter, or false" % VAR,
                     "see docs/monitoring.md", field=VAR)
        return None
    _check_keys(raw, MONITORING_KEYS, problems, VAR)
    prom = raw.get("prometheus")
    if not isinstance(prom, Mapping):
        problems.add("%s.prometheus is missing or not a mapping" % VAR,
                     "give at least prometheus.host and prometheus.image", field=VAR + ".prometheus")
        return None
    exporter = raw.get("exporter") or {}
    if not isinstance(exporter, Mapping):
        problems.add("%s.exporter must be a mapping" % VAR, "e.g. {port: 9464}",
                     field=VAR + ".exporter")
        exporter = {}
    _check_keys(prom, PROMETHEUS_KEYS, problems, VAR + ".prometheus")
    _check_keys(exporter, EXPORTER_KEYS, problems, VAR + ".exporter")
    values: Dict[str, Any] = {}
    host = prom.get("host")
    if not isinstance(host, str) or not host:
        problems.add("%s.prometheus.host is missing" % VAR,
                     "name the inventory host that runs Prometheus (one of %s)"
                     % ", ".join(sorted(hostvars)), field=VAR + ".prometheus.host")
    else:
        values["host"] = host
    image = prom.get("image")
    if not isinstance(image, str) or not image.strip():
        problems.add("%s.prometheus.image is missing: there is no Prometheus image to run" % VAR,
                     "set it to an image with /usr/bin/prometheus (the lab builds "
                     "localhost/ai-system/lab-prometheus:latest from Debian's prometheus package)",
                     field=VAR + ".prometheus.image")
    elif not IMAGE_RE.match(image):
        problems.add("%s.prometheus.image %r is not an image reference" % (VAR, image),
                     "e.g. docker.io/prom/prometheus:v2.53.0", field=VAR + ".prometheus.image")
    else:
        values["image"] = image
    for raw_section, key, attr, prefix in (
            (prom, "port", "port", "prometheus"), (exporter, "port", "exporter_port", "exporter")):
        if key in raw_section:
            port = parse_port(raw_section[key], problems, field="%s.%s.%s" % (VAR, prefix, key))
            if port is not None:
                values[attr] = port
    for raw_section, key, prefix in ((prom, "scrape_interval", "prometheus"),
                                     (prom, "retention", "prometheus"),
                                     (exporter, "probe_interval", "exporter"),
                                     (exporter, "probe_timeout", "exporter"),
                                     (exporter, "cache", "exporter")):
        if key in raw_section:
            text = _duration(raw_section[key], problems, "%s.%s.%s" % (VAR, prefix, key))
            if text is not None:
                values[key] = text
    if "gpu" in exporter:
        if isinstance(exporter["gpu"], bool):
            values["gpu"] = exporter["gpu"]
        else:
            problems.add("%s.exporter.gpu must be true or false" % VAR,
                         "false leaves NVML alone (hosts whose GPU is a stand-in)",
                         field=VAR + ".exporter.gpu")
    if "volume" in prom:
        volume = prom["volume"]
        if not isinstance(volume, str) or not VOLUME_RE.match(volume):
            problems.add("%s.prometheus.volume %r is not a volume name" % (VAR, volume),
                         "use letters, digits, '_', '.' and '-'", field=VAR + ".prometheus.volume")
        else:
            values["volume"] = volume
    if len(problems) != before or "host" not in values or "image" not in values:
        return None
    mon = Monitoring(**values)
    if duration_seconds(mon.probe_timeout) * 2 > duration_seconds(mon.probe_interval):
        problems.add("%s.exporter.probe_timeout %s is more than half of probe_interval %s"
                     % (VAR, mon.probe_timeout, mon.probe_interval),
                     "a probe round must end well before the next one starts: lower the "
                     "timeout or raise the interval", field=VAR + ".exporter.probe_timeout")
        return None
    return mon


def check_monitoring(mon: Monitoring, hosts: Mapping[str, Host], problems: Problems) -> None:
    """Rules that need the hosts: Prometheus's host exists; neither its port
    nor the exporter's is a port an agent or service claims."""
    if mon.host not in hosts:
        problems.add("%s.prometheus.host names unknown host '%s'" % (VAR, mon.host),
                     _suggest(mon.host, sorted(hosts)), field=VAR + ".prometheus.host")
    else:
        host = hosts[mon.host]
        taken = [g for g in (UNIT_GROUP, CONTAINER_NAME) if g in host.groups]
        for gname in taken:
            problems.add("group %s has the name of Prometheus's unit or container on %s" % (gname, mon.host),
                         "rename the group, or run Prometheus on another host", host=mon.host,
                         group=gname)
    for hname in sorted(hosts):
        host = hosts[hname]
        ours = [("exporter", "port", mon.exporter_port)]
        if hname == mon.host:
            ours.append(("prometheus", "port", mon.port))
        if hname == mon.host and mon.port == mon.exporter_port:
            problems.add("Prometheus and the exporter both use port %d on %s" % (mon.port, hname),
                         "give %s.prometheus.port and %s.exporter.port different values" % (VAR, VAR),
                         host=hname, field=VAR + ".prometheus.port")
        for what, key, port in ours:
            for gname in sorted(host.groups):
                group = host.groups[gname]
                for agent in sorted(group.agents.values(), key=lambda a: a.name):
                    for kind, used in (("port", agent.port), ("health_port", agent.health_port)):
                        if used == port:
                            problems.add("%s.%s.%s %d is also the %s of agent %s"
                                         % (VAR, what, key, port, kind, agent.name),
                                         "give the %s another port, or move the agent in "
                                         "host_vars/%s/groups.yml" % (what, hname),
                                         host=hname, group=gname, agent=agent.name,
                                         field="%s.%s.%s" % (VAR, what, key))
                for svc in group.ports:
                    if svc.port == port:
                        problems.add("%s.%s.%s %d is also the port %s of group %s"
                                     % (VAR, what, key, port, svc.name, gname),
                                     "give the %s another port" % what, host=hname, group=gname,
                                     field="%s.%s.%s" % (VAR, what, key))


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------

def exporter_document(mon: Monitoring, host_plan: Mapping[str, Any], plan_hash: str,
                      host_gpus: int) -> Dict[str, Any]:
    """What the exporter on one host reads: the units, the agents' health and
    link checks (the plan's own ``checks.zmq`` targets), the VRAM budgets."""
    checks = host_plan["checks"]
    return {
        "host": host_plan["host"],
        "listen_address": host_plan["lan_address"],
        "port": mon.exporter_port,
        "collection_version": COLLECTION_VERSION,
        "plan_hash": plan_hash,
        "cache_seconds": duration_seconds(mon.cache),
        "probe_interval_seconds": duration_seconds(mon.probe_interval),
        "probe_timeout_seconds": duration_seconds(mon.probe_timeout),
        "units": [{"group": u["group"], "service": u["service"], "container": u["container"],
                   "healthcheck": u["healthcheck"]} for u in host_plan["units"]],
        "zmq": checks["zmq"],
        "links": [{"name": lk["name"], "from_group": lk["from_group"], "to_host": lk["to_host"],
                   "to_group": lk["to_group"], "address": lk["address"], "port": lk["port"],
                   "kind": lk["kind"], "cross_host": lk["cross_host"]} for lk in checks["links"]],
        "read_gpus": mon.gpu,
        "vram_budgets_mib": dict(host_plan["gpu"]["vram_budgets"]),
        "gpus_expected": host_gpus if mon.gpu else 0,
    }


def prometheus_document(mon: Monitoring, hosts: Mapping[str, Host]) -> str:
    """prometheus.yml: one job scraping every host's exporter, labelled by host."""
    lines = [
        "# Generated by ai_system.containers from the inventory's ai_monitoring.",
        "global:",
        "  scrape_interval: %s" % mon.scrape_interval,
        "  evaluation_interval: %s" % mon.scrape_interval,
        "rule_files:",
        "  - %s/%s" % (CONTAINER_CONFIG_DIR, RULES_FILE.rsplit("/", 1)[1]),
        "scrape_configs:",
        "  - job_name: ai-system-exporter",
        "    scrape_timeout: %s" % mon.scrape_interval,
        "    static_configs:",
    ]
    for hname in sorted(hosts):
        # JSON strings are YAML strings: a name is one quoted scalar, whatever it holds.
        lines.append("      - targets: [%s]" % json.dumps("%s:%d" % (hosts[hname].lan_address,
                                                                    mon.exporter_port)))
        lines.append("        labels: {host: %s}" % json.dumps(hname))
    return "\n".join(lines) + "\n"


def prometheus_unit(mon: Monitoring, host: Host, volume_file: str) -> str:
    """The Prometheus container: host network (it scrapes the exporters on
    the LAN addresses, so the firewall sees the host's own address), listening
    on the LAN address only, data on a named volume."""
    config_dir = "%s/monitoring" % host.settings.config_dir
    relabel = ",z" if host.selinux else ""
    return quadlet.render([
        ("Unit", [("Description", "Prometheus of the AI system (scrapes every host's exporter)"),
                  ("Wants", "network-online.target"), ("After", "network-online.target")]),
        ("Container", [
            ("ContainerName", CONTAINER_NAME),
            ("Image", mon.image),
            ("Network", "host"),
            ("Volume", "%s:%s%s" % (volume_file, CONTAINER_DATA_DIR, "" if not relabel else ":Z")),
            ("Volume", "%s:%s:ro%s" % (config_dir, CONTAINER_CONFIG_DIR, relabel)),
            ("Label", "io.ai-system.managed-by=ai_system.containers"),
            ("Exec", " ".join([
                "--config.file=%s/prometheus.yml" % CONTAINER_CONFIG_DIR,
                "--storage.tsdb.path=%s" % CONTAINER_DATA_DIR,
                "--storage.tsdb.retention.time=%s" % mon.retention,
                "--web.listen-address=%s:%d" % (host.lan_address, mon.port),
            ])),
        ]),
        ("Service", [("Restart", "always"), ("RestartSec", host.settings.restart_sec)]),
        ("Install", [("WantedBy", "multi-user.target")]),
    ])


def volume_unit(mon: Monitoring) -> str:
    return quadlet.render([
        ("Unit", [("Description", "Prometheus data of the AI system")]),
        ("Volume", [("VolumeName", mon.volume),
                    ("Label", "io.ai-system.managed-by=ai_system.containers")]),
    ])


def plan_hash(host_plan: Mapping[str, Any]) -> str:
    """sha256 of what the host runs: its unit files and configuration."""
    data = json.dumps({"quadlet": host_plan["quadlet"], "config": host_plan["config"]},
                      sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def firewall_openings(mon: Monitoring, hosts: Mapping[str, Host]) -> Dict[str, List[Dict[str, Any]]]:
    """host -> the exporter port opened to the Prometheus host's address."""
    source = hosts[mon.host].lan_address
    return {hname: [{"port": mon.exporter_port, "proto": "tcp", "source": source,
                     "source_host": mon.host, "group": "monitoring", "agent": "exporter"}]
            for hname in hosts}


def prometheus_files(mon: Monitoring, host: Host) -> Dict[str, str]:
    """The Quadlet files of the Prometheus host: its container and volume.
    (prometheus.yml is config; the alert rules are a file of the stack role.)"""
    volume_file = volume_file_name(host)
    return {
        container_file_name(host): prometheus_unit(mon, host, volume_file),
        volume_file: volume_unit(mon),
    }


def container_file_name(host: Host) -> str:
    return "%sprometheus.container" % host.settings.unit_prefix


def volume_file_name(host: Host) -> str:
    return "%sprometheus-data.volume" % host.settings.unit_prefix
