# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVML through ctypes, with the function names and behaviour of pynvml.

The binding ``nvml_facts`` (and with it ``gpu_facts``, the preflight and the
exporter) uses when the ``pynvml`` module (package nvidia-ml-py) is not
installed: it needs only the driver's ``libnvidia-ml.so.1``.

The NVML calls the CUDA probe makes itself -- opening the library (with
WSL2's library directory), init and shutdown, the driver and CUDA versions,
each GPU's name, UUID and memory -- stay in ``cuda_probe``, which runs alone
inside containers and may import nothing of the collection.
:class:`CtypesNvml` extends that class with the queries only the host side
makes (compute capability, running processes) and the error codes pynvml
names, so each NVML call is declared once.
"""

from __future__ import annotations

import ctypes

from ansible_collections.ai_system.containers.plugins.module_utils.verify.cuda_probe import (
    NVML_ERROR_FUNCTION_NOT_FOUND,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_SUCCESS,
    NVMLError,
    ProbeNvml,
)

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_VALUE_NOT_AVAILABLE_ULL = (1 << 64) - 1

_P = ctypes.POINTER


class NvmlProcessInfo(ctypes.Structure):
    """nvmlProcessInfo_v2_t, the layout of the _v2 and _v3 process queries."""

    _fields_ = [
        ("pid", ctypes.c_uint),
        ("usedGpuMemory", ctypes.c_ulonglong),
        ("gpuInstanceId", ctypes.c_uint),
        ("computeInstanceId", ctypes.c_uint),
    ]


class NvmlProcess(object):
    """A running compute process, with the attribute names pynvml uses."""

    def __init__(self, pid, used_gpu_memory):
        self.pid = pid
        self.usedGpuMemory = used_gpu_memory

    def __repr__(self):
        return "NvmlProcess(pid=%r, usedGpuMemory=%r)" % (self.pid, self.usedGpuMemory)


class CtypesNvml(ProbeNvml):
    """The part of the pynvml API that this collection uses, over ctypes.

    Instances quack like the ``pynvml`` module: same function names, same
    return values, errors raised as :class:`NVMLError` with ``.value`` set to
    the NVML return code. ``loader`` opens the library (tests inject a fake).
    """

    NVMLError = NVMLError
    NVML_SUCCESS = NVML_SUCCESS
    NVML_ERROR_UNINITIALIZED = NVML_ERROR_UNINITIALIZED
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_INSUFFICIENT_SIZE = NVML_ERROR_INSUFFICIENT_SIZE
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_FUNCTION_NOT_FOUND = NVML_ERROR_FUNCTION_NOT_FOUND
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = NVML_ERROR_LIB_RM_VERSION_MISMATCH

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._call(
            "nvmlDeviceGetCudaComputeCapability",
            (ctypes.c_void_p, _P(ctypes.c_int), _P(ctypes.c_int)),
            handle, ctypes.byref(major), ctypes.byref(minor),
        )
        return (major.value, minor.value)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        argtypes = (ctypes.c_void_p, _P(ctypes.c_uint), _P(NvmlProcessInfo))
        try:
            fn = self._fn("nvmlDeviceGetComputeRunningProcesses_v3", argtypes)
        except NVMLError as exc:
            if exc.value != NVML_ERROR_FUNCTION_NOT_FOUND:
                raise
            fn = self._fn("nvmlDeviceGetComputeRunningProcesses_v2", argtypes)
        count = ctypes.c_uint(0)
        ret = fn(handle, ctypes.byref(count), None)
        if ret == NVML_SUCCESS:
            return []
        if ret != NVML_ERROR_INSUFFICIENT_SIZE:
            self._check(ret)
        # Room for processes that start between the two calls.
        count.value = count.value * 2 + 5
        infos = (NvmlProcessInfo * count.value)()
        self._check(fn(handle, ctypes.byref(count), infos))
        processes = []
        for info in infos[:count.value]:
            used = info.usedGpuMemory
            processes.append(NvmlProcess(info.pid, None if used == NVML_VALUE_NOT_AVAILABLE_ULL else used))
        return processes
