# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory model's entry points: :func:`load_hosts` takes every AI
host's inventory variables at once (cross-host links and name clashes are
only visible that way) and returns the normalized hosts together with *all*
the problems found, each naming host, group, agent and field and saying what
to do; :func:`parse_group` and :func:`parse_host` do one group and one host.
Nothing here touches a host.

Pure Python, no Ansible imports.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.model import stack_policy
from ansible_collections.ai_system.containers.plugins.module_utils.images import image_build
from ansible_collections.ai_system.containers.plugins.module_utils.model.model_sections import (
    merge_defaults, parse_agents, parse_argv, parse_connects_to, parse_gpu, parse_health,
    parse_mounts, parse_ports, parse_quadlet_options, parse_secrets, parse_security,
    parse_watched,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.model_values import (
    check_host_path, check_keys, check_policy, is_int, parse_cpus, parse_mapping, parse_memory,
    parse_string_list, scan_hostvars, suggest,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    APP_GROUP_RE, Build, BUILD_KEYS, CONTAINER_CONFIG, CONTAINER_PROBE, ENV_NAME_RE, GPU_SHARING,
    Group, GROUP_KEYS, GROUP_NAME_RE, Health, Host, HOST_GPU_KEYS, HOST_NAME_RE, HostGpu,
    IMAGE_RE, NETWORK_MODES, OWN_TREES, POD_NAME, Problems, Security, Settings, SETTINGS_VARS,
)


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
    check_keys(raw, GROUP_KEYS, problems, "group", **where)
    spec = merge_defaults(raw, defaults)
    group = Group(host=host, name=name)
    group.description = str(spec.get("description") or "")
    group_policy = spec.get("health_policy") or {}
    if not isinstance(group_policy, Mapping):
        problems.add("health_policy must be a mapping", "write keys among request, healthy, "
                     "degraded, required_keys", field="health_policy", **where)
        group_policy = {}
    elif "health_policy" in raw:
        check_policy(group_policy, problems, **where)
    group.agents = parse_agents(spec.get("agents"), problems, host, name, group_policy)
    group.ports = parse_ports(spec.get("ports"), problems, host, name)

    build = spec.get("build")
    if build is not None and "build" in raw:
        if isinstance(build, str):
            build = {"context": build}
        b = parse_mapping(build, problems, "build", field="build", **where)
        check_keys(b, BUILD_KEYS, problems, "build", **where)
        if not str(b.get("context", "")).startswith("/"):
            problems.add("build.context must be an absolute path on the host",
                         "write e.g. build: {context: /srv/ai-system/src}", field="build.context",
                         **where)
        elif check_host_path(str(b["context"]), problems, "build.context", **where):
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

    group.command = parse_argv(spec.get("command"), problems, "command", **where)
    group.entrypoint = parse_argv(spec.get("entrypoint"), problems, "entrypoint", **where)
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

    group.gpu = parse_gpu(spec.get("gpu"), problems, host, name)
    if spec.get("cpus") is not None:
        group.cpus = parse_cpus(spec["cpus"], problems, field="cpus", **where)
    if spec.get("memory") is not None:
        mem = parse_memory(spec["memory"], problems, field="memory", **where)
        if mem:
            group.memory, group.memory_bytes = mem
    group.depends_on = tuple(parse_string_list(spec.get("depends_on"), problems, "depends_on",
                                               field="depends_on", **where))
    group.connects_to = parse_connects_to(spec.get("connects_to"), problems, **where)
    env = parse_mapping(spec.get("env"), problems, "env", field="env", **where)
    for key, value in env.items():
        if not isinstance(key, str) or not ENV_NAME_RE.match(key):
            problems.add("environment variable name %r is not valid" % (key,), "",
                         field="env", **where)
        elif isinstance(value, (Mapping, list, tuple)) or value is None:
            problems.add("environment variable %s must be text or a number" % key, "",
                         field="env", **where)
        else:
            group.env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    group.volumes = parse_mounts(spec.get("volumes"), problems, "volumes", False, own_trees,
                                 **where)
    group.readonly_mounts = parse_mounts(spec.get("readonly_mounts"), problems,
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
    devices = parse_string_list(spec.get("devices"), problems, "devices", field="devices", **where)
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
    group.secrets = parse_secrets(spec.get("secrets"), problems, **where)

    default_health = Health(cmd=None)
    group.health = parse_health(spec.get("health"), default_health, problems, **where)
    if group.health.enabled and group.health.cmd is None and not group.probed_agents:
        if group.ports:
            problems.add("group has no agents to probe and no health.cmd",
                         "set health.cmd (e.g. 'redis-cli ping') or health: false",
                         field="health", **where)
    group.security = parse_security(spec.get("security"), Security(), problems, **where)
    group.quadlet_options = parse_quadlet_options(spec.get("quadlet_options"), problems, **where)
    group.restart_on_change = parse_watched(spec.get("restart_on_change"), problems, **where)
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
            if expected is int and not is_int(value):
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
                                 not check_host_path(path, problems, var, host=host) or
                                 not _check_own_dir(var, path, problems, host)):
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


# Directories that hold the system itself: the collection's directories are
# its own (it writes, prunes and chowns in them), never one of these.
SYSTEM_DIRS = frozenset((
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt",
    "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin",
    "/usr/lib", "/usr/libexec", "/usr/local", "/usr/local/bin", "/usr/sbin", "/usr/share", "/var",
    "/var/lib", "/var/log", "/var/tmp", "/etc/containers", "/etc/systemd", "/etc/systemd/system",
))
VIRTUAL_ROOTS = ("/proc", "/sys", "/dev")
# Where Quadlet looks for the units of rootful Podman (podman-systemd.unit(5)).
QUADLET_ROOTS = ("/etc/containers/systemd", "/usr/share/containers/systemd", "/run/containers/systemd")


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def _check_own_dir(var: str, path: str, problems: Problems, host: str) -> bool:
    """ai_config_dir and ai_quadlet_dir: a directory of the collection's own,
    and for units one that Quadlet reads."""
    if var == "ai_quadlet_dir" and not _under(path, QUADLET_ROOTS):
        problems.add("ai_quadlet_dir %r is not a directory Quadlet reads units from, so no unit would "
                     "ever be generated" % path,
                     "use %s (the default) or a directory below one of %s"
                     % (QUADLET_ROOTS[0], ", ".join(QUADLET_ROOTS)), host=host, field=var)
        return False
    if path in SYSTEM_DIRS or _under(path, VIRTUAL_ROOTS):
        problems.add("%s %r is a directory of the system itself: the collection writes, prunes and "
                     "sets the owner of what it holds" % (var, path),
                     "use a directory of its own, e.g. /etc/ai-system", host=host, field=var)
        return False
    return True


def _parse_host_gpu(raw: Any, problems: Problems, host: str) -> Optional[HostGpu]:
    if raw in (None, False):
        return None
    if not isinstance(raw, Mapping):
        problems.add("ai_gpu must be false or a mapping with model and memory_mib", "",
                     host=host, field="ai_gpu")
        return None
    check_keys(raw, HOST_GPU_KEYS, problems, "ai_gpu", host=host)
    mem = raw.get("memory_mib")
    if not is_int(mem) or mem <= 0:
        problems.add("ai_gpu.memory_mib %r is not a positive whole number" % (mem,),
                     "write the GPU's memory in MiB (nvidia-smi --query-gpu=memory.total)",
                     host=host, field="ai_gpu.memory_mib")
        return None
    count = raw.get("count", 1)
    if not is_int(count) or count < 1:
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
    if not is_int(reserve) or reserve < 0:
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
                             suggest(target, list(hosts)).replace("allowed keys", "hosts"),
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
        check_keys(layer, GROUP_KEYS, problems, var, host=name)
        defaults = merge_defaults(layer, defaults)
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
                         suggest(str(gname), [str(g) for g in raw_groups]),
                         host=name, field="ai_group_overrides")
    max_cpus = hostvars.get("ai_max_cpus")
    if max_cpus is not None:
        max_cpus = parse_cpus(max_cpus, problems, host=name, field="ai_max_cpus")
    for gname, graw in raw_groups.items():
        if gname in overrides and isinstance(graw, Mapping) and \
                isinstance(overrides[gname], Mapping):
            graw = merge_defaults(overrides[gname], graw)
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
