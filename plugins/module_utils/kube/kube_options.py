# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Kubernetes output takes from the inventory, and what it refuses.

Pure Python, no Ansible imports. The ``ai_kube_*`` options
(:data:`KUBE_OPTION_DEFAULTS`, :func:`parse_options`), the conversions of the
model's values into Kubernetes' forms (quantities, seconds, object and port
names), and :func:`kube_problems`, which refuses, located, what a cluster
cannot express. ``kube_manifests`` builds the objects from them.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional

from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    Host, Problems, duration_seconds,
)

KUBE_OPTION_DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "namespace": "ai-system",
    # The node label that names the inventory host a node plays; "" leaves
    # placement to the scheduler.
    "host_label": "ai-system.io/host",
    "gpu_resource": "nvidia.com/gpu",
    "gpu_runtime_class": "nvidia",
    # NVIDIA GPU feature discovery: memory of each GPU in MiB.
    "gpu_memory_label": "nvidia.com/gpu.memory",
    # Requests are this share of each limit (CPU and memory).
    "request_percent": 25,
    "volume_size": "1Gi",
    # An extended resource of a device plugin that hands out the sound
    # device; "" mounts the host's /dev/snd instead.
    "audio_resource": "",
})

MOUNT_OPTIONS = ("ro", "rw", "z", "Z")
AUDIO_DEVICE = "/dev/snd"
USERNS_KUBE = ("", "auto")

DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
DNS_1035_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?\Z")
QUALIFIED_NAME_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}"
    r"[A-Za-z0-9])?\Z")
QUANTITY_RE = re.compile(r"^\d+(?:\.\d+)?(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?\Z")


@dataclass(frozen=True)
class KubeOptions:
    """How the plan maps onto a cluster (the playbook's ai_kube_* variables)."""

    namespace: str = KUBE_OPTION_DEFAULTS["namespace"]
    host_label: str = KUBE_OPTION_DEFAULTS["host_label"]
    gpu_resource: str = KUBE_OPTION_DEFAULTS["gpu_resource"]
    gpu_runtime_class: str = KUBE_OPTION_DEFAULTS["gpu_runtime_class"]
    gpu_memory_label: str = KUBE_OPTION_DEFAULTS["gpu_memory_label"]
    request_percent: int = KUBE_OPTION_DEFAULTS["request_percent"]
    volume_size: str = KUBE_OPTION_DEFAULTS["volume_size"]
    audio_resource: str = KUBE_OPTION_DEFAULTS["audio_resource"]


# ---------------------------------------------------------------------------
# Options and small conversions
# ---------------------------------------------------------------------------

def parse_options(raw: Optional[Mapping[str, Any]], problems: Problems) -> KubeOptions:
    """The ai_kube_* settings, each checked; a bad one is a located problem."""
    raw = dict(raw or {})
    values: Dict[str, Any] = {}
    for key in sorted(raw):
        if key not in KUBE_OPTION_DEFAULTS:
            problems.add("unknown Kubernetes option '%s'" % key,
                         "use one of %s" % ", ".join(sorted(KUBE_OPTION_DEFAULTS)),
                         field="ai_kube_%s" % key)
            continue
        value = raw[key]
        if value is None:
            continue
        where = {"field": "ai_kube_%s" % key}
        if key == "request_percent":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
                problems.add("must be a whole number from 1 to 100, got %r" % (value,),
                             "give the share of each limit that is requested", **where)
                continue
        elif not isinstance(value, str):
            problems.add("must be a string, got %r" % (value,), "", **where)
            continue
        elif key == "namespace" and not DNS_LABEL_RE.match(value):
            problems.add("'%s' is not a namespace name" % value,
                         "use lower-case letters, digits and '-' (at most 63)", **where)
            continue
        elif key in ("host_label", "gpu_memory_label", "audio_resource") and value and \
                not QUALIFIED_NAME_RE.match(value):
            problems.add("'%s' is not a label or resource name" % value,
                         "use prefix/name, e.g. example.com/name", **where)
            continue
        elif key == "gpu_resource" and not QUALIFIED_NAME_RE.match(value):
            problems.add("'%s' is not a resource name" % value,
                         "use the device plugin's resource, e.g. nvidia.com/gpu", **where)
            continue
        elif key == "gpu_runtime_class" and value and not DNS_SUBDOMAIN_RE.match(value):
            problems.add("'%s' is not a runtime class name" % value,
                         "use the name of the cluster's RuntimeClass (e.g. nvidia), or ''",
                         **where)
            continue
        elif key == "volume_size" and not QUANTITY_RE.match(value):
            problems.add("'%s' is not a storage size" % value, "use a quantity such as 1Gi",
                         **where)
            continue
        values[key] = value
    return KubeOptions(**values)


