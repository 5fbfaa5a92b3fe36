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
    C(podman exec -i CONTAINER python3 -) and reads its JSON result.
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
  - The probe is C(plugins/module_utils/cuda_probe.py) of this collection. It can also run directly on a host
    to check the driver there, C(python3 cuda_probe.py) (exit status 0 passed, 1 failed, 3 skipped).
  - Commands run with C(LANG=C). The probe runs under C(timeout) from coreutils and also stops itself
    after O(timeout) seconds.
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

import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils import cuda_probe

ARGUMENT_SPEC = dict(
    containers=dict(type="list", elements="str", required=True),
    podman_path=dict(type="str", default="podman"),
    python=dict(type="str", default="python3"),
    timeout=dict(type="int", default=120),
    expect_gpus=dict(type="int"),
    kernel_elements=dict(type="int", default=cuda_probe.DEFAULT_ELEMENTS),
    require_injected=dict(type="bool", default=True),
    daemon_reload=dict(type="bool", default=False),
    settle_seconds=dict(type="int", default=2),
    lab=dict(type="bool", default=False),
    fail_on_skip=dict(type="bool", default=False),
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
# `timeout` gives the probe this much longer than its own deadline.
KILL_GRACE = 5
STATUS_RANK = {"passed": 0, "skipped": 1, "failed": 2}
PROGRESS_PREFIX = "cuda_probe: step "
PODMAN_RC = {
    125: "podman could not run the exec session",
    126: "the interpreter exists in the container but could not be run",
    127: "the interpreter was not found in the container",
}


def validate(params):
    """The first problem with the options, or None."""
    if not [c for c in params["containers"] if c and c.strip()]:
        return "containers must name at least one container"
    if any(not (c and c.strip()) for c in params["containers"]):
        return "containers must not contain empty names"
    if params["timeout"] < 1:
        return "timeout must be at least 1 second, got %d" % params["timeout"]
    if params["kernel_elements"] < 1:
        return "kernel_elements must be at least 1, got %d" % params["kernel_elements"]
    if params.get("expect_gpus") is not None and params["expect_gpus"] < 0:
        return "expect_gpus must not be negative, got %d" % params["expect_gpus"]
    if params["settle_seconds"] < 0:
        return "settle_seconds must not be negative, got %d" % params["settle_seconds"]
    return None


def find_binaries(params, which):
    """(binaries, error): podman, timeout and, for daemon_reload, systemctl."""
    wanted = [("podman", params["podman_path"]), ("timeout", "timeout")]
    if params["daemon_reload"]:
        wanted.append(("systemctl", "systemctl"))
    found = {}
    for key, name in wanted:
        path = which(name)
        if not path:
            return found, "%s executable not found (looked for %r in PATH)" % (key, name)
        found[key] = path
    return found, None


def probe_argv(bins, container, params):
    argv = [
        bins["timeout"], "--kill-after=%d" % KILL_GRACE, str(params["timeout"] + KILL_GRACE),
        bins["podman"], "exec", "-i", container, params["python"], "-",
        "--compact", "--elements", str(params["kernel_elements"]), "--deadline", str(params["timeout"]),
    ]
    if params["require_injected"]:
        argv.append("--require-injected")
    if params["lab"]:
        argv.append("--lab")
    return argv


def last_progress_step(stderr):
    """The step the probe announced last on stderr (the one running when it died)."""
    step = None
    for line in (stderr or "").splitlines():
        if line.startswith(PROGRESS_PREFIX):
            step = line[len(PROGRESS_PREFIX):].strip()
    return step


def stderr_tail(stderr, lines=8):
    kept = [line for line in (stderr or "").splitlines() if not line.startswith(PROGRESS_PREFIX)]
    return "\n".join(kept[-lines:])


def parse_probe_output(stdout):
    """The probe's JSON document from stdout, or None when there is none."""
    text = (stdout or "").strip()
    candidates = [text] + [line.strip() for line in reversed(text.splitlines())]
    for candidate in candidates:
        if not candidate.startswith("{"):
            continue
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("probe") == cuda_probe.PROBE_NAME:
            return doc
    return None


def empty_result(container):
    return {
        "container": container,
        "status": "failed",
        "reason": None,
        "failed_step": None,
        "error": None,
        "lab": False,
        "driver_version": None,
        "cuda_driver_version": None,
        "gpus": [],
        "cuda_devices": [],
        "libraries": [],
        "steps": [],
        "kernel_result": {"ok": False, "n_elements": 0, "devices_tested": 0, "mismatches": 0,
                          "first_mismatch": None},
        "total_ms": 0.0,
        "exec": {"rc": None, "timed_out": False, "stderr_tail": ""},
    }


def exec_failure(result, rc, stderr, params):
    """Fill in a failed result for a probe that produced no JSON."""
    running = last_progress_step(stderr)
    tail = stderr_tail(stderr)
    last_line = tail.splitlines()[-1] if tail else ""
    if rc in (124, 137) or rc == 128 + 14:
        result["exec"]["timed_out"] = True
        result["failed_step"] = running or "podman exec"
        result["error"] = "no result within %d seconds" % params["timeout"]
        result["reason"] = "the probe timed out after %d seconds%s" % (
            params["timeout"], " during step %s" % running if running else "")
    elif rc in PODMAN_RC and not running:
        result["failed_step"] = "podman exec"
        result["error"] = last_line or PODMAN_RC[rc]
        what = PODMAN_RC[rc] if rc == 125 else "%s (%s)" % (PODMAN_RC[rc], params["python"])
        result["reason"] = "%s, rc %d: %s" % (what, rc, result["error"])
    elif rc > 128 and running:
        result["failed_step"] = running
        result["error"] = "killed by signal %d" % (rc - 128)
        result["reason"] = "the probe crashed (signal %d) during step %s" % (rc - 128, running)
    else:
        result["failed_step"] = running or "podman exec"
        result["error"] = last_line or "no output"
        result["reason"] = "the probe exited with rc %d without a result%s: %s" % (
            rc, " during step %s" % running if running else "", result["error"])
    return result


def container_result(container, rc, stdout, stderr, params):
    """One container's result from the exit code and output of ``podman exec``."""
    result = empty_result(container)
    result["exec"].update(rc=rc, stderr_tail=stderr_tail(stderr))
    doc = parse_probe_output(stdout)
    if doc is None:
        return exec_failure(result, rc, stderr, params)
    for key in ("status", "reason", "failed_step", "error", "lab", "driver_version", "cuda_driver_version",
                "cuda_devices", "libraries", "steps", "kernel_result", "python", "total_ms"):
        if key in doc:
            result[key] = doc[key]
    result["gpus"] = [dict((k, gpu.get(k)) for k in ("index", "name", "memory_total_mib", "uuid"))
                      for gpu in doc.get("gpus") or []]
    kernel = result["kernel_result"] or {}
    if result["status"] not in STATUS_RANK:
        result.update(status="failed", failed_step="probe result",
                      error="unknown status %r" % (doc.get("status"),),
                      reason="the probe returned an unknown status %r" % (doc.get("status"),))
    elif result["status"] == "passed" and not (kernel.get("ok") and kernel.get("devices_tested", 0) > 0):
        result.update(status="failed", failed_step="probe result", error="kernel_result is not ok",
                      reason="the probe said passed but did not verify a kernel result")
    if result["status"] == "skipped" and params["lab"] and not result["lab"]:
        result.update(lab=True, reason=cuda_probe.REASON_LAB)
    expect = params.get("expect_gpus")
    if result["status"] == "passed" and expect is not None and len(result["gpus"]) != expect:
        result.update(status="failed", failed_step="expect_gpus",
                      error="sees %d GPU(s), expected %d" % (len(result["gpus"]), expect),
                      reason="the container sees %d GPU(s) but expect_gpus is %d" % (len(result["gpus"]), expect))
    return result


def check_containers(containers, runner, bins, params, source):
    results = []
    for container in containers:
        rc, stdout, stderr = runner(probe_argv(bins, container, params), source)
        results.append(container_result(container, rc, stdout, stderr, params))
    return results


def merge_after_reload(initial, after):
    """Attach the second run to the first; the container gets the worse status."""
    merged = []
    for first, second in zip(initial, after):
        entry = dict(first)
        entry["after_daemon_reload"] = dict((k, v) for k, v in second.items() if k != "container")
        if STATUS_RANK[second["status"]] > STATUS_RANK[first["status"]]:
            entry["status"] = "failed"
            entry["failed_step"] = second["failed_step"]
            entry["error"] = second["error"]
            if second["status"] == "failed":
                entry["reason"] = "after systemctl daemon-reload: %s" % second["reason"]
            else:
                entry["failed_step"] = entry["failed_step"] or "after systemctl daemon-reload"
                entry["error"] = entry["error"] or second["reason"]
                entry["reason"] = "%s before systemctl daemon-reload, but skipped after it: %s" % (
                    first["status"], second["reason"])
        merged.append(entry)
    return merged


def describe_failure(entry):
    where = entry["container"]
    if entry.get("after_daemon_reload") and entry["after_daemon_reload"]["status"] != "passed" \
            and entry["reason"].startswith("after systemctl daemon-reload"):
        where += " (after systemctl daemon-reload)"
    return "%s: step %s: %s" % (where, entry["failed_step"] or "unknown", entry["error"] or entry["reason"])


def summarize(results, params, reload_done):
    counts = dict((status, sum(1 for r in results if r["status"] == status)) for status in STATUS_RANK)
    summary = dict(("%s_count" % status, count) for status, count in counts.items())
    summary["results"] = results
    total = len(results)
    if counts["failed"]:
        failed = [describe_failure(r) for r in results if r["status"] == "failed"]
        return summary, "CUDA check failed in %d of %d container(s): %s" % (counts["failed"], total, "; ".join(failed))
    skipped = ["%s: %s" % (r["container"], r["reason"]) for r in results if r["status"] == "skipped"]
    if skipped and params["fail_on_skip"]:
        return summary, "CUDA check skipped in %d of %d container(s) and fail_on_skip is true: %s" % (
            counts["skipped"], total, "; ".join(skipped))
    if counts["passed"]:
        msg = "CUDA kernel verified in %d container(s)" % counts["passed"]
        if reload_done:
            msg += " before and after systemctl daemon-reload"
        if skipped:
            msg += "; skipped in %d: %s" % (counts["skipped"], "; ".join(skipped))
    else:
        msg = "CUDA check skipped in %d container(s), none passed: %s" % (counts["skipped"], "; ".join(skipped))
    summary["msg"] = msg
    return summary, None


def run_check(params, runner, which, check_mode=False, sleep=time.sleep, source=None):
    """Everything cuda_check does: (result, error message or None)."""
    reload_info = {"requested": params["daemon_reload"], "performed": False}
    base = {"results": [], "passed_count": 0, "failed_count": 0, "skipped_count": 0, "daemon_reload": reload_info,
            "msg": ""}
    error = validate(params)
    if error:
        return base, error
    bins, error = find_binaries(params, which)
    if error:
        return base, error
    source = source if source is not None else cuda_probe.probe_source()
    results = check_containers(params["containers"], runner, bins, params, source)
    if params["daemon_reload"] and check_mode:
        reload_info["reason"] = "not run in check mode"
    elif params["daemon_reload"]:
        rc, _out, err = runner([bins["systemctl"], "daemon-reload"], None)
        if rc != 0:
            summary = summarize(results, params, False)[0]
            error = "systemctl daemon-reload failed (rc %d): %s" % (rc, (err or "").strip() or "no output")
            summary.update(daemon_reload=reload_info, msg=error)
            return summary, error
        reload_info["performed"] = True
        sleep(params["settle_seconds"])
        after = check_containers(params["containers"], runner, bins, params, source)
        results = merge_after_reload(results, after)
    summary, error = summarize(results, params, reload_info["performed"])
    summary["daemon_reload"] = reload_info
    summary.setdefault("msg", error)
    return summary, error


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def runner(argv, data):
        return module.run_command(argv, data=data, binary_data=True, environ_update=C_LOCALE)

    result, error = run_check(module.params, runner, module.get_bin_path, check_mode=module.check_mode)
    if error:
        module.fail_json(msg=error, **dict((k, v) for k, v in result.items() if k != "msg"))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
