#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight
short_description: Say whether a host is ready for the AI stack, each item with its evidence and exact fix
version_added: "0.1.0"
description:
  - Reads the host and returns one readiness item per requirement of the stack, each with a status
    (V(ready), V(not ready), V(warning) or V(skipped) with its reason), the evidence found and the exact fix.
  - C(distribution) the distribution, release and kernel, WSL 2 detected from C(/proc/sys/kernel/osrelease)
    and C(systemd-detect-virt) (WSL 1 is not ready).
  - C(podman) Podman >= 4.4 with Quadlet, installed or offered by the distribution. Debian 12 and Ubuntu 22.04
    are not ready, with the path up (Debian 13; Ubuntu 24.04 through C(do-release-upgrade), under WSL a new
    C(Ubuntu-24.04) distribution); Ubuntu 22.04 with O(podman_repository) set is a warning.
  - C(systemd) systemd as PID 1 (C(/proc/1/comm)); under WSL the C(/etc/wsl.conf) lines and C(wsl --shutdown).
  - C(cgroup) the cgroup file system at C(/sys/fs/cgroup).
  - C(lan_address) O(lan_address) is an address of the host (C(ip -j addr)); under WSL in NAT mode, the
    C(.wslconfig) lines of mirrored networking and the Windows and WSL versions they need.
  - C(ports) no other process listens on a port the plan publishes (C(/proc/net/tcp), C(/proc/net/tcp6));
    a listener in the cgroup of one of O(services) is the stack's own.
  - C(disk) free space where Podman keeps its images (its graphroot, C(/etc/containers/storage.conf)).
  - C(clock) the host's clock against O(controller_time).
  - C(gpu) the NVIDIA driver through NVML, its version, and the model and memory of O(gpu); under WSL the
    driver must be the Windows one (a Linux nvidia kernel module or C(/proc/driver/nvidia) is not ready).
    On a lab host (O(lab)) without a driver the item is skipped, never ready.
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  host:
    description: The host's inventory name, for the report's lines.
    type: str
  lan_address:
    description: The host's C(ai_lan_address), the address the plan publishes ports on.
    type: str
    required: true
  published:
    description:
      - The plan's published ports of this host, RV(ai_system.containers.stack_plan#module:plan.<host>.published)
        (dicts with C(port), C(group) and C(agent)).
    type: list
    elements: dict
    default: []
  monitoring:
    description:
      - The plan's C(monitoring) of this host (C(exporter_port), C(prometheus), C(prometheus_port)), or null.
    type: dict
  quadlet_dir:
    description:
      - Where the collection's Quadlet files are on the host (the plan's C(quadlet_dir)). A listener in a unit
        whose Quadlet file there carries the collection's C(io.ai-system.managed-by) label is the stack's own
        too (a run replaces or removes it), for example a pod unit before a switch to per-group mode.
    type: path
    default: /etc/containers/systemd
  services:
    description:
      - The systemd services of the plan's units on this host; their listeners (Podman's C(conmon) holds each
        published port of a running container) are not in the way.
      - The exporter's and Prometheus's services of O(monitoring) count as well.
    type: list
    elements: str
    default: []
  gpu:
    description:
      - What the inventory says of the host's GPU, the plan's C(gpu) (C(model), C(memory_mib), C(required)).
      - Null or without C(model) and C(required), the C(gpu) item is skipped.
    type: dict
  lab:
    description: The host is a lab host whose GPU is a stand-in; without a driver the C(gpu) item is skipped.
    type: bool
    default: false
  controller_time:
    description: The controller's clock, in seconds since the epoch, when the task started.
    type: float
  max_clock_offset_s:
    description: Seconds the host's clock may differ from O(controller_time) (connection time included).
    type: float
    default: 30.0
  min_free_gib:
    description: GiB that must be free on the file system of Podman's graphroot.
    type: float
    default: 20.0
  podman_repository:
    description: The podman role's C(podman_repository); set on Ubuntu 22.04, the C(podman) item is a warning.
    type: str
    default: ""
  root:
    description: The root of the file system to read (C(/) on a host).
    type: path
    default: /
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Linux hosts, WSL 2 included.
notes:
  - The module never fails because the host is not ready; RV(ready) and RV(failing) say so, and the
    preflight playbook fails with them.
seealso:
  - module: ai_system.containers.gpu_facts
  - name: WSL configuration (wsl.conf and .wslconfig)
    description: The settings the WSL fixes name.
    link: https://learn.microsoft.com/windows/wsl/wsl-config
"""

EXAMPLES = r"""
- name: Is the host ready?
  ai_system.containers.preflight:
    host: "{{ inventory_hostname }}"
    lan_address: "{{ stack_host_plan.lan_address }}"
    published: "{{ stack_host_plan.published }}"
    monitoring: "{{ stack_host_plan.monitoring }}"
    services: "{{ stack_host_plan.units | map(attribute='service') }}"
    gpu: "{{ stack_host_plan.gpu }}"
    controller_time: "{{ now().timestamp() }}"
  register: preflight

- name: Stop when it is not
  ansible.builtin.fail:
    msg: "{{ preflight.failing | join('\n') }}"
  when: not preflight.ready
"""

RETURN = r"""
ready:
  description: Whether no item is V(not ready).
  returned: always
  type: bool
  sample: false
counts:
  description: Number of items per status.
  returned: always
  type: dict
  sample: {ready: 7, "not ready": 1, warning: 0, skipped: 1}
items:
  description: Every item, in a fixed order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: C(distribution), C(podman), C(systemd), C(cgroup), C(lan_address), C(ports), C(disk),
        C(clock) or C(gpu).
      type: str
    title:
      description: What the item checks, in words.
      type: str
    status:
      description: V(ready), V(not ready), V(warning) or V(skipped).
      type: str
    evidence:
      description: What was found on the host.
      type: str
    fix:
      description: The exact thing to do; null when ready.
      type: str
    reason:
      description: Why the item was skipped; null otherwise.
      type: str
  sample:
    - name: systemd
      title: systemd as PID 1
      status: not ready
      evidence: PID 1 is init; /etc/wsl.conf has no [boot] systemd setting
      fix: "Quadlet units need systemd. Add these lines to /etc/wsl.conf ..."
      reason: null
platform:
  description: What the host is (distribution, kernel, WSL, virtualisation, PID 1, Podman, graphroot, driver).
  returned: always
  type: dict
  sample: {os: "Ubuntu 22.04.5 LTS", id: ubuntu, version_id: "22.04", wsl: 2, virtualization: wsl, pid1: init,
           kernel: 5.15.167.4-microsoft-standard-WSL2, podman_version: null,
           graphroot: /var/lib/containers/storage, driver_version: "566.36"}
failing:
  description: "One line per not-ready item: C(<host>: <item> NOT READY: <evidence> -- fix: <fix>)."
  returned: always
  type: list
  elements: str
warning_lines:
  description: One line per warning, in the same form.
  returned: always
  type: list
  elements: str
text:
  description: The host's report for the terminal, one string per line.
  returned: always
  type: list
  elements: str
markdown:
  description: The host's section of the Markdown report (a heading and a table).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish
from ansible_collections.ai_system.containers.plugins.module_utils.host.preflight_run import ARGUMENT_SPEC, run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
