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
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.model.model_values import (
    check_host_path, check_keys, parse_duration, parse_port, suggest,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    FIREWALL_UNIT, IMAGE_RE, Host, Problems, duration_seconds,
)

# The collection's version, as galaxy.yml has it (a unit test keeps the two equal).
COLLECTION_VERSION = "0.1.0"

VAR = "ai_monitoring"
MONITORING_KEYS = ("prometheus", "exporter")
PROMETHEUS_KEYS = ("host", "image", "port", "scrape_interval", "retention", "volume", "viewers",
                   "web")
# Prometheus' own web configuration (--web.config.file), required with viewers.
WEB_KEYS = ("tls_cert", "tls_key", "users")
# A bcrypt hash, as Prometheus' basic_auth_users wants it.
BCRYPT_RE = re.compile(r"\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}\Z")
USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\Z")
EXPORTER_KEYS = ("port", "probe_interval", "probe_timeout", "cache", "gpu")

# Where the exporter's configuration and the rules live, under ai_config_dir.
EXPORTER_CONFIG = "monitoring/exporter.json"
PROMETHEUS_CONFIG = "monitoring/prometheus.yml"
WEB_CONFIG = "monitoring/web.yml"
# Where the Prometheus container reads the TLS certificate and key.
CONTAINER_TLS_DIR = "/etc/prometheus/tls"
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
    # Who may reach Prometheus from the LAN (IPv4 addresses); none: it listens
    # on 127.0.0.1 only. With viewers, TLS and basic auth (web) are required.
    viewers: Tuple[str, ...] = ()
    tls_cert: str = ""  # host path on the Prometheus host
    tls_key: str = ""
    users: Tuple[Tuple[str, str], ...] = ()  # (user, bcrypt hash)


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
    check_keys(raw, MONITORING_KEYS, problems, VAR)
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
    check_keys(prom, PROMETHEUS_KEYS, problems, VAR + ".prometheus")
    check_keys(exporter, EXPORTER_KEYS, problems, VAR + ".exporter")
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
            text = parse_duration(raw_section[key], problems, "%s.%s.%s" % (VAR, prefix, key))
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
    values.update(_parse_exposure(prom, problems))
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


def _parse_exposure(prom: Mapping[str, Any], problems: Problems) -> Dict[str, Any]:
    """viewers and web: who may reach Prometheus from the LAN, and how it
    proves itself (TLS) and them (basic auth)."""
    values: Dict[str, Any] = {}
    where = VAR + ".prometheus"
    raw = prom.get("viewers")
    if raw in (None, []):
        viewers: List[str] = []
    elif not isinstance(raw, list):
        problems.add("%s.viewers must be a list of IPv4 addresses" % where,
                     "write e.g. viewers: [192.168.1.50], or leave it out to keep Prometheus "
                     "on 127.0.0.1", field=where + ".viewers")
        return values
    else:
        viewers = []
        for item in raw:
            try:
                addr = ipaddress.ip_address(str(item))
            except ValueError:
                addr = None
            if addr is None or addr.version != 4 or addr.is_unspecified or addr.is_multicast \
                    or addr.is_loopback or str(addr) == "255.255.255.255":
                problems.add("%s.viewers entry %r is not one IPv4 host address" % (where, item),
                             "name each machine that may see Prometheus by its LAN address "
                             "(no networks, no 0.0.0.0)", field=where + ".viewers")
            elif str(addr) not in viewers:
                viewers.append(str(addr))
    web = prom.get("web")
    if not viewers:
        if web is not None:
            problems.add("%s.web is set but there are no viewers: Prometheus listens on "
                         "127.0.0.1 only" % where, "add viewers, or remove web",
                         field=where + ".web")
        return values
    if not isinstance(web, Mapping):
        problems.add("%s.viewers is set but %s.web is not: Prometheus would be reachable "
                     "from the LAN without TLS and passwords" % (where, where),
                     "add web: {tls_cert: /path/cert.pem, tls_key: /path/key.pem, "
                     "users: {name: <bcrypt hash>}} (docs/monitoring.md)", field=where + ".web")
        return values
    check_keys(web, WEB_KEYS, problems, where + ".web")
    for key in ("tls_cert", "tls_key"):
        path = web.get(key)
        field_ = "%s.web.%s" % (where, key)
        if not isinstance(path, str) or not path:
            problems.add("%s is missing" % field_, "give the path of the PEM file on the "
                         "Prometheus host", field=field_)
        elif check_host_path(path, problems, field_) and not re.match(r"[A-Za-z0-9_.@+/-]+\Z", path):
            problems.add("%s %r holds characters a mount cannot" % (field_, path),
                         "use letters, digits, '.', '_', '-', '@', '+' and '/'", field=field_)
        else:
            values[key] = path
    users = web.get("users")
    field_ = where + ".web.users"
    if not isinstance(users, Mapping) or not users:
        problems.add("%s must map at least one user name to a bcrypt hash" % field_,
                     "e.g. users: {grafana: '$2b$12$...'} (htpasswd -nbB or "
                     "python3 -c 'import bcrypt; ...')", field=field_)
    else:
        pairs = []
        for user, digest in users.items():
            if not isinstance(user, str) or not USER_RE.match(user):
                problems.add("%s user name %r is not valid" % (field_, user),
                             "use letters, digits, '.', '_', '@' and '-'", field=field_)
            elif not isinstance(digest, str) or not BCRYPT_RE.match(digest):
                problems.add("%s.%s is not a bcrypt hash" % (field_, user),
                             "give the bcrypt hash of the password ($2b$...), never the "
                             "password itself", field="%s.%s" % (field_, user))
            else:
                pairs.append((user, digest))
        values["users"] = tuple(sorted(pairs))
    values["viewers"] = tuple(viewers)
    return values


