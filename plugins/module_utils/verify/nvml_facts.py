# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU facts from NVML, and the VRAM budget check, as pure functions.

Every function takes the NVML binding as an argument: the ``pynvml`` module
(package nvidia-ml-py) when it is importable on the managed host, otherwise
the pynvml-compatible ctypes binding from ``nvml_binding`` (which needs only
the driver's libnvidia-ml.so.1). Tests pass a fake with the same names.
"""

from __future__ import annotations

import os

from ansible_collections.ai_system.containers.plugins.module_utils.verify.cuda_probe import (
    MIB,
    NVML_LIBRARY,
    WSL_LIB_DIR,
    cuda_version_string,
)
from ansible_collections.ai_system.containers.plugins.module_utils.verify.nvml_binding import CtypesNvml

try:
    import pynvml as _pynvml
except ImportError:
    _pynvml = None

PROC_DRIVER_VERSION = "/proc/driver/nvidia/version"

NO_DRIVER_PREFIX = "no NVIDIA driver: "

INSTALL_HINT = (
    "Install the NVIDIA driver for this GPU - Debian: the nvidia-driver package (non-free); "
    "Ubuntu: ubuntu-drivers install or nvidia-driver-<branch>; RHEL/Rocky/Fedora: the driver "
    "from NVIDIA's CUDA repository (dnf module install nvidia-driver) or RPM Fusion (akmod-nvidia) - "
    "then reboot, or load the module with 'modprobe nvidia', and check that 'nvidia-smi' lists the GPU."
)


class NvmlFactsError(Exception):
    """NVML is present but a query failed; the message says which and why."""


class VramBudgetError(Exception):
    """The VRAM budgets do not fit, or are not valid numbers."""

    def __init__(self, message, check=None):
        super().__init__(message)
        self.check = check or {}


WSL_INSTALL_HINT = (
    "Under WSL2 the driver is the Windows NVIDIA driver: install or update it on Windows (never a Linux "
    "NVIDIA driver inside the distribution), run 'wsl --shutdown' and start the distribution again; "
    "%s must then hold libnvidia-ml.so.1 and libcuda.so.1, and /dev/dxg must exist." % WSL_LIB_DIR
)


def load_nvml(wsl_nvml=None):
    """(binding, name): pynvml when installed, else the ctypes binding.

    Where WSL2's library directory holds libnvidia-ml.so.1 the ctypes binding
    is used, since it also searches that directory (cuda_probe.library_candidates)
    and pynvml only the dynamic linker's cache.
    """
    if wsl_nvml is None:
        wsl_nvml = os.path.exists(os.path.join(WSL_LIB_DIR, NVML_LIBRARY))
    if _pynvml is not None and not wsl_nvml:
        return _pynvml, "pynvml"
    return CtypesNvml(), "ctypes"


def _code(nvml, name, default):
    return getattr(nvml, name, default)


def _error_code(exc):
    return getattr(exc, "value", None)


def bytes_to_mib(value):
    return int(value) // MIB


def read_kernel_driver(path=PROC_DRIVER_VERSION):
    """First line of /proc/driver/nvidia/version, or None when the module is not loaded."""
    try:
        with open(path, "r") as handle:
            return handle.readline().strip() or None
    except (IOError, OSError):
        return None


def read_process_name(pid, proc_root="/proc"):
    try:
        with open(os.path.join(proc_root, str(pid), "comm"), "r") as handle:
            return handle.read().strip() or None
    except (IOError, OSError):
        return None


def empty_facts(binding):
    return {
        "available": False,
        "reason": None,
        "binding": binding,
        "driver_version": None,
        "cuda_driver_version": None,
        "kernel_module": None,
        "gpu_count": 0,
        "gpus": [],
        "vram_check": {"checked": False},
    }


def _query(nvml, what, fn, *args):
    """Call one NVML function; NOT_SUPPORTED gives None, any other error raises."""
    try:
        return fn(*args)
    except nvml.NVMLError as exc:
        if _error_code(exc) == _code(nvml, "NVML_ERROR_NOT_SUPPORTED", 3):
            return None
        raise NvmlFactsError("NVML %s failed: %s" % (what, exc))


def _processes(nvml, handle, index, process_name):
    procs = _query(nvml, "nvmlDeviceGetComputeRunningProcesses (GPU %d)" % index,
                   nvml.nvmlDeviceGetComputeRunningProcesses, handle)
    if procs is None:
        return None
    out = []
    for proc in procs:
        used = getattr(proc, "usedGpuMemory", None)
        out.append({
            "pid": int(proc.pid),
            "name": process_name(proc.pid),
            "used_memory_mib": None if used is None else bytes_to_mib(used),
        })
    return sorted(out, key=lambda p: p["pid"])


def _telemetry(nvml, handle, index):
    """Utilisation (percent) and temperature (Celsius) of one GPU; None where
    the GPU or the binding does not report it."""
    out = {"utilization_gpu_pct": None, "temperature_c": None}
    rates_fn = getattr(nvml, "nvmlDeviceGetUtilizationRates", None)
    if rates_fn is not None:
        rates = _query(nvml, "nvmlDeviceGetUtilizationRates (GPU %d)" % index, rates_fn, handle)
        if rates is not None:
            out["utilization_gpu_pct"] = int(rates.gpu)
    temp_fn = getattr(nvml, "nvmlDeviceGetTemperature", None)
    if temp_fn is not None:
        sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
        temp = _query(nvml, "nvmlDeviceGetTemperature (GPU %d)" % index, temp_fn, handle, sensor)
        if temp is not None:
            out["temperature_c"] = int(temp)
    return out


def _gpu(nvml, index, process_name, telemetry=False):
    handle = _query(nvml, "nvmlDeviceGetHandleByIndex (GPU %d)" % index, nvml.nvmlDeviceGetHandleByIndex, index)
    name = _query(nvml, "nvmlDeviceGetName (GPU %d)" % index, nvml.nvmlDeviceGetName, handle)
    uuid = _query(nvml, "nvmlDeviceGetUUID (GPU %d)" % index, nvml.nvmlDeviceGetUUID, handle)
    memory = _query(nvml, "nvmlDeviceGetMemoryInfo (GPU %d)" % index, nvml.nvmlDeviceGetMemoryInfo, handle)
    capability = _query(nvml, "nvmlDeviceGetCudaComputeCapability (GPU %d)" % index,
                        nvml.nvmlDeviceGetCudaComputeCapability, handle)
    if memory is None:
        raise NvmlFactsError("NVML reports no memory information for GPU %d" % index)
    facts = {
        "index": index,
        "name": _text(name),
        "uuid": _text(uuid),
        "memory_total_mib": bytes_to_mib(memory.total),
        "memory_used_mib": bytes_to_mib(memory.used),
        "memory_free_mib": bytes_to_mib(memory.free),
        "compute_capability": None if capability is None else "%d.%d" % tuple(capability),
        "processes": _processes(nvml, handle, index, process_name),
    }
    if telemetry:
        facts.update(_telemetry(nvml, handle, index))
    return facts


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def collect_gpu_facts(nvml, binding="pynvml", kernel_driver=None, process_name=None, telemetry=False):
    """Facts about the NVIDIA driver and every GPU; with ``telemetry``, each
    GPU's utilisation and temperature too (the exporter's metrics).

    Returns ``available: false`` with ``reason`` when the host has no usable
    driver (NVML library missing, kernel module not loaded). Raises
    :class:`NvmlFactsError` when the driver is there but NVML fails.
    """
    kernel_driver = kernel_driver if kernel_driver is not None else read_kernel_driver
    process_name = process_name or read_process_name
    facts = empty_facts(binding)
    facts["kernel_module"] = kernel_driver()
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        code = _error_code(exc)
        if code in (_code(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", 12), _code(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", 9)):
            facts["reason"] = NO_DRIVER_PREFIX + str(exc)
            return facts
        hint = ""
        if code == _code(nvml, "NVML_ERROR_LIB_RM_VERSION_MISMATCH", 18):
            hint = (" - the driver's user-space libraries and the loaded kernel module are different versions;"
                    " reboot after a driver upgrade")
        raise NvmlFactsError("NVML initialisation failed: %s%s" % (exc, hint))
    try:
        facts["driver_version"] = _text(_query(nvml, "nvmlSystemGetDriverVersion", nvml.nvmlSystemGetDriverVersion))
        facts["cuda_driver_version"] = cuda_version_string(
            _query(nvml, "nvmlSystemGetCudaDriverVersion_v2", nvml.nvmlSystemGetCudaDriverVersion_v2))
        count = _query(nvml, "nvmlDeviceGetCount", nvml.nvmlDeviceGetCount) or 0
        facts["gpus"] = [_gpu(nvml, index, process_name, telemetry) for index in range(count)]
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass
    facts["gpu_count"] = len(facts["gpus"])
    if not facts["gpus"]:
        facts["reason"] = "the NVIDIA driver %s is loaded but reports no GPU" % facts["driver_version"]
        return facts
    facts["available"] = True
    return facts


def under_wsl(exists=os.path.exists):
    """Whether this system has WSL2's GPU layout (its library directory or /dev/dxg)."""
    return exists(WSL_LIB_DIR) or exists("/dev/dxg")


