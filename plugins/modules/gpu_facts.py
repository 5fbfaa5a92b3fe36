#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Report the NVIDIA driver and GPUs through NVML, and check VRAM budgets
version_added: "0.1.0"
description:
  - Reads the NVIDIA driver version, the CUDA version the driver supports and, for every GPU, its
    index, name, UUID, memory (total, used, free in MiB), compute capability and running compute
    processes, through NVML (C(libnvidia-ml.so.1), part of the NVIDIA driver).
  - Uses the C(pynvml) module of the C(nvidia-ml-py) package when it is installed for the Python
    interpreter that runs the module; otherwise it calls NVML through a built-in ctypes binding, so
    a host needs nothing but the driver.
  - A host without a usable driver (the NVML library is missing, or the nvidia kernel module is not
    loaded) returns O(required=false) RV(available=false) with RV(reason); with O(required=true) the
    module fails instead, saying what it looked for and what to install.
  - With O(vram_budgets), compares the sum of the budgets plus O(vram_reserve_mib) with the total
    memory of the GPU and fails, naming every budget, the sum and the GPU total, when they do not fit.
    This runs before any GPU service starts, so an over-subscribed plan never starts.
  - The result is also set as the host fact C(ai_gpu_facts).
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
options:
  required:
    description:
      - Fail when the host has no usable NVIDIA driver, instead of returning RV(available=false).
      - Set this on every host that should have a GPU, so that a missing driver cannot skip the
        VRAM budget check.
    type: bool
    default: false
  vram_budgets:
    description:
      - VRAM budget of each group of GPU services, in MiB, keyed by group name.
      - When given, the sum of the budgets plus O(vram_reserve_mib) must fit in the GPU's total memory.
      - Values must be whole, non-negative numbers of MiB.
    type: dict
  vram_reserve_mib:
    description:
      - MiB of GPU memory kept free for the driver, the CUDA contexts and anything outside the plan
        (for example a desktop session), added to the sum of O(vram_budgets).
    type: int
    default: 0
  vram_gpu_index:
    description:
      - NVML index of the GPU that the budgets are checked against.
      - When omitted, the GPU with the least total memory is used.
    type: int
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
    details: Linux hosts with an NVIDIA GPU, or without one (RV(available=false)).
notes:
  - Memory figures are whole MiB (bytes divided by 1048576, rounded down).
  - A query that the GPU does not support (NVML_ERROR_NOT_SUPPORTED) is returned as V(null); any other
    NVML error fails the module with the name of the NVML function and the NVML error string.
  - Process IDs are the host's; the memory used by a process is V(null) where NVML cannot tell.
seealso:
  - module: ai_system.containers.cuda_check
  - name: NVIDIA Management Library (NVML)
    description: The API this module reads.
    link: https://docs.nvidia.com/deploy/nvml-api/
"""

EXAMPLES = r"""
- name: Read the GPUs (a host without a driver returns available=false)
  ai_system.containers.gpu_facts:
  register: gpu

- name: Require the driver on a GPU host and check the VRAM plan before anything starts
  ai_system.containers.gpu_facts:
    required: true
    vram_budgets:
      llm: 14000
      tts: 3000
      stt: 2500
    vram_reserve_mib: 1024

- name: Use the fact set by the module
  ansible.builtin.debug:
    msg: "{{ ansible_facts['ai_gpu_facts']['gpus'] | map(attribute='name') | list }}"
"""

RETURN = r"""
available:
  description: Whether NVML answered and reported at least one GPU.
  returned: always
  type: bool
  sample: true
reason:
  description:
    - Why RV(available) is false; V(null) when it is true.
    - C(no NVIDIA driver:) followed by the NVML error string when the library is missing or the kernel
      module is not loaded.
  returned: always
  type: str
  sample: "no NVIDIA driver: NVML Shared Library Not Found"
binding:
  description: How NVML was called, V(pynvml) (nvidia-ml-py) or V(ctypes) (the built-in binding).
  returned: always
  type: str
  sample: pynvml
driver_version:
  description: NVIDIA driver version.
  returned: always
  type: str
  sample: "550.120"
cuda_driver_version:
  description: Highest CUDA version the driver supports, as major.minor.
  returned: always
  type: str
  sample: "12.4"
kernel_module:
  description: First line of C(/proc/driver/nvidia/version), or V(null) when the nvidia kernel module is not loaded.
  returned: always
  type: str
  sample: "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.120  Fri Sep 13 10:10:01 UTC 2024"