def whole_seconds(text: str) -> int:
    """A Go duration (15s, 1m30s) in whole seconds, at least 1."""
    return max(1, int(math.ceil(duration_seconds(text))))


def cpu_quantity(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else "%dm" % millis


def memory_quantity(size: int) -> str:
    mib = 1024 ** 2
    if size % (1024 * mib) == 0:
        return "%dGi" % (size // (1024 * mib))
    if size % mib == 0:
        return "%dMi" % (size // mib)
    return str(size)


def secret_object_name(name: str) -> str:
    """ai_auth_signing_key -> ai-auth-signing-key (a Secret's name is a DNS subdomain)."""
    return name.lower().replace("_", "-")


def is_audio(device: str) -> bool:
    path = device.split(":", 1)[0]
    return path == AUDIO_DEVICE or path.startswith(AUDIO_DEVICE + "/")


def port_name(port: int) -> str:
    return "tcp-%d" % port


# ---------------------------------------------------------------------------
# What a cluster cannot express
# ---------------------------------------------------------------------------

def kube_problems(hosts: Mapping[str, Host], options: KubeOptions, problems: Problems) -> None:
    """Refuse, located, what the manifests cannot carry; the Quadlet plan of
    the same inventory is not affected."""
    secret_names: Dict[str, str] = {}
    for hname in sorted(hosts):
        for gname in sorted(hosts[hname].groups):
            group = hosts[hname].groups[gname]
            where = {"host": hname, "group": gname}
            if not DNS_1035_RE.match(gname):
                problems.add("a group name that starts with a digit cannot name a Kubernetes "
                             "Service", "start the group's name with a letter", field="name",
                             **where)
            for device in group.devices:
                if not is_audio(device):
                    problems.add(
                        "device %s cannot be expressed in Kubernetes manifests: a pod gets "
                        "devices from a device plugin, and only the sound device (%s) is "
                        "mapped" % (device, AUDIO_DEVICE),
                        "remove it from devices for the Kubernetes output (an ai_group_overrides "
                        "entry), or expose it with a device plugin", field="devices", **where)
            if group.quadlet_options:
                keys = ", ".join("%s.%s" % (section, key) for section, pairs in
                                 group.quadlet_options for key, dummy in pairs)
                problems.add("quadlet_options (%s) have no Kubernetes equivalent" % keys,
                             "remove them for the Kubernetes output", field="quadlet_options",
                             **where)
            if group.security.userns not in USERNS_KUBE:
                problems.add("security.userns '%s' cannot be expressed in Kubernetes manifests"
                             % group.security.userns,
                             "use 'auto' (a pod with hostUsers: false) or leave it empty",
                             field="security.userns", **where)
            for what, mounts in (("volumes", group.volumes),
                                 ("readonly_mounts", group.readonly_mounts)):
                for mount in mounts:
                    odd = [o for o in mount.options if o not in MOUNT_OPTIONS]
                    if odd:
                        problems.add("mount option(s) %s of %s have no Kubernetes equivalent"
                                     % (",".join(odd), mount.target),
                                     "use only %s" % ", ".join(MOUNT_OPTIONS), field=what,
                                     **where)
                    if mount.named_volume and not DNS_LABEL_RE.match(mount.source):
                        problems.add("volume name '%s' cannot name a PersistentVolumeClaim"
                                     % mount.source,
                                     "use lower-case letters, digits and '-' (at most 63)",
                                     field=what, **where)
            dirs: Dict[str, str] = {}
            for secret in group.secrets:
                kname = secret_object_name(secret.name)
                if not DNS_SUBDOMAIN_RE.match(kname):
                    problems.add("secret '%s' cannot name a Kubernetes Secret" % secret.name,
                                 "use letters, digits, '-', '_' and '.'", field="secrets",
                                 **where)
                elif secret_names.setdefault(kname, secret.name) != secret.name:
                    problems.add("secrets '%s' and '%s' both become the Kubernetes Secret '%s'"
                                 % (secret_names[kname], secret.name, kname),
                                 "rename one of them", field="secrets", **where)
                if secret.type == "mount":
                    folder = posixpath.dirname(secret_target(secret.name, secret.target))
                    if dirs.setdefault(folder, secret.name) != secret.name:
                        problems.add("secrets '%s' and '%s' are both mounted in %s, which a "
                                     "Secret volume fills alone" % (dirs[folder], secret.name,
                                                                    folder),
                                     "give them targets in different folders", field="secrets",
                                     **where)


def secret_target(name: str, target: str) -> str:
    if not target:
        return "/run/secrets/%s" % name
    return target if target.startswith("/") else "/run/secrets/%s" % target
