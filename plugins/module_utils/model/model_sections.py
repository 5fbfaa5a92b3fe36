# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory model's parsers of a group's sections: agents, ports, GPU,
mounts and volumes, secrets, ``connects_to``, entrypoint and command, health
check, ``quadlet_options``, watched files and security; each returns the
frozen dataclasses of stack_model and records a located problem for every bad
value.

Pure Python, no Ansible imports.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.model import stack_policy
from ansible_collections.ai_system.containers.plugins.module_utils.model.model_values import (
    check_host_path, check_keys, check_policy, is_int, parse_bool, parse_duration, parse_mapping,
    parse_port, parse_string_list,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet_keys import QUADLET_OWNED
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    Agent, AGENT_KEYS, AGENT_NAME_RE, AGENT_SOCKETS, CDI_DEVICE_RE, CONNECT_KEYS, ConnectRef,
    ENV_NAME_RE, Gpu, GPU_CAPABILITIES, GPU_KEYS, GROUP_NAME_RE, Health, HEALTH_KEYS,
    HEALTH_ON_FAILURE, MERGED_KEYS, Mount, MOUNT_KEYS, OWNER_RE, PORT_KEYS, Problems,
    QUADLET_KEY_RE, QUADLET_SECTIONS, SECRET_KEYS, SECRET_NAME_RE, SECRET_TYPES,
    SecretRef, Security, SECURITY_KEYS, ServicePort,
)
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (
    HealthPolicy, merge_policies, policy_problems,
)


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


def parse_agents(raw: Any, problems: Problems, host: str, group: str,
                 group_policy: Mapping[str, Any]) -> Dict[str, Agent]:
    agents: Dict[str, Agent] = {}
    # Judged once for the group; reported there (see parse_group), not per agent.
    group_default = HealthPolicy(**policy_problems(group_policy)[0])
    for name, spec in parse_mapping(raw, problems, "agents", host=host, group=group,
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
        check_keys(spec, AGENT_KEYS, problems, "agent", **where)
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


def parse_ports(raw: Any, problems: Problems, host: str, group: str) -> Tuple[ServicePort, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        problems.add("ports must be a list", "write e.g. [6379]", host=host, group=group,
                     field="ports")
        return ()
    out = []
    for item in raw:
        spec = item if isinstance(item, Mapping) else {"port": item}
        check_keys(spec, PORT_KEYS, problems, "ports entry", host=host, group=group)
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


def parse_gpu(raw: Any, problems: Problems, host: str, group: str) -> Optional[Gpu]:
    where = dict(host=host, group=group)
    if raw in (None, False):
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.add("gpu must be false or a mapping", "write e.g. {devices: [all], "
                     "capabilities: [compute, utility], vram_mib: 8192}", field="gpu", **where)
        return None
    check_keys(raw, GPU_KEYS, problems, "gpu", **where)
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
    caps = parse_string_list(raw.get("capabilities", ["compute", "utility"]), problems,
                             "gpu.capabilities", field="gpu.capabilities", **where)
    for cap in caps:
        if cap not in GPU_CAPABILITIES:
            problems.add("gpu capability %r is unknown" % cap,
                         "use %s" % ", ".join(GPU_CAPABILITIES), field="gpu.capabilities",
                         **where)
    vram = raw.get("vram_mib")
    if vram is not None and (not is_int(vram) or vram <= 0):
        problems.add("vram_mib %r is not a positive whole number of MiB" % (vram,),
                     "write the group's VRAM budget in MiB, e.g. 8192",
                     field="gpu.vram_mib", **where)
        vram = None
    percent = raw.get("compute_percent")
    if percent is not None and (not is_int(percent) or not 1 <= percent <= 100):
        problems.add("compute_percent %r is not a whole number from 1 to 100" % (percent,),
                     "write the share of the GPU's threads the group may use, e.g. 50",
                     field="gpu.compute_percent", **where)
        percent = None
    return Gpu(devices=tuple(devs) or ("all",), capabilities=tuple(caps), vram_mib=vram,
               compute_percent=percent)


def parse_mounts(raw: Any, problems: Problems, what: str, readonly: bool,
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
            check_keys(item, MOUNT_KEYS, problems, what + " entry", **where)
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
            if not check_host_path(source, problems, what, **where):
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


def parse_secrets(raw: Any, problems: Problems, **where: str) -> Tuple[SecretRef, ...]:
    out = []
    for item in raw if isinstance(raw, (list, tuple)) else ([] if raw is None else [raw]):
        spec = {"name": item} if isinstance(item, str) else item
        if not isinstance(spec, Mapping):
            problems.add("secrets entry %r is neither a name nor a mapping" % (item,), "",
                         field="secrets", **where)
            continue
        check_keys(spec, SECRET_KEYS, problems, "secrets entry", **where)
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


def parse_connects_to(raw: Any, problems: Problems, **where: str) -> Tuple[ConnectRef, ...]:
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
        check_keys(spec, CONNECT_KEYS, problems, "connects_to entry", **where)
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


def parse_argv(raw: Any, problems: Problems, what: str, **where: str) -> Tuple[str, ...]:
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


def parse_health(raw: Any, defaults: Health, problems: Problems, **where: str) -> Health:
    if raw is False:
        return Health(cmd=None, enabled=False)
    spec = parse_mapping(raw, problems, "health", field="health", **where)
    check_keys(spec, HEALTH_KEYS, problems, "health", **where)
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
    if not is_int(retries) or retries < 1:
        problems.add("health.retries %r is not a positive whole number" % (retries,), "",
                     field="health.retries", **where)
        retries = defaults.retries
    times = {}
    for key, zero in (("interval", False), ("timeout", False), ("start_period", True)):
        times[key] = parse_duration(spec.get(key, getattr(defaults, key)), problems,
                                    "health.%s" % key, allow_zero=zero, **where) \
            or getattr(defaults, key)
    return Health(cmd=cmd, enabled=True, retries=retries, on_failure=on_failure, **times)


def parse_quadlet_options(raw: Any, problems: Problems,
                          **where: str) -> Tuple[Tuple[str, Tuple[Tuple[str, Any], ...]], ...]:
    """section -> key -> value or list of values, for keys the model has no field for."""
    spec = parse_mapping(raw, problems, "quadlet_options", field="quadlet_options", **where)
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


def parse_watched(raw: Any, problems: Problems, **where: str) -> Tuple[str, ...]:
    """restart_on_change: absolute, normalised host files."""
    paths = parse_string_list(raw, problems, "restart_on_change", field="restart_on_change", **where)
    return tuple(p for p in paths
                 if check_host_path(p, problems, "restart_on_change", **where))


def parse_security(raw: Any, defaults: Security, problems: Problems, **where: str) -> Security:
    spec = parse_mapping(raw, problems, "security", field="security", **where)
    check_keys(spec, SECURITY_KEYS, problems, "security", **where)
    values: Dict[str, Any] = {}
    for key in ("read_only", "no_new_privileges", "security_label_disable"):
        if key in spec:
            parsed = parse_bool(spec[key], problems, "security.%s" % key,
                                field="security.%s" % key, **where)
            if parsed is not None:
                values[key] = parsed
    for key in ("drop_capabilities", "add_capabilities"):
        if key in spec:
            caps = parse_string_list(spec[key], problems, "security.%s" % key,
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


def merge_defaults(raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> Dict[str, Any]:
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
