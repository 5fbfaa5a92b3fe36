# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the NVML fact gathering and the VRAM budget check.

``FakePynvml`` has the names, return values and error behaviour of the
``pynvml`` module (nvidia-ml-py); the real pynvml and the built-in ctypes
binding are also run against this machine's (absent) driver.
"""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.verify import nvml_facts
from ansible_collections.ai_system.containers.plugins.module_utils.verify.nvml_binding import CtypesNvml
from ansible_collections.ai_system.containers.plugins.module_utils.verify.nvml_facts import (
    NvmlFactsError,
    VramBudgetError,
    check_vram_budgets,
    collect_gpu_facts,
    gather,
)
from support.gpu import driver_present

MIB = 1024 * 1024
ERROR_STRINGS = {
    1: "Uninitialized",
    3: "Not Supported",
    4: "Insufficient Permissions",
    9: "Driver Not Loaded",
    12: "NVML Shared Library Not Found",
    15: "GPU is lost",
    18: "RM has detected an NVML/RM version mismatch.",
    999: "Unknown Error",
}


class FakeNVMLError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return ERROR_STRINGS.get(self.value, "NVML Error with code %d" % self.value)


class Proc(object):
    def __init__(self, pid, used):
        self.pid = pid
        self.usedGpuMemory = used


class FakePynvml(object):
    """The pynvml functions nvml_facts calls, over a list of GPU dicts."""

    NVMLError = FakeNVMLError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_ERROR_LIBRARY_NOT_FOUND = 12
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18

    def __init__(self, gpus, fail=None):
        self.gpus = gpus
        self.fail = dict(fail or {})
        self.calls = []

    def _call(self, name, value):
        self.calls.append(name)
        if name in self.fail:
            raise FakeNVMLError(self.fail[name])
        return value

    def nvmlInit(self):
        return self._call("nvmlInit", None)

    def nvmlShutdown(self):
        return self._call("nvmlShutdown", None)

    def nvmlSystemGetDriverVersion(self):
        return self._call("nvmlSystemGetDriverVersion", "550.120")

    def nvmlSystemGetCudaDriverVersion_v2(self):
        return self._call("nvmlSystemGetCudaDriverVersion_v2", 12040)

    def nvmlDeviceGetCount(self):
        return self._call("nvmlDeviceGetCount", len(self.gpus))

    def nvmlDeviceGetHandleByIndex(self, index):
        return self._call("nvmlDeviceGetHandleByIndex", self.gpus[index])

    def nvmlDeviceGetName(self, handle):
        return self._call("nvmlDeviceGetName", handle["name"])

    def nvmlDeviceGetUUID(self, handle):
        return self._call("nvmlDeviceGetUUID", handle["uuid"])

    def nvmlDeviceGetMemoryInfo(self, handle):
        memory = type("Memory", (), {})()
        memory.total, memory.used = handle["total"] * MIB, handle["used"] * MIB
        memory.free = memory.total - memory.used
        return self._call("nvmlDeviceGetMemoryInfo", memory)

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return self._call("nvmlDeviceGetCudaComputeCapability", handle["cc"])

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return self._call("nvmlDeviceGetComputeRunningProcesses", handle.get("procs", []))


def rtx4090(**extra):
    gpu = {"name": "NVIDIA GeForce RTX 4090", "uuid": "GPU-4090", "total": 24564, "used": 1039, "cc": (8, 9)}
    gpu.update(extra)
    return gpu


def rtx3060(**extra):
    gpu = {"name": "NVIDIA GeForce RTX 3060", "uuid": "GPU-3060", "total": 12288, "used": 0, "cc": (8, 6)}
    gpu.update(extra)
    return gpu


NAMES = {4242: "python3", 77: None}


def collect(nvml, **kwargs):
    kwargs.setdefault("kernel_driver", lambda: "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.120")
    kwargs.setdefault("process_name", NAMES.get)
    return collect_gpu_facts(nvml, "pynvml", **kwargs)


# --------------------------------------------------------------------------
# collect_gpu_facts
# --------------------------------------------------------------------------

def test_facts_of_one_gpu_with_processes():
    nvml = FakePynvml([rtx4090(procs=[Proc(4242, 812 * MIB + 5), Proc(77, None)])])
    facts = collect(nvml)
    assert facts == {
        "available": True,
        "reason": None,
        "binding": "pynvml",
        "driver_version": "550.120",
        "cuda_driver_version": "12.4",
        "kernel_module": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.120",
        "gpu_count": 1,
        "gpus": [{
            "index": 0,
            "name": "NVIDIA GeForce RTX 4090",
            "uuid": "GPU-4090",
            "memory_total_mib": 24564,
            "memory_used_mib": 1039,
            "memory_free_mib": 23525,
            "compute_capability": "8.9",
            "processes": [
                {"pid": 77, "name": None, "used_memory_mib": None},
                {"pid": 4242, "name": "python3", "used_memory_mib": 812},
            ],
        }],
        "vram_check": {"checked": False},
    }
    assert nvml.calls[0] == "nvmlInit" and nvml.calls[-1] == "nvmlShutdown"


def test_facts_of_two_gpus_and_bytes_names():
    nvml = FakePynvml([rtx4090(name=b"NVIDIA GeForce RTX 4090"), rtx3060()])
    facts = collect(nvml)
    assert facts["gpu_count"] == 2
    assert [g["index"] for g in facts["gpus"]] == [0, 1]
    assert [g["name"] for g in facts["gpus"]] == ["NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 3060"]
    assert [g["compute_capability"] for g in facts["gpus"]] == ["8.9", "8.6"]


@pytest.mark.parametrize("code,text", [(12, "NVML Shared Library Not Found"), (9, "Driver Not Loaded")])
def test_no_driver_is_unavailable_with_the_nvml_error(code, text):
    nvml = FakePynvml([rtx4090()], fail={"nvmlInit": code})
    facts = collect(nvml, kernel_driver=lambda: None)
    assert facts["available"] is False
    assert facts["reason"] == "no NVIDIA driver: " + text
    assert facts["gpus"] == [] and facts["gpu_count"] == 0 and facts["kernel_module"] is None
    assert "nvmlShutdown" not in nvml.calls


def test_version_mismatch_fails_with_a_reboot_hint():
    nvml = FakePynvml([rtx4090()], fail={"nvmlInit": 18})
    with pytest.raises(NvmlFactsError) as err:
        collect(nvml)
    assert str(err.value) == (
        "NVML initialisation failed: RM has detected an NVML/RM version mismatch. - the driver's user-space "
        "libraries and the loaded kernel module are different versions; reboot after a driver upgrade")


def test_other_init_errors_fail():
    with pytest.raises(NvmlFactsError) as err:
        collect(FakePynvml([rtx4090()], fail={"nvmlInit": 4}))
    assert str(err.value) == "NVML initialisation failed: Insufficient Permissions"


@pytest.mark.parametrize("function,what", [
    ("nvmlSystemGetDriverVersion", "nvmlSystemGetDriverVersion"),
    ("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion_v2"),
    ("nvmlDeviceGetCount", "nvmlDeviceGetCount"),
    ("nvmlDeviceGetHandleByIndex", "nvmlDeviceGetHandleByIndex (GPU 0)"),
    ("nvmlDeviceGetName", "nvmlDeviceGetName (GPU 0)"),
    ("nvmlDeviceGetUUID", "nvmlDeviceGetUUID (GPU 0)"),
    ("nvmlDeviceGetMemoryInfo", "nvmlDeviceGetMemoryInfo (GPU 0)"),
    ("nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetCudaComputeCapability (GPU 0)"),
    ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetComputeRunningProcesses (GPU 0)"),
])
def test_query_errors_name_the_function_and_shut_down(function, what):
    nvml = FakePynvml([rtx4090()], fail={function: 15})
    with pytest.raises(NvmlFactsError) as err:
        collect(nvml)
    assert str(err.value) == "NVML %s failed: GPU is lost" % what
    assert nvml.calls[-1] == "nvmlShutdown"


def test_not_supported_queries_are_null():
    nvml = FakePynvml([rtx4090()], fail={
        "nvmlDeviceGetComputeRunningProcesses": 3,
        "nvmlDeviceGetCudaComputeCapability": 3,
        "nvmlSystemGetCudaDriverVersion_v2": 3,
    })
    facts = collect(nvml)
    assert facts["available"] is True
    assert facts["cuda_driver_version"] is None
    assert facts["gpus"][0]["processes"] is None
    assert facts["gpus"][0]["compute_capability"] is None


def test_memory_not_supported_fails():
    with pytest.raises(NvmlFactsError) as err:
        collect(FakePynvml([rtx4090()], fail={"nvmlDeviceGetMemoryInfo": 3}))
    assert str(err.value) == "NVML reports no memory information for GPU 0"


def test_shutdown_error_is_ignored():
    facts = collect(FakePynvml([rtx4090()], fail={"nvmlShutdown": 1}))
    assert facts["available"] is True


def test_driver_without_gpu_is_unavailable():
    facts = collect(FakePynvml([]))
    assert facts["available"] is False
    assert facts["reason"] == "the NVIDIA driver 550.120 is loaded but reports no GPU"
    assert facts["driver_version"] == "550.120"


# --------------------------------------------------------------------------
# the VRAM budget check
# --------------------------------------------------------------------------

GPUS = [
    {"index": 0, "name": "NVIDIA GeForce RTX 4090", "memory_total_mib": 24564},
    {"index": 1, "name": "NVIDIA GeForce RTX 3060", "memory_total_mib": 12288},
]


def test_budgets_that_fit_report_the_headroom():
    check = check_vram_budgets(GPUS[1:], {"tts": 3000, "stt": "2500"}, 1024)
    assert check == {
        "checked": True, "ok": True, "gpu_index": 1, "gpu_name": "NVIDIA GeForce RTX 3060", "gpu_total_mib": 12288,
        "budgets_mib": {"stt": 2500, "tts": 3000}, "budget_sum_mib": 5500, "reserve_mib": 1024,
        "required_mib": 6524, "headroom_mib": 5764,
    }


def test_budgets_exactly_filling_the_gpu_fit():
    assert check_vram_budgets(GPUS[1:], {"llm": 12000}, 288)["headroom_mib"] == 0


def test_oversubscription_names_every_budget_the_sum_and_the_total():
    with pytest.raises(VramBudgetError) as err:
        check_vram_budgets(GPUS[1:], {"llm": 8000, "tts": 3000, "stt": 2000}, 512)
    assert str(err.value) == (
        "VRAM over-subscribed on GPU 1 (NVIDIA GeForce RTX 3060, 12288 MiB total): budgets llm=8000 MiB + "
        "stt=2000 MiB + tts=3000 MiB sum to 13000 MiB, plus 512 MiB reserve = 13512 MiB, which exceeds the "
        "GPU's 12288 MiB by 1224 MiB. Lower the budgets or the reserve so that they fit before any GPU service "
        "starts.")
    assert err.value.check["ok"] is False and err.value.check["headroom_mib"] == -1224


def test_smallest_gpu_is_checked_unless_an_index_is_given():
    assert check_vram_budgets(GPUS, {"a": 1})["gpu_index"] == 1
    assert check_vram_budgets(GPUS, {"a": 20000}, gpu_index=0)["ok"] is True
    with pytest.raises(VramBudgetError):
        check_vram_budgets(GPUS, {"a": 20000})


def test_unknown_gpu_index_is_an_error():
    with pytest.raises(VramBudgetError) as err:
        check_vram_budgets(GPUS, {"a": 1}, gpu_index=3)
    assert str(err.value) == "vram_gpu_index 3 does not exist; the host has GPU(s) 0, 1"


@pytest.mark.parametrize("budgets,reserve,message", [
    ({"llm": "lots"}, 0, "VRAM budget llm must be a whole number of MiB, got 'lots'"),
    ({"llm": 1.5}, 0, "VRAM budget llm must be a whole number of MiB, got 1.5"),
    ({"llm": None}, 0, "VRAM budget llm must be a whole number of MiB, got None"),
    ({"llm": True}, 0, "VRAM budget llm must be a whole number of MiB, got True"),
    ({"llm": -1}, 0, "VRAM budget llm must not be negative, got -1 MiB"),
    ({"llm": 1}, -5, "VRAM budget vram_reserve_mib must not be negative, got -5 MiB"),
])
def test_invalid_budgets(budgets, reserve, message):
    with pytest.raises(VramBudgetError) as err:
        check_vram_budgets(GPUS, budgets, reserve)
    assert str(err.value) == message


def test_no_budgets_is_not_checked():
    assert check_vram_budgets(GPUS, {}) == {"checked": False}
    assert check_vram_budgets(GPUS, None) == {"checked": False}


def test_budgets_without_gpu_is_an_error():
    with pytest.raises(VramBudgetError) as err:
        check_vram_budgets([], {"a": 1})
    assert str(err.value) == "VRAM budgets were given but the host has no GPU to check them against"


# --------------------------------------------------------------------------
# gather: what the module returns
# --------------------------------------------------------------------------

def params(**kwargs):
    base = {"required": False, "vram_budgets": None, "vram_reserve_mib": 0, "vram_gpu_index": None}
    base.update(kwargs)
    return base


def run_gather(nvml, **kwargs):
    return gather(params(**kwargs), loader=lambda: (nvml, "pynvml"), kernel_driver=lambda: None,
                  process_name=lambda pid: None)


def test_gather_available():
    facts, error = run_gather(FakePynvml([rtx3060()]), vram_budgets={"tts": 3000}, vram_reserve_mib=512)
    assert error is None
    assert facts["available"] is True
    assert facts["vram_check"]["required_mib"] == 3512


def test_gather_unavailable_not_required_skips_the_budget_check():
    facts, error = run_gather(FakePynvml([], fail={"nvmlInit": 12}), vram_budgets={"tts": 3000})
    assert error is None
    assert facts["available"] is False
    assert facts["vram_check"] == {"checked": False,
                                   "reason": "no GPU: no NVIDIA driver: NVML Shared Library Not Found"}


def test_gather_unavailable_required_says_what_was_looked_for():
    facts, error = run_gather(FakePynvml([], fail={"nvmlInit": 12}), required=True)
    assert facts["available"] is False
    assert error == (
        "An NVIDIA GPU driver is required on this host but is not usable: no NVIDIA driver: NVML Shared Library "
        "Not Found. gpu_facts looked for the NVML library libnvidia-ml.so.1 (part of the NVIDIA driver) and for "
        "the loaded nvidia kernel module. The nvidia kernel module is not loaded (/proc/driver/nvidia/version is "
        "missing). " + nvml_facts.INSTALL_HINT)
    assert "nvidia-driver" in error and "nvidia-smi" in error


def test_required_message_when_the_module_is_loaded():
    facts = nvml_facts.empty_facts("ctypes")
    facts.update(reason="no NVIDIA driver: NVML Shared Library Not Found", kernel_module="NVRM version: 550.120")
    assert "The nvidia kernel module is loaded (NVRM version: 550.120)." in nvml_facts.unavailable_message(facts)


def test_gather_nvml_failure_is_an_error():
    facts, error = run_gather(FakePynvml([rtx3060()], fail={"nvmlDeviceGetName": 15}))
    assert error == "NVML nvmlDeviceGetName (GPU 0) failed: GPU is lost"
    assert facts["available"] is False and facts["reason"] == error


def test_gather_oversubscription_is_an_error_with_the_check():
    facts, error = run_gather(FakePynvml([rtx3060()]), vram_budgets={"llm": 12000}, vram_reserve_mib=1024)
    assert error.startswith("VRAM over-subscribed on GPU 0 (NVIDIA GeForce RTX 3060, 12288 MiB total)")
    assert facts["vram_check"]["checked"] is True
    assert facts["vram_check"]["ok"] is False
    assert facts["available"] is True


def test_gather_invalid_budget_is_an_error():
    facts, error = run_gather(FakePynvml([rtx3060()]), vram_budgets={"llm": "x"})
    assert error == "VRAM budget llm must be a whole number of MiB, got 'x'"
    assert facts["vram_check"] == {"checked": False, "ok": False}


# --------------------------------------------------------------------------
# bindings and the host's files
# --------------------------------------------------------------------------

def test_load_nvml_prefers_pynvml(monkeypatch):
    sentinel = object()
    monkeypatch.setattr(nvml_facts, "_pynvml", sentinel)
    assert nvml_facts.load_nvml() == (sentinel, "pynvml")
    monkeypatch.setattr(nvml_facts, "_pynvml", None)
    nvml, binding = nvml_facts.load_nvml()
    assert binding == "ctypes" and isinstance(nvml, CtypesNvml)


@pytest.mark.skipif(driver_present(), reason="this host has an NVIDIA driver")
def test_real_pynvml_on_a_host_without_driver():
    pynvml = pytest.importorskip("pynvml")
    facts = collect_gpu_facts(pynvml, "pynvml")
    assert facts["available"] is False
    assert facts["reason"] == "no NVIDIA driver: NVML Shared Library Not Found"


@pytest.mark.skipif(driver_present(), reason="this host has an NVIDIA driver")
def test_real_ctypes_binding_on_a_host_without_driver():
    facts = collect_gpu_facts(CtypesNvml(), "ctypes")
    assert facts["available"] is False
    assert facts["reason"].startswith("no NVIDIA driver: NVML Shared Library Not Found (libnvidia-ml.so.1: ")


def test_kernel_driver_and_process_name_files(tmp_path):
    version = tmp_path / "version"
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.120\nGCC version: 12\n")
    assert nvml_facts.read_kernel_driver(str(version)) == "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.120"
    assert nvml_facts.read_kernel_driver(str(tmp_path / "missing")) is None
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "comm").write_text("python3\n")
    assert nvml_facts.read_process_name(4242, str(tmp_path)) == "python3"
    assert nvml_facts.read_process_name(1, str(tmp_path)) is None


def test_default_readers_are_used(monkeypatch):
    monkeypatch.setattr(nvml_facts, "read_kernel_driver", lambda: "NVRM version: X")
    monkeypatch.setattr(nvml_facts, "read_process_name", lambda pid: "agent")
    facts = collect_gpu_facts(FakePynvml([rtx3060(procs=[Proc(5, 1 * MIB)])]))
    assert facts["kernel_module"] == "NVRM version: X"
    assert facts["gpus"][0]["processes"] == [{"pid": 5, "name": "agent", "used_memory_mib": 1}]
