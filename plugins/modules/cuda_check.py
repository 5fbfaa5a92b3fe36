#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cuda_check
short_description: Prove that a CUDA kernel runs inside running GPU containers
version_added: "0.1.0"
description:
  - For every container in O(containers), sends a self-contained Python probe to
    C(podman exec -i -- CONTAINER python3 -) and reads its JSON result. A container name that
    starts with C(-) is refused.
  - Output that is not the probe's JSON document, or a document of the wrong shape, fails the
    container with the failed step C(probe result).
  - The probe uses only the NVIDIA driver libraries that CDI injects into the container
    (C(libnvidia-ml.so.1) and C(libcuda.so.1)), never the CUDA toolkit or anything else of the image.
    It lists the GPUs through NVML, then on every CUDA device creates a context, allocates and fills
    device memory, JIT-compiles an embedded PTX kernel (out[i] = a * in[i] + b), launches it, copies
    the result back, checks every element and releases everything. Each step is timed.
  - By default the probe also checks that both libraries were loaded from bind mounts (as CDI injects
    them) and not from the image's own file system, see O(require_injected).
  - A container without the driver libraries is V(skipped) with reason C(no NVIDIA driver); a container
    given the lab CDI device (or O(lab=true)) is V(skipped) with reason
    C(no NVIDIA driver (lab CDI device)). A skipped container is never reported as passed.
  - With O(daemon_reload=true) the check runs, then C(systemctl daemon-reload), then runs again, and both
    results are reported. A reload is a known way for running containers to lose access to the GPU.
  - Fails when any container fails, naming the container, the step and the driver's error.
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  containers:
    description:
      - Names or IDs of the running containers to check.
    type: list
    elements: str
    required: true
  podman_path:
    description:
      - Podman executable, a name looked up in E(PATH) or an absolute path.
    type: str
    default: podman
  python:
    description:
      - Python interpreter inside the containers (3.9 or later).
    type: str
    default: python3
  timeout:
    description:
      - Seconds that one container's probe may run. A probe still running then is killed and the
        container fails, naming the step that was running.
    type: int
    default: 120
  expect_gpus:
    description:
      - Number of GPUs every container must see. A container that passes but sees a different number fails.
    type: int
  kernel_elements:
    description:
      - Number of float32 elements the kernel processes (4 bytes each, in two device buffers).
    type: int
    default: 1048576
  require_injected:
    description:
      - Fail a container whose C(libcuda.so.1) or C(libnvidia-ml.so.1) is part of the image rather than a
        bind mount, so that a pass proves the CDI injection and not a library that the image brought.
    type: bool
    default: true
  daemon_reload:
    description:
      - Run the check, then C(systemctl daemon-reload), then the check again, and report both.
      - In check mode the reload is not performed and only the first check runs.
    type: bool
    default: false
  settle_seconds:
    description:
      - Seconds to wait after C(systemctl daemon-reload) before the second check.
    type: int
    default: 2
  lab:
    description:
      - The containers were given the lab CDI device, which is not a GPU. Every container is then
        V(skipped) with reason C(no NVIDIA driver (lab CDI device)), without loading any library.
      - The probe also detects the lab device by itself, through the E(AI_SYSTEM_LAB_CDI=1) variable that
        the lab CDI spec sets.
    type: bool
    default: false
  fail_on_skip:
    description:
      - Fail when any container is skipped.
    type: bool
    default: false
  budgets:
    description:
      - VRAM budget in MiB of each container (container name to MiB); containers not named have no budget.
      - With O(mps=true) the probe proves each budget on the GPU - half of it must be allocatable and the budget
        plus 64 MiB must be refused with C(CUDA_ERROR_OUT_OF_MEMORY) - and the container fails at the step that
        did not behave. Without MPS the budget is reported V(not_enforced), never as passed.
    type: dict
    default: {}
  mps:
    description:
      - CUDA MPS enforces the budgets (the host has C(ai_gpu.sharing=mps)).
      - Each container must then carry C(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=<budget>M) and C(CUDA_MPS_PIPE_DIRECTORY).
    type: bool
    default: false
attributes:
  check_mode:
    support: partial
    details: The probe only reads and runs in check mode too; C(systemctl daemon-reload) is not run in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Linux hosts with Podman; the containers need a Python 3.9 or later interpreter.
notes:
  - The probe is C(plugins/module_utils/verify/cuda_probe.py) of this collection. It can also run directly on a host
    to check the driver there, C(python3 cuda_probe.py) (exit status 0 passed, 1 failed, 3 skipped).
  - Commands run with C(LANG=C). The probe runs under C(timeout) from coreutils and also stops itself
    after O(timeout) seconds.
  - How a probe's outcome becomes a container's status is C(plugins/module_utils/verify/cuda_verdict.py). The
    verification report (M(ai_system.containers.stack_report)) takes these statuses as they are.
seealso:
  - module: ai_system.containers.gpu_facts
  - name: Container Device Interface
    description: How the GPU and the driver libraries are injected into the containers.
    link: https://github.com/cncf-tags/container-device-interface
"""

EXAMPLES = r"""
- name: Prove CUDA works in the GPU containers
  ai_system.containers.cuda_check:
    containers:
      - ai-llm
      - ai-tts
    expect_gpus: 1

- name: Prove the containers keep the GPU across a systemd reload
  ai_system.containers.cuda_check:
    containers: [ai-llm]
    daemon_reload: true

- name: Lab - the containers carry the lab CDI device and are reported as skipped
  ai_system.containers.cuda_check:
    containers: [ai-llm]
    lab: true
  register: cuda

- name: A skipped container never counts as passed
  ansible.builtin.assert:
    that: cuda.passed_count == 0 and cuda.skipped_count == 1
