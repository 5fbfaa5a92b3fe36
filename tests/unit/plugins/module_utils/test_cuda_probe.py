# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the self-contained CUDA probe.

The driver libraries are replaced by fakes that keep the C calling
conventions the probe relies on: output arguments arrive as ``byref()``
objects or buffers, host memory as raw addresses. The fake libcuda keeps
real device memory (bytearrays), copies through those addresses, decodes
the kernel parameters from the ``void**`` array using the parameter types
declared in the PTX, and computes the kernel - so a pass means the probe
marshals its calls correctly, not only that it calls them in order.
"""

from __future__ import annotations

import ast
import ctypes
import json
import os
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_probe, nvml_binding
from ansible_collections.ai_system.containers.plugins.module_utils.verify.cuda_probe import (
    NVMLError,
    run_probe,
)
from ansible_collections.ai_system.containers.plugins.module_utils.verify.nvml_binding import CtypesNvml

PROBE_PATH = Path(cuda_probe.__file__)
LIB_DIR = "/usr/lib/x86_64-linux-gnu"
CUDA_FILE = LIB_DIR + "/libcuda.so.550.54.14"
NVML_FILE = LIB_DIR + "/libnvidia-ml.so.550.54.14"

CUDA_ERRORS = {
    1: ("CUDA_ERROR_INVALID_VALUE", "invalid argument"),
    2: ("CUDA_ERROR_OUT_OF_MEMORY", "out of memory"),
    100: ("CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"),
    218: ("CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"),
    719: ("CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"),
    999: ("CUDA_ERROR_UNKNOWN", "unknown error"),
}
NVML_ERRORS = {
    1: b"Uninitialized",
    3: b"Not Supported",
    7: b"Insufficient Size",
    9: b"Driver Not Loaded",
    15: b"GPU is lost",
    999: b"Unknown Error",
}
PTX_TYPES = {".u64": ctypes.c_uint64, ".u32": ctypes.c_uint32, ".f32": ctypes.c_float}


def target(arg):
    """The ctypes object behind an output argument (byref() or the object itself)."""
    return getattr(arg, "_obj", arg)


def handle_value(handle):
    return handle.value if hasattr(handle, "value") else handle


class FakeSymbol(object):
    """A library symbol: callable, and accepts argtypes/restype like a ctypes function."""

    def __init__(self, name, impl, calls):
        self.name = name
        self.impl = impl
        self.calls = calls
        self.argtypes = None
        self.restype = None

    def __call__(self, *args):
        self.calls.append(self.name)
        return self.impl(*args)


class FakeLibrary(object):
    """Symbols are the public methods of the subclass, minus those in ``missing``."""

    def __init__(self):
        self.missing = set()
        self.fail = {}
        self.calls = []
        self._symbols = {}

    def __getattr__(self, name):
        if name.startswith("_") or name in self.missing or not hasattr(type(self), "sym_" + name):
            raise AttributeError("%s: undefined symbol: %s" % (type(self).__name__, name))
        if name not in self._symbols:
            impl = getattr(self, "sym_" + name)

            def call(*args, _name=name, _impl=impl):
                if _name in self.fail:
                    return self.fail[_name]
                return _impl(*args)

            self._symbols[name] = FakeSymbol(name, call, self.calls)
        return self._symbols[name]


class FakeNvml(FakeLibrary):
    def __init__(self, devices):
        super().__init__()
        self.devices = devices
        self.initialized = False
        self.shutdown = False
        self.processes = {}

    def _device(self, handle):
        return self.devices[handle_value(handle) - 1]

    def sym_nvmlErrorString(self, code):
        return NVML_ERRORS.get(code, b"Unknown Error")

    def sym_nvmlInit_v2(self):
        self.initialized = True
        return 0

    def sym_nvmlShutdown(self):
        self.shutdown = True
        return 0

    def sym_nvmlSystemGetDriverVersion(self, buf, length):
        buf.value = b"550.54.14"
        return 0

    def sym_nvmlSystemGetCudaDriverVersion_v2(self, out):
        target(out).value = 12040
        return 0

    def sym_nvmlDeviceGetCount_v2(self, out):
        target(out).value = len(self.devices)
        return 0

    def sym_nvmlDeviceGetHandleByIndex_v2(self, index, out):
        target(out).value = index + 1
        return 0

    def sym_nvmlDeviceGetName(self, handle, buf, length):
        buf.value = self._device(handle)["name"].encode()
        return 0

    def sym_nvmlDeviceGetUUID(self, handle, buf, length):
        buf.value = self._device(handle)["uuid"].encode()
        return 0

    def sym_nvmlDeviceGetMemoryInfo(self, handle, out):
        dev, mem = self._device(handle), target(out)
        mem.total, mem.used = dev["total"], dev["used"]
        mem.free = dev["total"] - dev["used"]
        return 0

    def sym_nvmlDeviceGetCudaComputeCapability(self, handle, major, minor):
        target(major).value, target(minor).value = self._device(handle)["cc"]
        return 0

    def sym_nvmlDeviceGetComputeRunningProcesses_v3(self, handle, count, infos):
        procs = self.processes.get(handle_value(handle) - 1, [])
        count_obj = target(count)
        if infos is None:
            count_obj.value = len(procs)
            return 0 if not procs else 7
        for i, (pid, used) in enumerate(procs):
            infos[i].pid = pid
            infos[i].usedGpuMemory = used
        count_obj.value = len(procs)
        return 0

    sym_nvmlDeviceGetComputeRunningProcesses_v2 = sym_nvmlDeviceGetComputeRunningProcesses_v3


class FakeCuda(FakeLibrary):
    """libcuda.so.1 with device memory, contexts, modules and a kernel interpreter."""

    def __init__(self, devices):
        super().__init__()
        self.devices = devices
        self.memory = {}
        self.next_ptr = 0x10000
        self.contexts = set()
        self.modules = {}
        self.launches = []
        self.corrupt_index = None
        self.ptx_loaded = None
        self.initialized = False
        # An MPS client's CUDA_MPS_PINNED_DEVICE_MEM_LIMIT as the driver applies
        # it: MiB of device memory the process may hold (None: no limit).
        self.pinned_limit_mib = None
        # Answer of an allocation over the limit (the real driver's is 2).
        self.over_limit_error = 2

    def sym_cuGetErrorName(self, code, out):
        if code not in CUDA_ERRORS:
            return 1
        target(out).value = CUDA_ERRORS[code][0].encode()
        return 0

    def sym_cuGetErrorString(self, code, out):
        if code not in CUDA_ERRORS:
            return 1
        target(out).value = CUDA_ERRORS[code][1].encode()
        return 0

    def sym_cuInit(self, flags):
        assert flags == 0
        self.initialized = True
        return 0

    def sym_cuDriverGetVersion(self, out):
        target(out).value = 12040
        return 0

    def sym_cuDeviceGetCount(self, out):
        assert self.initialized, "cuInit must come first"
        target(out).value = len(self.devices)
        return 0

    def sym_cuDeviceGet(self, out, ordinal):
        target(out).value = ordinal
        return 0

    def sym_cuDeviceGetName(self, buf, length, dev):
        assert length == len(buf)
        buf.value = self.devices[dev]["name"].encode()
        return 0

    def sym_cuDeviceTotalMem_v2(self, out, dev):
        target(out).value = self.devices[dev]["total"]
        return 0

    def sym_cuDeviceGetUuid(self, out, dev):
        raw = bytes(range(dev, dev + 16))
        ctypes.memmove(ctypes.addressof(target(out)), raw, 16)
        return 0

    def sym_cuDeviceGetAttribute(self, out, attribute, dev):
        major, minor = self.devices[dev]["cc"]
        target(out).value = {75: major, 76: minor}[attribute]
        return 0

    def sym_cuCtxCreate_v2(self, out, flags, dev):
        ctx = 0xC000 + dev
        self.contexts.add(ctx)
        target(out).value = ctx
        return 0

    def sym_cuCtxDestroy_v2(self, ctx):
        self.contexts.remove(handle_value(ctx))
        return 0

    def sym_cuCtxSynchronize(self):
        assert self.contexts
        return 0

    def sym_cuMemAlloc_v2(self, out, size):
        held = sum(len(m) for m in self.memory.values())
        if held + size > self.devices[0]["total"]:
            return 2  # CUDA_ERROR_OUT_OF_MEMORY, as the driver answers a full device
        if self.pinned_limit_mib is not None and held + size > self.pinned_limit_mib * 1024 * 1024:
            return self.over_limit_error
        ptr = self.next_ptr
        self.next_ptr += size + 0x1000
        self.memory[ptr] = bytearray(size)
        target(out).value = ptr
        return 0

    def sym_cuMemFree_v2(self, ptr):
        del self.memory[ptr]
        return 0

    def sym_cuMemcpyHtoD_v2(self, dst, src, size):
        assert len(self.memory[dst]) >= size
        self.memory[dst][:size] = ctypes.string_at(src, size)
        return 0

    def sym_cuMemcpyDtoH_v2(self, dst, src, size):
        ctypes.memmove(dst, bytes(self.memory[src][:size]), size)
        return 0

    def sym_cuModuleLoadData(self, out, image):
        text = image.decode("ascii")
        self.ptx_loaded = text
        handle = 0xD000 + len(self.modules)
        self.modules[handle] = parse_entries(text)
        target(out).value = handle
        return 0

    def sym_cuModuleLoadDataEx(self, out, image, count, options, values):
        assert count == 2 and options[0] == 5 and options[1] == 6
        message = b"ptxas application ptx input, line 9; error   : Unknown symbol"
        assert values[1] >= len(message) + 1
        ctypes.memmove(values[0], message + b"\0", len(message) + 1)
        return 218

    def sym_cuModuleUnload(self, module):
        del self.modules[handle_value(module)]
        return 0

    def sym_cuModuleGetFunction(self, out, module, name):
        entries = self.modules[handle_value(module)]
        if name.decode() not in entries:
            return 500
        target(out).value = 0xF000
        self.function_params = entries[name.decode()]
        return 0

    def sym_cuLaunchKernel(self, fn, gx, gy, gz, bx, by, bz, shared, stream, params, extra):
        assert handle_value(fn) == 0xF000 and extra is None and stream is None
        values = [PTX_TYPES[kind].from_address(params[i]).value for i, kind in enumerate(self.function_params)]
        self.launches.append({"grid": (gx, gy, gz), "block": (bx, by, bz), "params": values})
        d_in, d_out, a, b, n = values
        assert gx * bx >= n, "the grid must cover every element"
        inputs = struct.unpack("%df" % n, bytes(self.memory[d_in][:n * 4]))
        outputs = [a * x + b for x in inputs]
        if self.corrupt_index is not None:
            outputs[self.corrupt_index] += 1.0
        self.memory[d_out][:n * 4] = struct.pack("%df" % n, *outputs)
        return 0


def parse_entries(ptx):
    """{entry name: [param types]} of a PTX module."""
    entries = {}
    for match in re.finditer(r"\.entry\s+(\w+)\s*\((.*?)\)", ptx, re.S):
        entries[match.group(1)] = re.findall(r"\.param\s+(\.\w+)\s+\w+", match.group(2))
    return entries


GPU0 = {"name": "NVIDIA GeForce RTX 4090", "uuid": "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f",
        "total": 24564 * 1024 * 1024, "used": 1039 * 1024 * 1024, "cc": (8, 9)}
GPU1 = {"name": "NVIDIA GeForce RTX 3060", "uuid": "GPU-01020304-0506-0708-090a-0b0c0d0e0f10",
        "total": 12288 * 1024 * 1024, "used": 0, "cc": (8, 6)}

INJECTED_MAPS = "\n".join([
    "7f0000000000-7f0000001000 r--p 00000000 00:20 1234 " + NVML_FILE,
    "7f0000100000-7f0000101000 r--p 00000000 00:20 1235 " + CUDA_FILE,
    "7f0000200000-7f0000201000 r--p 00000000 00:20 1236 /usr/lib/x86_64-linux-gnu/libc.so.6",
])
INJECTED_MOUNTS = "\n".join([
    "100 90 0:50 / / rw,relatime - overlay overlay rw",
    "101 100 0:20 /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14 " + CUDA_FILE + " ro,nosuid - ext4 /dev/sda1 rw",
    "102 100 0:20 /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14 " + NVML_FILE + " ro - ext4 /dev/sda1 rw",
])
IMAGE_MOUNTS = "100 90 0:50 / / rw,relatime - overlay overlay rw"


class Driver(object):
    """The two fake libraries and the loader that hands them out."""

    def __init__(self, devices=(GPU0,), nvml=True, cuda=True):
        self.nvml = FakeNvml(list(devices)) if nvml else None
        self.cuda = FakeCuda(list(devices)) if cuda else None
        self.loaded = []

    def loader(self, name):
        self.loaded.append(name)
        lib = {"libnvidia-ml.so.1": self.nvml, "libcuda.so.1": self.cuda}.get(name)
        if lib is None:
            raise OSError("%s: cannot open shared object file: No such file or directory" % name)
        return lib

    def run(self, **kwargs):
        kwargs.setdefault("elements", 1000)
        kwargs.setdefault("environ", {})
        kwargs.setdefault("read_maps", lambda: INJECTED_MAPS)
        kwargs.setdefault("read_mountinfo", lambda: INJECTED_MOUNTS)
        return run_probe(loader=self.loader, **kwargs)

    def assert_released(self):
        assert self.cuda.memory == {}
        assert self.cuda.contexts == set()
        assert self.cuda.modules == {}


def step_names(result):
    return [s["step"] for s in result["steps"]]


# --------------------------------------------------------------------------
# success
# --------------------------------------------------------------------------

def test_success_runs_every_step_and_verifies_the_kernel():
    driver = Driver()
    progress = []
    result = driver.run(progress=progress.append)

    assert result["status"] == "passed"
    assert result["reason"] == "CUDA kernel ran and every element was verified on 1 device(s)"
    assert result["failed_step"] is None and result["error"] is None
    assert result["driver_version"] == "550.54.14"
    assert result["cuda_driver_version"] == "12.4"
    assert result["gpus"] == [{
        "index": 0, "name": "NVIDIA GeForce RTX 4090", "uuid": GPU0["uuid"],
        "memory_total_mib": 24564, "memory_used_mib": 1039, "memory_free_mib": 23525,
    }]
    assert result["cuda_devices"] == [{
        "ordinal": 0, "name": "NVIDIA GeForce RTX 4090", "uuid": GPU0["uuid"],
        "memory_total_mib": 24564, "compute_capability": "8.9",
    }]
    assert result["kernel_result"] == {"ok": True, "n_elements": 1000, "devices_tested": 1, "mismatches": 0,
                                       "first_mismatch": None}
    assert [lib["injected"] for lib in result["libraries"]] == [True, True]
    assert all(s["ok"] and s["error"] is None and s["ms"] >= 0 for s in result["steps"])
    assert step_names(result) == [
        "dlopen", "dlopen", "library provenance",
        "nvmlInit_v2", "nvmlSystemGetDriverVersion", "nvmlSystemGetCudaDriverVersion_v2", "nvmlDeviceGetCount_v2",
        "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetMemoryInfo",
        "nvmlShutdown",
        "cuInit", "cuDriverGetVersion", "cuDeviceGetCount",
        "cuDeviceGet", "cuDeviceGetName", "cuDeviceTotalMem_v2", "cuDeviceGetUuid", "cuDeviceGetAttribute",
        "cuCtxCreate_v2", "cuMemAlloc_v2", "cuMemAlloc_v2", "cuMemcpyHtoD_v2", "cuModuleLoadData",
        "cuModuleGetFunction", "cuLaunchKernel", "cuCtxSynchronize", "cuMemcpyDtoH_v2", "verify",
        "cuModuleUnload", "cuMemFree_v2", "cuMemFree_v2", "cuCtxDestroy_v2",
    ]
    assert progress[0] == "dlopen (libnvidia-ml.so.1)"
    assert "cuLaunchKernel on device 0 (grid 4 x block 256)" in progress
    assert driver.nvml.shutdown
    driver.assert_released()
    launch = driver.cuda.launches[0]
    assert launch["grid"] == (4, 1, 1) and launch["block"] == (256, 1, 1)
    assert launch["params"][2:] == [3.0, 0.5, 1000]
    assert cuda_probe.exit_status(result) == cuda_probe.EXIT_PASSED
    json.dumps(result)  # the result is a JSON document


def test_every_device_runs_the_kernel():
    driver = Driver(devices=(GPU0, GPU1))
    result = driver.run()
    assert result["status"] == "passed"
    assert result["kernel_result"]["devices_tested"] == 2
    assert [d["compute_capability"] for d in result["cuda_devices"]] == ["8.9", "8.6"]
    assert [g["name"] for g in result["gpus"]] == [GPU0["name"], GPU1["name"]]
    assert len(driver.cuda.launches) == 2
    driver.assert_released()


def test_default_element_count_is_a_mebi_element_and_exact():
    driver = Driver()
    result = driver.run(elements=cuda_probe.DEFAULT_ELEMENTS)
    assert result["status"] == "passed"
    assert result["kernel_result"]["n_elements"] == 1 << 20
    assert driver.cuda.launches[0]["grid"] == ((1 << 20) // 256, 1, 1)


def test_elements_must_be_positive():
    with pytest.raises(ValueError):
        Driver().run(elements=0)


# --------------------------------------------------------------------------
# the VRAM budget
# --------------------------------------------------------------------------

MPS_ENV = {"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=8M", "CUDA_MPS_PIPE_DIRECTORY": "/run/nvidia-mps"}
OVER_STEP = "cuMemAlloc_v2 on device 0 (over the budget: 72 MiB must fail with CUDA_ERROR_OUT_OF_MEMORY)"
WITHIN_STEP = "cuMemAlloc_v2 on device 0 (within the budget: 4 of 8 MiB)"


def budget_driver(limit_mib=8):
    driver = Driver()
    driver.cuda.pinned_limit_mib = limit_mib
    return driver


def test_fake_driver_refuses_an_allocation_over_the_limit_with_out_of_memory():
    cuda = FakeCuda([GPU0])
    cuda.pinned_limit_mib = 8
    ptr = ctypes.c_uint64()
    assert cuda.sym_cuMemAlloc_v2(ctypes.byref(ptr), 8 * 1024 * 1024) == 0
    assert cuda.sym_cuMemAlloc_v2(ctypes.byref(ptr), 1) == 2
    assert CUDA_ERRORS[2][0] == "CUDA_ERROR_OUT_OF_MEMORY"


def test_mps_budget_is_enforced_when_over_budget_is_refused_with_out_of_memory():
    driver = budget_driver()
    progress = []
    result = driver.run(budget_mib=8, mps=True, environ=MPS_ENV, progress=progress.append)
    assert result["status"] == "passed", result["reason"]
    assert result["budget"] == {
        "vram_mib": 8, "mps": True, "status": "enforced", "failed_step": None, "error": None,
        "within_mib": 4, "over_mib": 72,
        "reason": "VRAM budget enforced: 4 MiB allocated, 72 MiB refused with CUDA_ERROR_OUT_OF_MEMORY "
                  "(budget 8 MiB)"}
    over = [s for s in result["steps"] if s.get("detail", "").startswith("over the budget")]
    assert over[0]["ok"] and over[0]["refused_with"] == "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
    assert step_names(result)[-7:] == ["MPS client environment", "cuDeviceGet", "cuCtxCreate_v2",
                                       "cuMemAlloc_v2", "cuMemFree_v2", "cuMemAlloc_v2", "cuCtxDestroy_v2"]
    assert WITHIN_STEP[len("cuMemAlloc_v2 on device 0 ("):-1] in " ".join(progress)
    driver.assert_released()


def test_an_over_budget_allocation_that_succeeds_fails_the_check_and_is_freed():
    driver = budget_driver(limit_mib=None)  # MPS expected, but nothing limits the client
    result = driver.run(budget_mib=8, mps=True, environ=MPS_ENV)
    assert result["status"] == "failed"
    assert result["failed_step"] == OVER_STEP
    assert result["error"] == "RuntimeError: the allocation succeeded: the 8 MiB budget is not enforced"
    assert result["budget"]["status"] == "failed" and result["budget"]["failed_step"] == OVER_STEP
    assert result["reason"] == result["budget"]["reason"] == "VRAM budget check failed at %s: %s" % (
        OVER_STEP, result["error"])
    assert cuda_probe.exit_status(result) == cuda_probe.EXIT_FAILED
    driver.assert_released()


def test_a_limit_below_the_budget_fails_the_within_budget_step():
    driver = budget_driver(limit_mib=2)
    result = driver.run(budget_mib=8, mps=True, environ=MPS_ENV)
    assert result["failed_step"] == WITHIN_STEP
    assert result["error"] == "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
    assert result["budget"]["status"] == "failed"
    driver.assert_released()


def test_an_over_budget_refusal_with_another_error_is_not_enforcement():
    driver = budget_driver()
    driver.cuda.over_limit_error = 999
    result = driver.run(budget_mib=8, mps=True, environ=MPS_ENV)
    assert result["failed_step"] == OVER_STEP
    assert result["error"] == "RuntimeError: refused with CUDA_ERROR_UNKNOWN (999): unknown error, " \
        "not CUDA_ERROR_OUT_OF_MEMORY"
    driver.assert_released()


@pytest.mark.parametrize("environ,error", [
    ({"CUDA_MPS_PIPE_DIRECTORY": "/run/nvidia-mps"},
     "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT is not set, expected '0=8M' from the group's budget"),
    (dict(MPS_ENV, CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="0=8G"),
     "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT is '0=8G', expected '0=8M' from the group's budget"),
    ({"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=8M"},
     "CUDA_MPS_PIPE_DIRECTORY is not set: the client cannot reach the MPS control daemon"),
])
def test_an_mps_client_without_its_environment_fails_before_allocating(environ, error):
    driver = budget_driver()
    result = driver.run(budget_mib=8, mps=True, environ=environ)
    assert result["failed_step"] == "MPS client environment (CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, " \
        "CUDA_MPS_PIPE_DIRECTORY)"
    assert result["error"] == "RuntimeError: " + error
    driver.assert_released()


def test_without_mps_the_budget_is_not_enforced_and_nothing_is_allocated_for_it():
    driver = Driver()
    plain = step_names(Driver().run())
    result = driver.run(budget_mib=8)
    assert result["status"] == "passed"
    assert result["budget"]["status"] == "not_enforced"
    assert result["budget"]["reason"] == "VRAM budget not enforced: without CUDA MPS nothing stops this " \
        "container from using more than its 8 MiB"
    assert step_names(result) == plain


@pytest.mark.parametrize("kwargs,reason", [
    ({"lab": True}, "lab CDI device: no GPU and no MPS, the 8 MiB budget is not checked"),
    ({"environ": {"AI_SYSTEM_LAB_CDI": "1"}}, "lab CDI device: no GPU and no MPS, the 8 MiB budget is not checked"),
])
def test_in_the_lab_the_budget_is_skipped_never_enforced(kwargs, reason):
    result = budget_driver().run(budget_mib=8, mps=True, **kwargs)
    assert result["status"] == "skipped"
    assert result["budget"]["status"] == "skipped" and result["budget"]["reason"] == reason


def test_without_a_driver_the_budget_is_skipped():
    result = Driver(nvml=False, cuda=False).run(budget_mib=8, mps=True, environ=MPS_ENV)
    assert result["budget"]["status"] == "skipped"
    assert result["budget"]["reason"] == "no NVIDIA driver: the 8 MiB budget is not checked"


def test_a_failed_kernel_leaves_the_budget_unchecked():
    driver = budget_driver()
    driver.cuda.corrupt_index = 3
    result = driver.run(budget_mib=8, mps=True, environ=MPS_ENV)
    assert result["status"] == "failed" and result["failed_step"] == "verify on device 0 (1000 elements, " \
        "out = 3 * in + 0.5)"
    assert result["budget"]["status"] == "skipped"
    assert result["budget"]["reason"].startswith("not checked: the CUDA check failed at verify on device 0")


def test_no_budget_means_no_budget_verdict():
    assert Driver().run()["budget"] is None


# --------------------------------------------------------------------------
# skipped: lab device, no driver
# --------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"environ": {"AI_SYSTEM_LAB_CDI": "1"}},
    {"environ": {"AI_SYSTEM_LAB_CDI": "yes"}},
    {"lab": True},
])
def test_lab_device_is_skipped_without_loading_anything(kwargs):
    driver = Driver()
    result = driver.run(**kwargs)
    assert result["status"] == "skipped"
    assert result["reason"] == "no NVIDIA driver (lab CDI device)"
    assert result["lab"] is True
    assert driver.loaded == []
    assert result["kernel_result"]["ok"] is False
    assert cuda_probe.exit_status(result) == cuda_probe.EXIT_SKIPPED


def test_lab_marker_zero_or_empty_is_not_the_lab():
    for value in ("0", "", " "):
        assert not cuda_probe.lab_marker_present({"AI_SYSTEM_LAB_CDI": value})
    assert Driver().run(environ={"AI_SYSTEM_LAB_CDI": "0"})["status"] == "passed"


def test_no_driver_libraries_is_skipped_never_passed():
    driver = Driver(nvml=False, cuda=False)
    result = driver.run()
    assert result["status"] == "skipped"
    assert result["reason"] == "no NVIDIA driver"
    assert "libnvidia-ml.so.1: cannot open shared object file" in result["error"]
    assert "libcuda.so.1: cannot open shared object file" in result["error"]
    assert result["lab"] is False and result["failed_step"] is None
    assert [s.get("missing") for s in result["steps"]] == [True, True]
    assert cuda_probe.exit_status(result) == cuda_probe.EXIT_SKIPPED


@pytest.mark.parametrize("nvml,cuda,missing", [(True, False, "libcuda.so.1"), (False, True, "libnvidia-ml.so.1")])
def test_one_library_missing_is_a_failure(nvml, cuda, missing):
    result = Driver(nvml=nvml, cuda=cuda).run()
    assert result["status"] == "failed"
    assert result["failed_step"] == "dlopen (%s)" % missing
    assert result["reason"].startswith("%s is missing while the other driver library loaded" % missing)
    assert cuda_probe.exit_status(result) == cuda_probe.EXIT_FAILED


# --------------------------------------------------------------------------
# failures of each step
# --------------------------------------------------------------------------

CUDA_STEPS = [
    ("cuInit", 100, "cuInit"),
    ("cuDriverGetVersion", 999, "cuDriverGetVersion"),
    ("cuDeviceGetCount", 999, "cuDeviceGetCount"),
    ("cuDeviceGet", 1, "cuDeviceGet on device 0"),
    ("cuDeviceGetName", 1, "cuDeviceGetName on device 0"),
    ("cuDeviceTotalMem_v2", 1, "cuDeviceTotalMem_v2 on device 0"),
    ("cuDeviceGetUuid", 1, "cuDeviceGetUuid on device 0"),
    ("cuDeviceGetAttribute", 1, "cuDeviceGetAttribute on device 0 (compute capability)"),
    ("cuCtxCreate_v2", 2, "cuCtxCreate_v2 on device 0"),
    ("cuMemAlloc_v2", 2, "cuMemAlloc_v2 on device 0 (input, 4000 bytes)"),
    ("cuMemcpyHtoD_v2", 999, "cuMemcpyHtoD_v2 on device 0 (4000 bytes)"),
    ("cuModuleGetFunction", 1, "cuModuleGetFunction on device 0 (ai_system_axpb)"),
    ("cuLaunchKernel", 719, "cuLaunchKernel on device 0 (grid 4 x block 256)"),
    ("cuCtxSynchronize", 719, "cuCtxSynchronize on device 0"),
    ("cuMemcpyDtoH_v2", 719, "cuMemcpyDtoH_v2 on device 0 (4000 bytes)"),
]


@pytest.mark.parametrize("function,code,failed_step", CUDA_STEPS)
def test_each_cuda_step_failure_names_the_step_and_the_driver_error(function, code, failed_step):
    driver = Driver()
    driver.cuda.fail[function] = code
    result = driver.run()
    name, text = CUDA_ERRORS[code]
    assert result["status"] == "failed"
    assert result["failed_step"] == failed_step
    assert result["error"] == "%s (%d): %s" % (name, code, text)
    assert result["reason"] == "%s failed: %s (%d): %s" % (failed_step, name, code, text)
    failed = [s for s in result["steps"] if not s["ok"]]
    assert failed[0]["step"] == function and failed[0]["error_name"] == name and failed[0]["code"] == code
    assert result["kernel_result"]["ok"] is False
    assert cuda_probe.exit_status(result) == cuda_probe.EXIT_FAILED
    driver.assert_released()  # whatever was allocated before the failure is released


def test_ptx_load_failure_carries_the_jit_log():
    driver = Driver()
    driver.cuda.fail["cuModuleLoadData"] = 218
    result = driver.run()
    assert result["status"] == "failed"
    assert result["failed_step"] == "cuModuleLoadData on device 0 (PTX, JIT-compiled by the driver)"
    assert result["error"] == ("CUDA_ERROR_INVALID_PTX (218): a PTX JIT compilation failed; JIT log: "
                               "ptxas application ptx input, line 9; error   : Unknown symbol")
    step = [s for s in result["steps"] if s["step"] == "cuModuleLoadData"][0]
    assert step["jit_log"].startswith("ptxas application ptx input")
    driver.assert_released()


def test_ptx_load_failure_without_the_ex_entry_point_still_reports():
    driver = Driver()
    driver.cuda.fail["cuModuleLoadData"] = 218
    driver.cuda.missing.add("cuModuleLoadDataEx")
    result = driver.run()
    assert result["error"] == "CUDA_ERROR_INVALID_PTX (218): a PTX JIT compilation failed"


def test_unknown_cuda_error_code_is_still_named():
    driver = Driver()
    driver.cuda.fail["cuInit"] = 4242
    result = driver.run()
    assert result["error"] == "CUresult 4242 (4242): unrecognized error code"


def test_error_strings_without_cuGetErrorName():
    driver = Driver()
    driver.cuda.fail["cuInit"] = 100
    driver.cuda.missing.update({"cuGetErrorName", "cuGetErrorString"})
    result = driver.run()
    assert result["error"] == "CUresult 100 (100): unrecognized error code"


def test_no_cuda_device_is_a_failure():
    driver = Driver(devices=())
    result = driver.run()
    assert result["status"] == "failed"
    assert result["failed_step"] == "cuDeviceGetCount"
    assert result["error"] == "RuntimeError: the driver reports no CUDA device"


def test_missing_symbol_names_the_function_and_library():
    driver = Driver()
    driver.cuda.missing.add("cuDeviceGetUuid")
    result = driver.run()
    assert result["status"] == "failed"
    assert result["failed_step"] == "cuDeviceGetUuid on device 0"
    assert result["error"] == "symbol cuDeviceGetUuid not found in libcuda.so.1 (driver too old?)"


def test_wrong_kernel_result_fails_the_verify_step():
    driver = Driver()
    driver.cuda.corrupt_index = 17
    result = driver.run()
    assert result["status"] == "failed"
    assert result["failed_step"] == "verify on device 0 (1000 elements, out = 3 * in + 0.5)"
    assert result["error"] == "ValueError: 1 of 1000 elements differ; first at index 17: expected -98252.5, got -98251.5"
    assert result["kernel_result"]["ok"] is False
    assert result["kernel_result"]["mismatches"] == 1
    assert result["kernel_result"]["first_mismatch"] == {
        "index": 17, "input": -32751.0, "expected": -98252.5, "got": -98251.5}
    driver.assert_released()


def test_second_device_failure_fails_the_whole_probe():
    driver = Driver(devices=(GPU0, GPU1))
    calls = {"n": 0}
    original = driver.cuda.sym_cuCtxCreate_v2

    def second_fails(out, flags, dev):
        calls["n"] += 1
        return 2 if dev == 1 else original(out, flags, dev)

    driver.cuda.sym_cuCtxCreate_v2 = second_fails
    result = driver.run()
    assert result["status"] == "failed"
    assert result["failed_step"] == "cuCtxCreate_v2 on device 1"
    assert result["kernel_result"]["ok"] is False
    assert result["kernel_result"]["devices_tested"] == 1
    driver.assert_released()


@pytest.mark.parametrize("function,failed_step", [
    ("cuModuleUnload", "cuModuleUnload on device 0"),
    ("cuMemFree_v2", "cuMemFree_v2 on device 0 (output)"),
    ("cuCtxDestroy_v2", "cuCtxDestroy_v2 on device 0"),
])
def test_release_failure_fails_but_still_releases_the_rest(function, failed_step):
    driver = Driver()
    driver.cuda.fail[function] = 999
    result = driver.run()
    assert result["status"] == "failed"
    assert result["failed_step"] == failed_step
    assert result["error"] == "CUDA_ERROR_UNKNOWN (999): unknown error"
    released = [s["step"] for s in result["steps"]][-4:]
    assert released == ["cuModuleUnload", "cuMemFree_v2", "cuMemFree_v2", "cuCtxDestroy_v2"]
    assert result["kernel_result"]["ok"] is False


def test_release_failure_after_a_failed_step_keeps_the_first_error():
    driver = Driver()
    driver.cuda.fail["cuLaunchKernel"] = 719
    driver.cuda.fail["cuCtxDestroy_v2"] = 999
    result = driver.run()
    assert result["failed_step"] == "cuLaunchKernel on device 0 (grid 4 x block 256)"
    destroy = [s for s in result["steps"] if s["step"] == "cuCtxDestroy_v2"][0]
    assert destroy["ok"] is False and destroy["error"] == "CUDA_ERROR_UNKNOWN (999): unknown error"


NVML_STEPS = [
    ("nvmlInit_v2", 9, "nvmlInit_v2", "Driver Not Loaded", False),
    ("nvmlSystemGetDriverVersion", 999, "nvmlSystemGetDriverVersion", "Unknown Error", True),
    ("nvmlSystemGetCudaDriverVersion_v2", 3, "nvmlSystemGetCudaDriverVersion_v2", "Not Supported", True),
    ("nvmlDeviceGetCount_v2", 999, "nvmlDeviceGetCount_v2", "Unknown Error", True),
    ("nvmlDeviceGetHandleByIndex_v2", 15, "nvmlDeviceGetHandleByIndex_v2 on device 0", "GPU is lost", True),
    ("nvmlDeviceGetName", 15, "nvmlDeviceGetName on device 0", "GPU is lost", True),
    ("nvmlDeviceGetUUID", 15, "nvmlDeviceGetUUID on device 0", "GPU is lost", True),
    ("nvmlDeviceGetMemoryInfo", 15, "nvmlDeviceGetMemoryInfo on device 0", "GPU is lost", True),
]


@pytest.mark.parametrize("function,code,failed_step,text,shutdown", NVML_STEPS)
def test_each_nvml_step_failure_carries_nvmlErrorString(function, code, failed_step, text, shutdown):
    driver = Driver()
    driver.nvml.fail[function] = code
    result = driver.run()
    assert result["status"] == "failed"
    assert result["failed_step"] == failed_step
    assert result["error"] == text
    step = [s for s in result["steps"] if not s["ok"]][0]
    assert step["code"] == code
    assert driver.nvml.shutdown is shutdown
    assert not driver.cuda.initialized  # CUDA is not touched after NVML failed


def test_nvml_shutdown_failure_is_recorded_but_not_fatal():
    driver = Driver()
    driver.nvml.fail["nvmlShutdown"] = 1
    result = driver.run()
    assert result["status"] == "passed"
    shutdown = [s for s in result["steps"] if s["step"] == "nvmlShutdown"][0]
    assert shutdown["ok"] is False and shutdown["error"] == "Uninitialized"


# --------------------------------------------------------------------------
# where the libraries came from
# --------------------------------------------------------------------------

def test_libraries_from_the_image_fail_when_injection_is_required():
    driver = Driver()
    maps = INJECTED_MAPS.replace(CUDA_FILE, "/usr/local/cuda/compat/libcuda.so.550.54.14")
    result = driver.run(require_injected=True, read_maps=lambda: maps, read_mountinfo=lambda: IMAGE_MOUNTS)
    assert result["status"] == "failed"
    assert result["failed_step"] == "library provenance (/proc/self/maps, /proc/self/mountinfo)"
    assert result["error"] == (
        "RuntimeError: libnvidia-ml.so.1 resolved to %s, which is part of the image, not a library injected by "
        "CDI; libcuda.so.1 resolved to /usr/local/cuda/compat/libcuda.so.550.54.14, which is part of the image, "
        "not a library injected by CDI" % NVML_FILE)
    assert not driver.cuda.initialized


def test_injected_libraries_pass_the_injection_check():
    result = Driver().run(require_injected=True)
    assert result["status"] == "passed"
    assert result["libraries"] == [
        {"soname": "libnvidia-ml.so.1", "path": NVML_FILE, "mount": NVML_FILE, "injected": True},
        {"soname": "libcuda.so.1", "path": CUDA_FILE, "mount": CUDA_FILE, "injected": True},
    ]


def test_on_a_host_the_injection_check_is_off_by_default():
    result = Driver().run(read_mountinfo=lambda: IMAGE_MOUNTS)
    assert result["status"] == "passed"
    assert [lib["injected"] for lib in result["libraries"]] == [False, False]


def test_unmapped_library_is_reported_as_unknown():
    result = Driver().run(require_injected=True, read_maps=lambda: "")
    assert result["status"] == "failed"
    assert "libcuda.so.1 resolved to an unknown file" in result["error"]


def test_mountinfo_parsing_unescapes_and_matches_directories():
    text = "\n".join([
        r"1 0 0:1 / / rw - overlay overlay rw",
        r"2 1 0:2 / /opt/nvidia\040libs ro - ext4 /dev/sda1 rw",
        r"3 1 0:3 / /usr/lib ro - ext4 /dev/sda1 rw",
        "short line",
    ])
    points = cuda_probe.parse_mount_points(text)
    assert points == {"/", "/opt/nvidia libs", "/usr/lib"}
    assert cuda_probe.covering_mount("/opt/nvidia libs/libcuda.so.1", points) == "/opt/nvidia libs"
    assert cuda_probe.covering_mount("/usr/lib64/libcuda.so.1", points) == "/"
    assert cuda_probe.covering_mount("/usr/lib/x/libcuda.so.1", points) == "/usr/lib"
    assert cuda_probe._unescape_mount_path(r"/a\134b\04") == "/a\\b\\04"


def test_maps_parsing_handles_deleted_files():
    maps = "7f00-7f01 r--p 0 00:20 1 /usr/lib/libcuda.so.550.1 (deleted)\n7f02-7f03 r--p 0 00:00 0\n"
    assert cuda_probe.mapped_library_path(maps, "libcuda.so") == "/usr/lib/libcuda.so.550.1"
    assert cuda_probe.mapped_library_path(maps, "libnvidia-ml.so") is None


def test_real_proc_files_are_read(tmp_path):
    assert "/" in cuda_probe.parse_mount_points(cuda_probe._read_text("/proc/self/mountinfo"))
    assert cuda_probe._read_text(str(tmp_path / "missing")) == ""


# --------------------------------------------------------------------------
# the PTX kernel
# --------------------------------------------------------------------------

def test_ptx_header_entry_and_parameters_match_the_launch():
    ptx = cuda_probe.PTX_SOURCE
    lines = [line.strip() for line in ptx.splitlines() if line.strip() and not line.strip().startswith("//")]
    assert lines[:3] == [".version 7.0", ".target sm_50", ".address_size 64"]
    entries = parse_entries(ptx)
    assert list(entries) == [cuda_probe.KERNEL_NAME]
    params = entries[cuda_probe.KERNEL_NAME]
    assert params == [".u64", ".u64", ".f32", ".f32", ".u32"]
    assert [PTX_TYPES[p] for p in params] == list(cuda_probe.KERNEL_PARAM_TYPES)
    # every declared parameter is loaded, with its own type
    declared = re.findall(r"\.param\s+(\.\w+)\s+(\w+)", ptx)
    assert len(declared) == len(cuda_probe.KERNEL_PARAM_TYPES)
    for kind, name in declared:
        assert re.search(r"ld\.param%s\s+%%\w+,\s*\[%s\]" % (re.escape(kind), name), ptx), name


def test_ptx_is_well_formed():
    ptx = cuda_probe.PTX_SOURCE
    assert ptx.count("{") == ptx.count("}") == 1
    assert ptx.count("(") == ptx.count(")")
    assert ".visible .entry" in ptx and "ret;" in ptx
    body = ptx[ptx.index("{") + 1:ptx.rindex("}")]
    for line in body.splitlines():
        line = line.split("//")[0].strip()
        if line and not line.endswith(":"):
            assert line.endswith(";"), line
    # registers used stay within the declared ranges (%r<6> declares %r0..%r5)
    declared = dict((p, int(n)) for p, n in re.findall(r"\.reg\s+\.\w+\s+%(\w+)<(\d+)>", ptx))
    for prefix, index in re.findall(r"%(rd|r|f|p)(\d+)", body):
        assert int(index) < declared[prefix], "%%%s%s" % (prefix, index)
    # the branch target exists
    for label in re.findall(r"\bbra\s+(\w+);", body):
        assert re.search(r"^\s*%s:" % label, body, re.M), label
    # the kernel does what the host checks: fma of a, in[i], b with a bounds check on n
    assert re.search(r"fma\.rn\.f32\s+%f4, %f1, %f3, %f2;", body)
    assert re.search(r"setp\.ge\.u32\s+%p1, %r5, %r1;", body)


def test_expected_values_are_exact_in_float32():
    inputs = cuda_probe._input_values(70000)
    expected = cuda_probe._expected_values(inputs)
    for x, y in zip(inputs, expected):
        assert y == cuda_probe.KERNEL_A * x + cuda_probe.KERNEL_B


# --------------------------------------------------------------------------
# the ctypes NVML binding (pynvml-compatible)
# --------------------------------------------------------------------------

def test_ctypes_nvml_missing_library_raises_library_not_found():
    nvml = CtypesNvml(loader=Driver(nvml=False).loader)
    with pytest.raises(NVMLError) as err:
        nvml.nvmlInit()
    assert err.value.value == CtypesNvml.NVML_ERROR_LIBRARY_NOT_FOUND
    assert str(err.value) == ("NVML Shared Library Not Found (libnvidia-ml.so.1: cannot open shared object file: "
                              "No such file or directory)")


def test_ctypes_nvml_reads_everything_pynvml_would():
    driver = Driver(devices=(GPU0,))
    driver.nvml.processes[0] = [(4242, 812 * 1024 * 1024), (17, nvml_binding.NVML_VALUE_NOT_AVAILABLE_ULL)]
    nvml = CtypesNvml(loader=driver.loader)
    nvml.nvmlInit()
    assert nvml.nvmlSystemGetDriverVersion() == "550.54.14"
    assert nvml.nvmlSystemGetCudaDriverVersion_v2() == 12040
    assert nvml.nvmlDeviceGetCount() == 1
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    assert nvml.nvmlDeviceGetName(handle) == GPU0["name"]
    assert nvml.nvmlDeviceGetUUID(handle) == GPU0["uuid"]
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    assert (memory.total, memory.used) == (GPU0["total"], GPU0["used"])
    assert nvml.nvmlDeviceGetCudaComputeCapability(handle) == (8, 9)
    procs = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
    assert [(p.pid, p.usedGpuMemory) for p in procs] == [(4242, 812 * 1024 * 1024), (17, None)]
    assert "pid=4242" in repr(procs[0])
    nvml.nvmlShutdown()
    assert driver.nvml.shutdown


def test_ctypes_nvml_processes_none_running_and_v2_fallback():
    driver = Driver()
    driver.nvml.missing.add("nvmlDeviceGetComputeRunningProcesses_v3")
    nvml = CtypesNvml(loader=driver.loader)
    handle = nvml.nvmlDeviceGetHandleByIndex(0)
    assert nvml.nvmlDeviceGetComputeRunningProcesses(handle) == []
    assert "nvmlDeviceGetComputeRunningProcesses_v2" in driver.nvml.calls


def test_ctypes_nvml_process_query_errors():
    driver = Driver()
    driver.nvml.fail["nvmlDeviceGetComputeRunningProcesses_v3"] = 3
    nvml = CtypesNvml(loader=driver.loader)
    with pytest.raises(NVMLError) as err:
        nvml.nvmlDeviceGetComputeRunningProcesses(nvml.nvmlDeviceGetHandleByIndex(0))
    assert err.value.value == 3 and str(err.value) == "Not Supported"

    driver = Driver()
    driver.nvml.missing.update({"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2"})
    nvml = CtypesNvml(loader=driver.loader)
    with pytest.raises(NVMLError) as err:
        nvml.nvmlDeviceGetComputeRunningProcesses(nvml.nvmlDeviceGetHandleByIndex(0))
    assert err.value.value == CtypesNvml.NVML_ERROR_FUNCTION_NOT_FOUND
    assert str(err.value) == "Function Not Found: nvmlDeviceGetComputeRunningProcesses_v2"


def test_ctypes_nvml_missing_function_and_error_string_fallback():
    driver = Driver()
    driver.nvml.missing.update({"nvmlInit_v2", "nvmlErrorString"})
    nvml = CtypesNvml(loader=driver.loader)
    with pytest.raises(NVMLError) as err:
        nvml.nvmlInit()
    assert err.value.value == 13 and str(err.value) == "Function Not Found: nvmlInit_v2"
    assert nvml.nvmlErrorString(9) == "NVML error 9"
    assert str(NVMLError(5)) == "NVML error 5"


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def test_version_and_uuid_formatting():
    assert cuda_probe.cuda_version_string(12040) == "12.4"
    assert cuda_probe.cuda_version_string(11080) == "11.8"
    assert cuda_probe.cuda_version_string(13000) == "13.0"
    assert cuda_probe.cuda_version_string(0) is None
    assert cuda_probe.format_cuda_uuid(bytes(range(16))) == "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert cuda_probe.format_cuda_uuid((ctypes.c_ubyte * 16)(*range(240, 256))) == \
        "GPU-f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff"


def test_step_records_unexpected_exceptions():
    steps = cuda_probe.Steps()
    with pytest.raises(cuda_probe.StepFailed) as err:
        with steps.step("something", device=1, detail="x"):
            raise KeyError("boom")
    assert err.value.record == {"step": "something", "device": 1, "detail": "x", "ok": False,
                                "ms": err.value.record["ms"], "error": "KeyError: 'boom'"}
    assert cuda_probe.step_label(err.value.record) == "something on device 1 (x)"


# --------------------------------------------------------------------------
# self-containment and the command line
# --------------------------------------------------------------------------

ALLOWED_IMPORTS = {"__future__", "argparse", "array", "contextlib", "ctypes", "json", "os", "signal", "sys", "time"}


def test_probe_imports_only_the_standard_library():
    tree = ast.parse(PROBE_PATH.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports would break 'python3 -'"
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    first = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))][0]
    assert isinstance(first, ast.ImportFrom) and first.module == "__future__"
    assert [a.name for a in first.names] == ["annotations"]


def test_probe_parses_as_python_3_9():
    ast.parse(PROBE_PATH.read_text(), feature_version=(3, 9))


def test_probe_source_is_this_file():
    source = cuda_probe.probe_source()
    assert source == PROBE_PATH.read_text()
    compile(source, "cuda_probe.py", "exec")


def test_probe_source_falls_back_to_reading_the_file(monkeypatch):
    monkeypatch.setitem(cuda_probe.__dict__, "__loader__", None)
    assert cuda_probe.probe_source() == PROBE_PATH.read_text()


def run_cli(*args, env=None, stdin=None):
    environ = dict(os.environ)
    environ.pop("AI_SYSTEM_LAB_CDI", None)
    environ.update(env or {})
    command = [sys.executable, "-"] if stdin is not None else [sys.executable, str(PROBE_PATH)]
    return subprocess.run(command + list(args), input=stdin, capture_output=True, text=True, env=environ,
                          timeout=60, check=False)


def have_driver():
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


@pytest.mark.skipif(have_driver(), reason="this host has an NVIDIA driver")
def test_cli_on_a_host_without_driver_prints_skipped_json():
    proc = run_cli("--elements", "64")
    assert proc.returncode == cuda_probe.EXIT_SKIPPED
    doc = json.loads(proc.stdout)
    assert doc["status"] == "skipped" and doc["reason"] == "no NVIDIA driver"
    assert doc["probe"] == "ai_system.cuda_probe" and doc["kernel_result"]["n_elements"] == 64
    assert "cuda_probe: step dlopen (libcuda.so.1)" in proc.stderr.splitlines()
    assert proc.stdout.count("\n") > 5  # indented for people


@pytest.mark.skipif(have_driver(), reason="this host has an NVIDIA driver")
def test_cli_from_stdin_like_podman_exec():
    proc = run_cli("--compact", "--quiet", "--require-injected", stdin=PROBE_PATH.read_text())
    assert proc.returncode == cuda_probe.EXIT_SKIPPED
    assert proc.stderr == ""
    assert proc.stdout.count("\n") == 1
    assert json.loads(proc.stdout)["status"] == "skipped"


@pytest.mark.parametrize("args,env", [(["--lab"], {}), ([], {"AI_SYSTEM_LAB_CDI": "1"})])
def test_cli_lab(args, env):
    proc = run_cli("--compact", *args, env=env)
    assert proc.returncode == cuda_probe.EXIT_SKIPPED
    doc = json.loads(proc.stdout)
    assert (doc["status"], doc["reason"], doc["lab"]) == ("skipped", "no NVIDIA driver (lab CDI device)", True)


def test_cli_rejects_bad_element_count():
    proc = run_cli("--elements", "0")
    assert proc.returncode == 2
    assert "--elements must be at least 1" in proc.stderr
    assert proc.stdout == ""


def test_cli_exit_status_follows_the_result(monkeypatch, capsys):
    for status, code in (("passed", 0), ("failed", 1), ("skipped", 3)):
        monkeypatch.setattr(cuda_probe, "run_probe", lambda status=status, **kw: {"status": status})
        assert cuda_probe.main(["--compact", "--quiet"]) == code
        assert json.loads(capsys.readouterr().out) == {"status": status}


def test_cli_deadline_kills_a_hung_probe():
    script = textwrap.dedent("""
        import sys, time
        sys.path.insert(0, %r)
        import cuda_probe
        cuda_probe.run_probe = lambda **kw: time.sleep(30)
        sys.exit(cuda_probe.main(["--deadline", "1"]))
    """ % str(PROBE_PATH.parent))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20,
                          check=False)
    assert proc.returncode == -14  # SIGALRM
    assert proc.stdout == ""


@pytest.mark.parametrize("argv,message", [
    (["--mps"], "cuda_probe: --mps needs --budget-mib\n"),
    (["--budget-mib", "0"], "cuda_probe: --budget-mib must be at least 1\n"),
])
def test_budget_options_are_checked_before_anything_runs(argv, message, capsys):
    assert cuda_probe.main(argv) == 2
    assert capsys.readouterr().err == message