def unavailable_message(facts, wsl=False):
    """The fail message for ``required: true`` on a host without a usable driver."""
    reason = facts.get("reason") or "NVML unavailable"
    if wsl:
        return (
            "An NVIDIA GPU driver is required on this host but is not usable: %s. gpu_facts looked for the "
            "NVML library %s in the dynamic linker's cache and in %s (WSL2). %s" % (
                reason, NVML_LIBRARY, WSL_LIB_DIR, WSL_INSTALL_HINT))
    kernel = facts.get("kernel_module")
    if kernel:
        found = "The nvidia kernel module is loaded (%s)" % kernel
    else:
        found = "The nvidia kernel module is not loaded (%s is missing)" % PROC_DRIVER_VERSION
    return (
        "An NVIDIA GPU driver is required on this host but is not usable: %s. "
        "gpu_facts looked for the NVML library %s (part of the NVIDIA driver) and for the loaded nvidia "
        "kernel module. %s. %s" % (reason, NVML_LIBRARY, found, INSTALL_HINT)
    )


def _mib(name, value):
    if isinstance(value, bool):
        raise VramBudgetError("VRAM budget %s must be a whole number of MiB, got %r" % (name, value))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise VramBudgetError("VRAM budget %s must be a whole number of MiB, got %r" % (name, value))
    if number < 0:
        raise VramBudgetError("VRAM budget %s must not be negative, got %d MiB" % (name, number))
    return number