gpu_count:
  description: Number of GPUs NVML reports.
  returned: always
  type: int
  sample: 1
gpus:
  description: One entry per GPU, in NVML index order.
  returned: always
  type: list
  elements: dict
  sample:
    - index: 0
      name: NVIDIA GeForce RTX 4090
      uuid: GPU-5b1c4f2e-8a51-7d0c-93f6-0c2d6e9b7a41
      memory_total_mib: 24564
      memory_used_mib: 1039
      memory_free_mib: 23524
      compute_capability: "8.9"
      processes:
        - pid: 4242
          name: python3
          used_memory_mib: 812
  contains:
    index:
      description: NVML index of the GPU.
      returned: always
      type: int
      sample: 0
    name:
      description: Product name.
      returned: always
      type: str
      sample: NVIDIA GeForce RTX 3060
    uuid:
      description: GPU UUID.
      returned: always
      type: str
      sample: GPU-0e9a3b8c-4d2f-11ee-9c61-2b7f3a5d8e10
    memory_total_mib:
      description: Total memory in MiB.
      returned: always
      type: int
      sample: 12288
    memory_used_mib:
      description: Memory in use in MiB.
      returned: always
      type: int
      sample: 512
    memory_free_mib:
      description: Free memory in MiB.
      returned: always
      type: int
      sample: 11776
    compute_capability:
      description: CUDA compute capability as major.minor; V(null) when not supported.
      returned: always
      type: str
      sample: "8.6"
    processes:
      description: Running compute processes; V(null) when the GPU does not support the query.
      returned: always
      type: list
      elements: dict
      sample:
        - pid: 4242
          name: python3
          used_memory_mib: 812
      contains:
        pid:
          description: Host process ID.
          returned: always
          type: int
          sample: 4242
        name:
          description: Process name from C(/proc/PID/comm), V(null) when it cannot be read.
          returned: always
          type: str
          sample: python3
        used_memory_mib:
          description: GPU memory the process uses in MiB, V(null) when NVML cannot tell.
          returned: always
          type: int
          sample: 812
vram_check:
  description:
    - The VRAM budget check. Only C(checked) is present when no budgets were given.
    - When budgets were given but the host has no GPU (and O(required=false)), C(checked) is false
      and C(reason) says why.
  returned: always
  type: dict
  sample:
    checked: true
    ok: true
    gpu_index: 0
    gpu_name: NVIDIA GeForce RTX 3060
    gpu_total_mib: 12288
    budgets_mib: {stt: 2500, tts: 3000}
    budget_sum_mib: 5500
    reserve_mib: 1024
    required_mib: 6524
    headroom_mib: 5764
  contains:
    checked:
      description: Whether budgets were compared with a GPU.
      returned: always
      type: bool
      sample: true
    reason:
      description: Why the budgets were not checked.
      returned: when budgets were given and the host has no GPU
      type: str
      sample: "no GPU: no NVIDIA driver: NVML Shared Library Not Found"
    ok:
      description: Whether the budgets plus the reserve fit.
      returned: when checked
      type: bool
      sample: true
    gpu_index:
      description: Index of the GPU the budgets were checked against.
      returned: when checked
      type: int
      sample: 0
    gpu_name:
      description: Name of that GPU.
      returned: when checked
      type: str
      sample: NVIDIA GeForce RTX 3060
    gpu_total_mib:
      description: Total memory of that GPU in MiB.
      returned: when checked
      type: int
      sample: 12288
    budgets_mib:
      description: The budgets, as whole MiB.
      returned: when checked
      type: dict
      sample: {stt: 2500, tts: 3000}
    budget_sum_mib:
      description: Sum of the budgets in MiB.
      returned: when checked
      type: int
      sample: 5500
    reserve_mib:
      description: The reserve in MiB.
      returned: when checked
      type: int
      sample: 1024
    required_mib:
      description: Sum of the budgets plus the reserve, in MiB.
      returned: when checked
      type: int
      sample: 6524
    headroom_mib:
      description: GPU total minus RV(vram_check.required_mib); negative when over-subscribed.
      returned: when checked
      type: int
      sample: 5764
ansible_facts:
  description: The same result, as a host fact.
  returned: always
  type: dict
  sample: {ai_gpu_facts: {available: true, gpu_count: 1}}
  contains:
    ai_gpu_facts:
      description: Every key above except ansible_facts.
      returned: always
      type: dict
      sample: {available: true, gpu_count: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.verify.gpu_run import ARGUMENT_SPEC, run
from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