"""

RETURN = r"""
results:
  description: One entry per container, in the order of O(containers).
  returned: always
  type: list
  elements: dict
  sample:
    - container: ai-llm
      status: passed
      reason: CUDA kernel ran and every element was verified on 1 device(s)
      failed_step: null
      error: null
      lab: false
      driver_version: "550.120"
      cuda_driver_version: "12.4"
      gpus: [{index: 0, name: NVIDIA GeForce RTX 4090, memory_total_mib: 24564,
              uuid: GPU-5b1c4f2e-8a51-7d0c-93f6-0c2d6e9b7a41}]
      kernel_result: {ok: true, n_elements: 1048576, devices_tested: 1, mismatches: 0, first_mismatch: null}
      steps: [{step: cuInit, ms: 41.2, ok: true, error: null}]
  contains:
    container:
      description: The container name as given.
      returned: always
      type: str
      sample: ai-llm
    status:
      description: V(passed), V(failed) or V(skipped); with O(daemon_reload) the worse of both runs.
      returned: always
      type: str
      sample: passed
    reason:
      description: Why the container has that status.
      returned: always
      type: str
      sample: "no NVIDIA driver (lab CDI device)"
    failed_step:
      description: The step that failed (driver function, device and detail), V(null) unless failed.
      returned: always
      type: str
      sample: cuCtxCreate_v2 on device 0
    error:
      description: The error of the failed step, with the driver's error name and text.
      returned: always
      type: str
      sample: "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
    lab:
      description: Whether the container carries the lab CDI device.
      returned: always
      type: bool
      sample: false
    driver_version:
      description: NVIDIA driver version seen inside the container.
      returned: always
      type: str
      sample: "550.120"
    cuda_driver_version:
      description: CUDA version the driver supports, as major.minor.
      returned: always
      type: str
      sample: "12.4"
    gpus:
      description: The GPUs NVML lists inside the container.
      returned: always
      type: list
      elements: dict
      sample: [{index: 0, name: NVIDIA GeForce RTX 3060, memory_total_mib: 12288,
                uuid: GPU-0e9a3b8c-4d2f-11ee-9c61-2b7f3a5d8e10}]
    cuda_devices:
      description: The devices the CUDA driver lists, with compute capability.
      returned: always
      type: list
      elements: dict
      sample: [{ordinal: 0, name: NVIDIA GeForce RTX 3060, memory_total_mib: 12288, compute_capability: "8.6",
                uuid: GPU-0e9a3b8c-4d2f-11ee-9c61-2b7f3a5d8e10}]
    libraries:
      description: Where C(libnvidia-ml.so.1) and C(libcuda.so.1) were loaded from, and whether each is injected.
      returned: always
      type: list
      elements: dict
      sample: [{soname: libcuda.so.1, path: /usr/lib/x86_64-linux-gnu/libcuda.so.550.120,
                mount: /usr/lib/x86_64-linux-gnu/libcuda.so.550.120, injected: true}]
    steps:
      description: Every step the probe ran, with its duration in milliseconds and its error.
      returned: always
      type: list
      elements: dict
      sample: [{step: cuLaunchKernel, device: 0, detail: grid 4096 x block 256, ms: 0.05, ok: true, error: null}]
    kernel_result:
      description: Outcome of the kernel; C(ok) is true only when every element on every device was verified.
      returned: always
      type: dict
      sample: {ok: true, n_elements: 1048576, devices_tested: 1, mismatches: 0, first_mismatch: null}
    python:
      description: Version of the Python that ran the probe in the container.
      returned: when the probe produced a result
      type: str
      sample: 3.11.2
    total_ms:
      description: Total run time of the probe in milliseconds.
      returned: always
      type: float
      sample: 412.5
    budget:
      description:
        - The VRAM budget verdict of a container named in O(budgets), null for the others. C(status) is
          V(enforced) (MPS refused the allocation over the budget with C(CUDA_ERROR_OUT_OF_MEMORY)),
          V(not_enforced) (no MPS; a warning), V(failed) (C(failed_step) and C(error) say which step did not
          behave) or V(skipped) (lab CDI device, no driver, or the CUDA check failed before).
      returned: always
      type: dict
      sample: {vram_mib: 8192, mps: true, status: enforced, within_mib: 4096, over_mib: 8256, failed_step: null,
               error: null, reason: "VRAM budget enforced: 4096 MiB allocated, 8256 MiB refused with
               CUDA_ERROR_OUT_OF_MEMORY (budget 8192 MiB)"}
    exec:
      description: How C(podman exec) ended (C(rc), C(timed_out), the tail of its standard error).
      returned: always
      type: dict
      sample: {rc: 0, timed_out: false, stderr_tail: ""}
    after_daemon_reload:
      description: The same result for the run after C(systemctl daemon-reload).
      returned: when O(daemon_reload=true) and not in check mode
      type: dict
      sample: {status: passed, reason: CUDA kernel ran and every element was verified on 1 device(s)}
passed_count:
  description: Number of containers that passed.
  returned: always
  type: int
  sample: 2
failed_count:
  description: Number of containers that failed.
  returned: always
  type: int
  sample: 0
skipped_count:
  description:
    - Number of containers that were skipped.
    - Named C(_count) because C(skipped) and C(failed) are task result keys that Ansible interprets.
  returned: always
  type: int
  sample: 0
daemon_reload:
  description: Whether C(systemctl daemon-reload) was requested and run between the two checks.
  returned: always
  type: dict
  sample: {requested: true, performed: true}
msg:
  description: One-line summary.
  returned: always
  type: str
  sample: CUDA kernel verified in 2 container(s)
"""
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.verify.cuda_run import ARGUMENT_SPEC, run
from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