def check_vram_budgets(gpus, budgets, reserve_mib=0, gpu_index=None):
    """Compare the sum of the budgets (plus a reserve) with a GPU's total memory.

    The GPU is ``gpu_index`` when given, otherwise the GPU with the least
    memory. Returns the check as a dict; raises :class:`VramBudgetError`
    when the budgets are invalid or over-subscribe the GPU.
    """
    if not budgets:
        return {"checked": False}
    clean = dict((str(group), _mib(str(group), mib)) for group, mib in sorted(budgets.items()))
    reserve = _mib("vram_reserve_mib", reserve_mib or 0)
    if not gpus:
        raise VramBudgetError("VRAM budgets were given but the host has no GPU to check them against")
    if gpu_index is None:
        gpu = min(gpus, key=lambda g: (g["memory_total_mib"], g["index"]))
    else:
        matches = [g for g in gpus if g["index"] == gpu_index]
        if not matches:
            raise VramBudgetError("vram_gpu_index %d does not exist; the host has GPU(s) %s" % (
                gpu_index, ", ".join(str(g["index"]) for g in gpus)))
        gpu = matches[0]
    total_budget = sum(clean.values())
    required = total_budget + reserve
    check = {
        "checked": True,
        "ok": required <= gpu["memory_total_mib"],
        "gpu_index": gpu["index"],
        "gpu_name": gpu["name"],
        "gpu_total_mib": gpu["memory_total_mib"],
        "budgets_mib": clean,
        "budget_sum_mib": total_budget,
        "reserve_mib": reserve,
        "required_mib": required,
        "headroom_mib": gpu["memory_total_mib"] - required,
    }
    if not check["ok"]:
        parts = " + ".join("%s=%d MiB" % (group, mib) for group, mib in clean.items())
        raise VramBudgetError(
            "VRAM over-subscribed on GPU %d (%s, %d MiB total): budgets %s sum to %d MiB, plus %d MiB reserve "
            "= %d MiB, which exceeds the GPU's %d MiB by %d MiB. Lower the budgets or the reserve so that "
            "they fit before any GPU service starts." % (
                gpu["index"], gpu["name"], gpu["memory_total_mib"], parts, total_budget, reserve, required,
                gpu["memory_total_mib"], required - gpu["memory_total_mib"]),
            check,
        )
    return check


def gather(params, loader=None, kernel_driver=None, process_name=None, wsl=None):
    """Everything gpu_facts does: (facts, error message or None)."""
    nvml, binding = (loader or load_nvml)()
    try:
        facts = collect_gpu_facts(nvml, binding, kernel_driver=kernel_driver, process_name=process_name)
    except NvmlFactsError as exc:
        facts = empty_facts(binding)
        facts["reason"] = str(exc)
        return facts, str(exc)
    if not facts["available"]:
        if params.get("required"):
            return facts, unavailable_message(facts, under_wsl() if wsl is None else wsl)
        if params.get("vram_budgets"):
            facts["vram_check"] = {"checked": False, "reason": "no GPU: %s" % facts["reason"]}
        return facts, None
    try:
        facts["vram_check"] = check_vram_budgets(
            facts["gpus"], params.get("vram_budgets") or {}, params.get("vram_reserve_mib") or 0,
            params.get("vram_gpu_index"))
    except VramBudgetError as exc:
        facts["vram_check"] = dict(exc.check, checked=bool(exc.check), ok=False)
        return facts, str(exc)
    return facts, None
