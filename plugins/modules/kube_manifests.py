#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kube_manifests
short_description: The whole stack's plan as Kubernetes manifests and a kustomization
version_added: "0.1.0"
description:
  - Runs on the controller (an action plugin). Plans the stack from every AI host's
    C(ai_*) variables exactly as M(ai_system.containers.stack_plan) does, and returns the
    plan as Kubernetes objects, one YAML file per group, with a C(kustomization.yaml) that
    lists them for C(kubectl apply -k).
  - Per group a Deployment (a StatefulSet when it mounts named volumes), a ConfigMap with
    its endpoint map pointing at Service names, a Service when other groups reach it, and a
    NetworkPolicy that admits only those groups. The collection's ZMQ health probe is a
    ConfigMap that every pod mounts and runs as its startup, readiness and liveness probe.
  - Also returns C(podman/ai-system.yaml), the objects C(podman kube play) runs (ConfigMaps,
    PersistentVolumeClaims and Deployments, StatefulSets turned into Deployments).
  - Refuses, with every problem located (host, group, field), what the manifests cannot
    express, such as a raw device other than the sound device; the Quadlet plan of the same
    inventory is not affected.
  - Secret values are never read; a pod names its Secrets only.
extends_documentation_fragment:
  - ai_system.containers.plan_hosts
options:
  options:
    description:
      - How the plan maps onto a cluster; every key is optional.
      - C(namespace), the namespace (default V(ai-system)).
      - C(host_label), the node label naming the host a node plays (default
        V(ai-system.io/host)); V("") leaves placement to the scheduler.
      - C(gpu_resource), the GPU device plugin's resource (default V(nvidia.com/gpu)).
      - C(gpu_runtime_class), the RuntimeClass of GPU pods (default V(nvidia)); V("") for none.
      - C(gpu_memory_label), the GPU feature discovery label with each GPU's memory in MiB
        (default V(nvidia.com/gpu.memory)); V("") for no affinity on GPU memory.
      - C(request_percent), the share of each CPU and memory limit that is requested
        (default V(25)).
      - C(volume_size), the storage each named volume's claim asks for (default V(1Gi)).
      - C(audio_resource), a device plugin's resource for the sound device (default V(""),
        which mounts the node's C(/dev/snd)).
    type: dict
    default: {}
attributes:
  check_mode:
    description: Reads the inventory only, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is no diff.
    support: none
  platform:
    description: Runs on the controller.
    support: full
    platforms: posix
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
author:
  - ai_system.containers maintainers (@ai-system)
notes:
  - What maps to what is documented in C(docs/kubernetes.md) of the collection.
seealso:
  - module: ai_system.containers.stack_plan
  - module: ai_system.containers.file_set
"""

EXAMPLES = r"""
- name: Plan the stack as Kubernetes manifests, once, on the controller
  ai_system.containers.kube_manifests:
    options:
      namespace: ai-system
      gpu_runtime_class: nvidia
  run_once: true
  register: kube

- name: Write them
  ai_system.containers.file_set:
    path: build/kube
    files: "{{ kube.files }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
files:
  description:
    - File name, relative to the output folder, to its YAML text. Empty when there is any
      problem.
  returned: always
  type: dict
  sample:
    kustomization.yaml: "# Managed by ai_system.containers ...\n---\napiVersion: kustomize.config.k8s.io/v1beta1\n..."
    namespace.yaml: "..."
    probe.yaml: "..."
    groups/core-services.yaml: "..."
    podman/ai-system.yaml: "..."
order:
  description: The groups in the order they are applied (each host's start order).
  returned: always
  type: list
  elements: dict
  sample: [{host: mainpc, group: mainpc-redis}, {host: mainpc, group: core-services}]
errors:
  description: Every problem found, as one line of text each.
  returned: always
  type: list
  elements: str
  sample:
    - "host mainpc, group audio-processing, field devices: device /dev/video0 cannot be expressed
      in Kubernetes manifests: ... -- remove it from devices for the Kubernetes output ..."
problems:
  description: The same problems as structured data.
  returned: always
  type: list
  elements: dict
  sample: [{host: mainpc, group: audio-processing, agent: "", field: devices,
            message: "device /dev/video0 cannot be expressed ...", fix: "...", text: "..."}]
warnings:
  description: Things that are allowed but need care, such as images built on a host.
  returned: always
  type: list
  elements: str
  sample: []
"""
