# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack plan as Kubernetes manifests.

Pure Python, no Ansible imports. :func:`kube_stack` plans the stack exactly
as the Quadlet output does (:func:`stack_plan.plan_with_model`: the same
validation, start order, links and health policies) and turns each group into
Kubernetes objects: a Deployment (a StatefulSet where it keeps data in named
volumes), a ConfigMap with its endpoint map pointing at Service names, a
Service where other groups reach it, and a NetworkPolicy that admits only the
groups that reach it. What a cluster cannot express (a raw device other than
audio, free-form Quadlet keys, ...) is refused, located like every other
problem of the inventory, by ``kube_options.kube_problems``, while the Quadlet
plan of the same inventory stays valid; the ``ai_kube_*`` options and the
conversions into Kubernetes' forms are there too.

The result is plain data (one list of objects per file); turning it into YAML
is the caller's (``plugin_utils/kube_yaml.py``). :func:`podman_documents`
derives the variant that ``podman kube play`` runs: the kinds it runs, with
each StatefulSet as a Deployment and its PersistentVolumeClaims.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.kube.kube_options import (
    KubeOptions, cpu_quantity, is_audio, kube_problems,
    memory_quantity, parse_options, port_name, secret_object_name, secret_target, whole_seconds,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    CONTAINER_CONFIG, CONTAINER_PROBE, Group, Host, Problem, Problems,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.app_environment import (
    contract_environment, endpoint_document, group_environment,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import HostPlan, UnitPlan
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import StackPlan, plan_with_model
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_rules import Link

Json = Any

LABEL_GROUP = "ai-system.io/group"
LABEL_HOST = "ai-system.io/host"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED = "app.kubernetes.io/managed-by"
PART_OF = "ai-system"
MANAGED_BY = "ai_system.containers"

PROBE_CONFIGMAP = "ai-system-probe"
PROBE_DIR = posixpath.dirname(CONTAINER_PROBE)
CONFIG_DIR = posixpath.dirname(CONTAINER_CONFIG)
WAIT_SCRIPT_NAME = "wait_for_services.py"
WAIT_SCRIPT = posixpath.join(PROBE_DIR, WAIT_SCRIPT_NAME)
PROBE_NAME = posixpath.basename(CONTAINER_PROBE)
CONFIG_NAME = posixpath.basename(CONTAINER_CONFIG)
SECRET_KEY = "value"
# Podman's --read-only-tmpfs: what a read-only container still writes to
# (Kubernetes provides /dev and /dev/shm itself).
TMPFS_PATHS = ("/run", "/tmp", "/var/tmp")

# Run by the init container: waits until every HOST:PORT accepts a TCP
# connection. A Service only has endpoints once its pods are ready, so in a
# cluster this waits for the dependencies' readiness probes.
WAIT_SOURCE = '''"""Wait until every HOST:PORT accepts a TCP connection, or fail after SECONDS.

Usage: python3 wait_for_services.py SECONDS HOST:PORT...
Managed by ai_system.containers.
"""
import socket
import sys
import time


def main(argv):
    deadline = time.monotonic() + float(argv[0])
    for target in argv[1:]:
        host, port = target.rsplit(":", 1)
        while True:
            try:
                socket.create_connection((host, int(port)), timeout=3).close()
            except OSError as exc:
                if time.monotonic() > deadline:
                    print("%s did not answer: %s" % (target, exc), flush=True)
                    return 1
                time.sleep(2)
                continue
            print("%s answers" % target, flush=True)
            break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


@dataclass(frozen=True)
class KubeStack:
    """The manifests of the whole stack, or why there are none.

    ``files`` maps a file name (relative to the output folder) to the objects
    it holds, in the order they are applied; it is empty when there is any
    problem."""

    problems: Tuple[Problem, ...]
    warnings: Tuple[str, ...]
    files: Mapping[str, Tuple[Mapping[str, Json], ...]]
    order: Tuple[Tuple[str, str], ...]  # (host, group) in start order

    @property
    def ok(self) -> bool:
        return not self.problems

    def documents(self) -> List[Mapping[str, Json]]:
        return [doc for name in self.files for doc in self.files[name]]


# ---------------------------------------------------------------------------
# The objects
# ---------------------------------------------------------------------------

class _Builder:
    """Builds every group's objects from the plan and the normalized model."""

    def __init__(self, plan: StackPlan, hosts: Mapping[str, Host], links: Sequence[Link],
                 options: KubeOptions, start_timeout: Mapping[str, int]):
        self.plan = plan
        self.hosts = hosts
        self.options = options
        self.start_timeout = start_timeout
        self.ns = options.namespace
        self.consumed: Dict[str, List[Link]] = {}  # by consumer group
        self.consumers: Dict[str, List[Link]] = {}  # by providing group
        for lk in links:
            self.consumed.setdefault(lk.consumer_group, []).append(lk)
            self.consumers.setdefault(lk.group, []).append(lk)
        self.dependents: Dict[str, List[str]] = {}
        for host in hosts.values():
            for gname, group in host.groups.items():
                for dep in group.depends_on:
                    self.dependents.setdefault(dep, []).append(gname)
        self.groups: Dict[str, Group] = {g: h.groups[g] for h in hosts.values() for g in h.groups}

    # -- names and labels -------------------------------------------------------
    def meta(self, name: str, group: Optional[Group] = None) -> Dict[str, Json]:
        labels = {LABEL_PART_OF: PART_OF, LABEL_MANAGED: MANAGED_BY}
        if group is not None:
            labels.update({LABEL_NAME: group.name, LABEL_GROUP: group.name,
                           LABEL_HOST: group.host})
        return {"name": name, "namespace": self.ns, "labels": labels}

    # -- Service ports ----------------------------------------------------------
    def service_ports(self, group: Group) -> List[int]:
        """The ports other groups reach: consumed agents' main ports, the
        group's service ports, and (for a dependency that has neither) its
        agents' main ports, which its dependents wait for."""
        ports = {lk.agent.port for lk in self.consumers.get(group.name, [])}
        ports.update(p.port for p in group.ports)
        if not ports and group.name in self.dependents:
            ports.update(a.port for a in group.agents.values())
        return sorted(p for p in ports if p)

    def endpoints(self, group: Group) -> Dict[str, Dict[str, Json]]:
        """The endpoint map's entries, by Service name: in a cluster every
        group is reached through its Service, whichever node it runs on."""
        out: Dict[str, Dict[str, Json]] = {}
        for lk in self.consumed.get(group.name, []):
            out[lk.agent.name] = {
                "host": lk.host, "group": lk.group, "address": lk.group,
                "port": lk.agent.port, "health_port": None, "socket": lk.agent.socket,
                "remote": False, "url": "tcp://%s:%d" % (lk.group, lk.agent.port),
            }
        return out

    # -- per group ----------------------------------------------------------------
    def configmap(self, group: Group) -> Dict[str, Json]:
        doc = endpoint_document(group, group.host, self.consumed.get(group.name, []),
                                self.endpoints(group))
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": self.meta("%s-endpoints" % group.name, group),
                "data": {CONFIG_NAME: doc}}

    def service(self, group: Group) -> Optional[Dict[str, Json]]:
        ports = self.service_ports(group)
        if not ports:
            return None
        return {"apiVersion": "v1", "kind": "Service", "metadata": self.meta(group.name, group),
                "spec": {"selector": {LABEL_GROUP: group.name},
                         "ports": [{"name": port_name(p), "port": p, "targetPort": p,
                                    "protocol": "TCP"} for p in ports]}}

    def network_policy(self, group: Group) -> Dict[str, Json]:
        """Ingress from the groups that connect to an agent (connects_to), on
        that agent's port; from dependents on the port they wait for; from
        every group of the stack on service ports, whose users the inventory
        does not name. The health probes run inside the pod (exec) and need
        no rule."""
        rules: Dict[int, set] = {}
        for lk in self.consumers.get(group.name, []):
            rules.setdefault(lk.agent.port, set()).add(lk.consumer_group)
        ports = self.service_ports(group)
        service_ports = sorted(p.port for p in group.ports)
        if group.name in self.dependents and ports and ports[0] not in service_ports:
            rules.setdefault(ports[0], set()).update(self.dependents[group.name])
        ingress: List[Dict[str, Json]] = []
        for port in sorted(rules):
            ingress.append({
                "from": [{"podSelector": {"matchExpressions": [
                    {"key": LABEL_GROUP, "operator": "In", "values": sorted(rules[port])}]}}],
                "ports": [{"protocol": "TCP", "port": port}],
            })
        if service_ports:
            ingress.append({
                "from": [{"podSelector": {"matchLabels": {LABEL_PART_OF: PART_OF}}}],
                "ports": [{"protocol": "TCP", "port": p} for p in service_ports],
            })
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": self.meta(group.name, group),
                "spec": {"podSelector": {"matchLabels": {LABEL_GROUP: group.name}},
                         "policyTypes": ["Ingress"], "ingress": ingress}}

    def probe_command(self, group: Group) -> List[str]:
        if group.health.cmd:
            return ["/bin/sh", "-c", group.health.cmd]
        return ["python3", CONTAINER_PROBE, "--timeout", "3", "--config", CONTAINER_CONFIG]

    def probes(self, group: Group, unit: UnitPlan) -> Dict[str, Json]:
        """The unit's health check three ways: startup (as long as the unit
        may take to start), readiness and liveness (the unit's interval,
        timeout and retries). The probe passes a degraded agent, so it stays
        ready and live; HealthOnFailure=none keeps a failing one running."""
        if not unit.healthcheck:
            return {}
        hc = group.health
        period = whole_seconds(hc.interval)
        timeout = whole_seconds(hc.timeout)
        action = {"exec": {"command": self.probe_command(group)}}
        startup = max(1, int(math.ceil(self.start_timeout[group.host] / float(period))))
        out = {
            "startupProbe": dict(action, periodSeconds=period, timeoutSeconds=timeout,
                                 failureThreshold=startup),
            "readinessProbe": dict(action, periodSeconds=period, timeoutSeconds=timeout,
                                   failureThreshold=hc.retries),
        }
        if hc.on_failure != "none":
            out["livenessProbe"] = dict(action, periodSeconds=period, timeoutSeconds=timeout,
                                        failureThreshold=hc.retries)
        return out

    def resources(self, group: Group, host: Host) -> Dict[str, Json]:
        limits: Dict[str, Json] = {}
        requests: Dict[str, Json] = {}
        pct = self.options.request_percent
        if group.cpus is not None:
            millis = max(1, int(round(group.cpus * 1000)))
            limits["cpu"] = cpu_quantity(millis)
            requests["cpu"] = cpu_quantity(max(1, millis * pct // 100))
        if group.memory_bytes is not None:
            limits["memory"] = memory_quantity(group.memory_bytes)
            mib = 1024 ** 2
            requests["memory"] = memory_quantity(max(mib, group.memory_bytes * pct // 100
                                                     // mib * mib))
        if group.gpu:
            count = host.gpu.count if host.gpu and group.gpu.devices == ("all",) else \
                len(group.gpu.devices)
            limits[self.options.gpu_resource] = max(1, count)
        if self.options.audio_resource and any(is_audio(d) for d in group.devices):
            limits[self.options.audio_resource] = 1
        out: Dict[str, Json] = {}
        if requests:
            out["requests"] = requests
        if limits:
            out["limits"] = limits
        return out

    def security_context(self, group: Group) -> Dict[str, Json]:
        sec = group.security
        caps: Dict[str, Json] = {}
        if sec.drop_capabilities:
            caps["drop"] = list(sec.drop_capabilities)
        if sec.add_capabilities:
            caps["add"] = list(sec.add_capabilities)
        out: Dict[str, Json] = {"allowPrivilegeEscalation": not sec.no_new_privileges,
                                "readOnlyRootFilesystem": sec.read_only}
        if caps:
            out["capabilities"] = caps
        return out

    def volumes(self, group: Group) -> Tuple[List[Dict[str, Json]], List[Dict[str, Json]],
                                             List[Dict[str, Json]]]:
        """(pod volumes, container mounts, volume claim templates)."""
        vols: List[Dict[str, Json]] = [
            {"name": "endpoints", "configMap": {"name": "%s-endpoints" % group.name}},
            {"name": "probe", "configMap": {"name": PROBE_CONFIGMAP, "defaultMode": 0o555}},
        ]
        mounts: List[Dict[str, Json]] = [
            {"name": "endpoints", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "probe", "mountPath": PROBE_DIR, "readOnly": True},
        ]
        claims: List[Dict[str, Json]] = []
        if group.security.read_only:
            for index, path in enumerate(TMPFS_PATHS):
                name = "tmpfs-%d" % index
                vols.append({"name": name, "emptyDir": {"medium": "Memory"}})
                mounts.append({"name": name, "mountPath": path})
        host_index = 0
        for mount in group.volumes + group.readonly_mounts:
            readonly = mount in group.readonly_mounts or "ro" in mount.options
            if mount.named_volume:
                name = mount.source
                claims.append({"metadata": {"name": name},
                               "spec": {"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {
                                            "storage": self.options.volume_size}}}})
            else:
                name = "host-%d" % host_index
                host_index += 1
                source: Dict[str, Json] = {"path": mount.source}
                if mount in group.volumes:
                    source["type"] = "DirectoryOrCreate"
                vols.append({"name": name, "hostPath": source})
            entry: Dict[str, Json] = {"name": name, "mountPath": mount.target}
            if readonly:
                entry["readOnly"] = True
            mounts.append(entry)
        for index, device in enumerate(d for d in group.devices if is_audio(d)):
            if self.options.audio_resource:
                continue
            path = device.split(":", 1)[0]
            name = "device-%d" % index
            vols.append({"name": name, "hostPath": {"path": path}})
            mounts.append({"name": name, "mountPath": device.split(":")[1]
                           if ":" in device else path})
        for index, secret in enumerate(s for s in group.secrets if s.type == "mount"):
            target = secret_target(secret.name, secret.target)
            name = "secret-%d" % index
            vols.append({"name": name, "secret": {
                "secretName": secret_object_name(secret.name), "defaultMode": 0o400,
                "items": [{"key": SECRET_KEY, "path": posixpath.basename(target)}]}})
            mounts.append({"name": name, "mountPath": posixpath.dirname(target),
                           "readOnly": True})
        # By path, so a parent comes before its children (/run, /run/secrets).
        mounts.sort(key=lambda m: m["mountPath"])
        return vols, mounts, claims

    def environment(self, group: Group) -> List[Dict[str, Json]]:
        # In a cluster no group is reached by a host's LAN address: the
        # hosts' address variables are left out, BIND_ADDRESS is kept.
        env = group_environment(group, group.host, self.endpoints(group),
                                contract_environment(self.hosts[group.host], self.hosts,
                                                     addresses=False))
        out: List[Dict[str, Json]] = [{"name": k, "value": env[k]} for k in sorted(env)]
        for secret in group.secrets:
            if secret.type == "env":
                out.append({"name": secret.target or secret.name, "valueFrom": {
                    "secretKeyRef": {"name": secret_object_name(secret.name),
                                     "key": SECRET_KEY}}})
        return out

    def affinity(self, group: Group) -> Optional[Dict[str, Json]]:
        exprs: List[Dict[str, Json]] = []
        if self.options.host_label:
            exprs.append({"key": self.options.host_label, "operator": "In",
                          "values": [group.host]})
        if group.gpu and group.gpu.vram_mib and self.options.gpu_memory_label:
            # GFD's label is the memory of each GPU in MiB: at least the budget.
            exprs.append({"key": self.options.gpu_memory_label, "operator": "Gt",
                          "values": [str(group.gpu.vram_mib - 1)]})
        if not exprs:
            return None
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": exprs}]}}}

    def init_containers(self, group: Group) -> List[Dict[str, Json]]:
        targets = []
        for dep in group.depends_on:
            ports = self.service_ports(self.groups[dep])
            if ports:
                targets.append("%s:%d" % (dep, ports[0]))
        if not targets:
            return []
        timeout = self.start_timeout[group.host]
        return [{
            "name": "wait-for-dependencies",
            "image": group.image_ref,
            "command": ["python3", WAIT_SCRIPT, str(timeout)] + targets,
            "securityContext": {"allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "probe", "mountPath": PROBE_DIR, "readOnly": True}],
        }]

    def workload(self, group: Group, unit: UnitPlan) -> Dict[str, Json]:
        host = self.hosts[group.host]
        vols, mounts, claims = self.volumes(group)
        container: Dict[str, Json] = {"name": group.name, "image": group.image_ref}
        if group.command:
            container["args"] = list(group.command)
        container["env"] = self.environment(group)
        ports = sorted({a.port for a in group.agents.values() if a.port} |
                       {p.port for p in group.ports})
        if ports:
            container["ports"] = [{"name": port_name(p), "containerPort": p, "protocol": "TCP"}
                                  for p in ports]
        resources = self.resources(group, host)
        if resources:
            container["resources"] = resources
        container["securityContext"] = self.security_context(group)
        container["volumeMounts"] = mounts
        container.update(self.probes(group, unit))
        pod: Dict[str, Json] = {"hostname": group.name, "automountServiceAccountToken": False,
                                "enableServiceLinks": False}
        if group.security.userns == "auto" and not group.gpu:
            pod["hostUsers"] = False
        if group.gpu and self.options.gpu_runtime_class:
            pod["runtimeClassName"] = self.options.gpu_runtime_class
        affinity = self.affinity(group)
        if affinity:
            pod["affinity"] = affinity
        if group.gpu:
            pod["tolerations"] = [{"key": self.options.gpu_resource, "operator": "Exists",
                                   "effect": "NoSchedule"}]
        init = self.init_containers(group)
        if init:
            pod["initContainers"] = init
        pod["containers"] = [container]
        pod["volumes"] = vols
        labels = self.meta(group.name, group)["labels"]
        spec: Dict[str, Json] = {
            "replicas": 1,
            "selector": {"matchLabels": {LABEL_GROUP: group.name}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        }
        if claims:
            spec["serviceName"] = group.name
            spec["volumeClaimTemplates"] = claims
            kind = "StatefulSet"
        else:
            spec["strategy"] = {"type": "Recreate"}
            kind = "Deployment"
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": self.meta(group.name, group),
                "spec": spec}

    def group_documents(self, host_plan: HostPlan, unit: UnitPlan) -> List[Dict[str, Json]]:
        group = self.hosts[host_plan.host].groups[unit.group]
        docs = [self.configmap(group)]
        service = self.service(group)
        if service:
            docs.append(service)
        docs.append(self.network_policy(group))
        docs.append(self.workload(group, unit))
        return docs


def probe_configmap(namespace: str, probe_source: str) -> Dict[str, Json]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": PROBE_CONFIGMAP, "namespace": namespace,
                         "labels": {LABEL_PART_OF: PART_OF, LABEL_MANAGED: MANAGED_BY}},
            "data": {PROBE_NAME: probe_source, WAIT_SCRIPT_NAME: WAIT_SOURCE}}


def kube_stack(all_hostvars: Mapping[str, Mapping[str, Any]], probe_source: str,
               options: Optional[Mapping[str, Any]] = None) -> KubeStack:
    """Plan the stack and, when it is sound and a cluster can express it,
    every object of the Kubernetes output.

    probe_source: the text of the collection's health probe (zmq_health.py),
    which the pods mount from a ConfigMap."""
    problems = Problems()
    opts = parse_options(options, problems)
    plan, hosts, links = plan_with_model(all_hostvars)
    if not plan.ok:
        return KubeStack(problems=tuple(problems.items) + plan.problems, warnings=plan.warnings,
                         files=MappingProxyType({}), order=())
    kube_problems(hosts, opts, problems)
    if problems:
        return KubeStack(problems=tuple(problems.items), warnings=plan.warnings,
                         files=MappingProxyType({}), order=())
    builder = _Builder(plan, hosts, links, opts,
                       {h: hosts[h].settings.start_timeout for h in hosts})
    files: Dict[str, Tuple[Mapping[str, Json], ...]] = {
        "namespace.yaml": ({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": opts.namespace,
                                         "labels": {LABEL_PART_OF: PART_OF,
                                                    LABEL_MANAGED: MANAGED_BY}}},),
        "probe.yaml": (probe_configmap(opts.namespace, probe_source),),
    }
    order: List[Tuple[str, str]] = []
    warnings = list(plan.warnings)
    gpu_groups = sorted(u.group for p in plan.hosts.values() for u in p.units if u.gpu)
    if gpu_groups and not opts.host_label:
        warnings.append("GPU groups %s are not pinned to their hosts' nodes (ai_kube_host_label "
                        "is empty): each host's VRAM budget check no longer holds per node, and "
                        "groups that share a node's GPU need the device plugin's sharing"
                        % ", ".join(gpu_groups))
    for hname in sorted(plan.hosts):
        host_plan = plan.hosts[hname]
        for unit in host_plan.units:
            if unit.group not in hosts[host_plan.host].groups:
                continue  # the pod unit of ai_network_mode: pod holds no group
            files["groups/%s.yaml" % unit.group] = tuple(builder.group_documents(host_plan, unit))
            order.append((hname, unit.group))
            if unit.build:
                warnings.append("host %s, group %s: the image %s is built on the host; push it "
                                "to a registry the cluster pulls from" % (hname, unit.group,
                                                                          unit.image))
    return KubeStack(problems=(), warnings=tuple(warnings), files=MappingProxyType(files),
                     order=tuple(order))


def kustomization(stack: KubeStack, namespace: str) -> Dict[str, Json]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": namespace, "resources": list(stack.files)}


# Kinds `podman kube play` runs; it skips the others (Namespace, Service,
# NetworkPolicy) without a word.
PODMAN_KINDS = ("ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment")


def podman_documents(stack: KubeStack) -> List[Dict[str, Json]]:
    """The objects ``podman kube play`` runs, in start order: ConfigMaps and
    Deployments as they are, each StatefulSet as a Deployment with its
    volume claims as PersistentVolumeClaims (``<volume>-<group>-0``).
    Podman ignores node affinity, runtime classes, extended resources and
    readiness; its pods find each other by hostname on the network given to
    ``podman kube play --network``."""
    out: List[Dict[str, Json]] = []
    for doc in stack.documents():
        if doc["kind"] == "StatefulSet":
            spec = dict(doc["spec"])
            claims = spec.pop("volumeClaimTemplates")
            spec.pop("serviceName", None)
            spec["strategy"] = {"type": "Recreate"}
            # Named as a StatefulSet names its first pod's claims, so that
            # they never take over the Quadlet units' volumes on the same host.
            names = {c["metadata"]["name"]: "%s-%s-0" % (c["metadata"]["name"],
                                                         doc["metadata"]["name"])
                     for c in claims}
            pod = dict(spec["template"]["spec"])
            pod["volumes"] = list(pod["volumes"]) + [
                {"name": volume, "persistentVolumeClaim": {"claimName": claim}}
                for volume, claim in names.items()]
            spec["template"] = dict(spec["template"], spec=pod)
            for claim in claims:
                out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": dict(claim["metadata"],
                                             name=names[claim["metadata"]["name"]],
                                             namespace=doc["metadata"]["namespace"],
                                             labels=doc["metadata"]["labels"]),
                            "spec": claim["spec"]})
            out.append(dict(doc, kind="Deployment", spec=spec))
        elif doc["kind"] in PODMAN_KINDS:
            out.append(doc)
    return out