def check_monitoring(mon: Monitoring, hosts: Mapping[str, Host], problems: Problems) -> None:
    """Rules that need the hosts: Prometheus's host exists; neither its port
    nor the exporter's is a port an agent or service claims."""
    if mon.host not in hosts:
        problems.add("%s.prometheus.host names unknown host '%s'" % (VAR, mon.host),
                     suggest(mon.host, sorted(hosts)), field=VAR + ".prometheus.host")
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
        target = "%s:%d" % (hosts[hname].lan_address, mon.exporter_port)
        lines.append("      - targets: [%s]" % json.dumps(target))
        lines.append("        labels: {host: %s}" % json.dumps(hname))
    return "\n".join(lines) + "\n"


def listen_address(mon: Monitoring, host: Host) -> str:
    """127.0.0.1 unless viewers are named; then the host's LAN address."""
    return host.lan_address if mon.viewers else "127.0.0.1"


def web_document(mon: Monitoring) -> str:
    """web.yml (--web.config.file): TLS with the given certificate and key,
    basic auth for the given users. Every value a JSON (so YAML) string."""
    lines = [
        "# Generated by ai_system.containers from the inventory's ai_monitoring.",
        "tls_server_config:",
        "  cert_file: %s" % json.dumps("%s/cert.pem" % CONTAINER_TLS_DIR),
        "  key_file: %s" % json.dumps("%s/key.pem" % CONTAINER_TLS_DIR),
        "basic_auth_users:",
    ]
    lines += ["  %s: %s" % (json.dumps(user), json.dumps(digest)) for user, digest in mon.users]
    return "\n".join(lines) + "\n"


def prometheus_unit(mon: Monitoring, host: Host, volume_file: str) -> str:
    """The Prometheus container: host network (it scrapes the exporters on
    the LAN addresses, so the firewall sees the host's own address), listening
    on 127.0.0.1, or with viewers on the LAN address behind TLS and basic
    auth; data on a named volume; hardened like the groups."""
    config_dir = "%s/monitoring" % host.settings.config_dir
    # Only what the collection creates is relabelled: its volume and config folder.
    relabel = ",z" if host.selinux else ""
    box: List[Tuple[str, quadlet.Value]] = [
        ("ContainerName", CONTAINER_NAME),
        ("Image", mon.image),
        ("Network", "host"),
        ("Volume", "%s:%s%s" % (volume_file, CONTAINER_DATA_DIR, "" if not relabel else ":Z")),
        ("Volume", "%s:%s:ro%s" % (config_dir, CONTAINER_CONFIG_DIR, relabel)),
    ]
    args = [
        "--config.file=%s/prometheus.yml" % CONTAINER_CONFIG_DIR,
        "--storage.tsdb.path=%s" % CONTAINER_DATA_DIR,
        "--storage.tsdb.retention.time=%s" % mon.retention,
        "--web.listen-address=%s:%d" % (listen_address(mon, host), mon.port),
    ]
    if mon.viewers:
        box.append(("Volume", "%s:%s/cert.pem:ro" % (mon.tls_cert, CONTAINER_TLS_DIR)))
        box.append(("Volume", "%s:%s/key.pem:ro" % (mon.tls_key, CONTAINER_TLS_DIR)))
        args.append("--web.config.file=%s/%s" % (CONTAINER_CONFIG_DIR,
                                                 WEB_CONFIG.rsplit("/", 1)[1]))
    box += [
        ("Label", "io.ai-system.managed-by=ai_system.containers"),
        ("NoNewPrivileges", True),
        ("DropCapability", "ALL"),
        ("ReadOnly", True),
        ("ReadOnlyTmpfs", True),
        ("Exec", " ".join(args)),
    ]
    unit: List[Tuple[str, quadlet.Value]] = [
        ("Description", "Prometheus of the AI system (scrapes every host's exporter)"),
        ("Wants", "network-online.target"), ("After", "network-online.target")]
    if host.settings.firewall_required:
        unit += [("Requires", FIREWALL_UNIT), ("After", FIREWALL_UNIT)]
    return quadlet.render([
        ("Unit", unit),
        ("Container", box),
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
    """host -> the exporter port opened to the Prometheus host's address, and
    on the Prometheus host its port opened to each viewer (none by default)."""
    source = hosts[mon.host].lan_address
    out = {hname: [{"port": mon.exporter_port, "proto": "tcp", "source": source,
                    "source_host": mon.host, "group": "monitoring", "agent": "exporter"}]
           for hname in hosts}
    if mon.host in out and mon.viewers:
        # The host itself too: its own connections to its LAN address pass the
        # prerouting hook (verify asks Prometheus there).
        own = [(source, mon.host)] if source not in mon.viewers else []
        out[mon.host] += [{"port": mon.port, "proto": "tcp", "source": address,
                           "source_host": who, "group": "monitoring", "agent": "prometheus"}
                          for address, who in own + [(v, "viewer") for v in mon.viewers]]
    return out


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
