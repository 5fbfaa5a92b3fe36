# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the gpu_facts module: main() with real module arguments.

The NVML binding is replaced by a pynvml-shaped fake through
``nvml_facts.load_nvml``; the no-driver cases also run with the real
bindings against this machine.
"""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ai_system.containers.plugins.module_utils.verify import nvml_facts
from ansible_collections.ai_system.containers.plugins.modules import gpu_facts
from support.gpu import driver_present

MIB = 1024 * 1024


class NvmlError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return {9: "Driver Not Loaded", 12: "NVML Shared Library Not Found", 15: "GPU is lost"}[self.value]


class Memory(object):
    def __init__(self, total_mib, used_mib):
        self.total, self.used, self.free = total_mib * MIB, used_mib * MIB, (total_mib - used_mib) * MIB


class FakeNvml(object):
    NVMLError = NvmlError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_ERROR_LIBRARY_NOT_FOUND = 12

    def __init__(self, total_mib=12288, init_error=None, name_error=None):
        self.total_mib = total_mib
        self.init_error = init_error
        self.name_error = name_error

    def nvmlInit(self):
        if self.init_error:
            raise NvmlError(self.init_error)

    def nvmlShutdown(self):
        pass

    def nvmlSystemGetDriverVersion(self):
        return "550.120"

    def nvmlSystemGetCudaDriverVersion_v2(self):
        return 12040

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetName(self, handle):
        if self.name_error:
            raise NvmlError(self.name_error)
        return "NVIDIA GeForce RTX 3060"

    def nvmlDeviceGetUUID(self, handle):
        return "GPU-0e9a3b8c-4d2f-11ee-9c61-2b7f3a5d8e10"

    def nvmlDeviceGetMemoryInfo(self, handle):
        return Memory(self.total_mib, 300)

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return (8, 6)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return []


@pytest.fixture
def nvml(monkeypatch):
    """Install a fake NVML; returns a setter for its constructor arguments."""
    def install(**kwargs):
        fake = FakeNvml(**kwargs)
        monkeypatch.setattr(nvml_facts, "load_nvml", lambda: (fake, "pynvml"))
        monkeypatch.setattr(nvml_facts, "read_kernel_driver", lambda: None)
        return fake
    return install


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        gpu_facts.main()
    return json.loads(capsys.readouterr().out)


def test_facts_are_returned_and_set_as_host_fact(nvml, capsys):
    nvml()
    out = run_main({}, capsys)
    assert out["changed"] is False
    assert out["available"] is True
    assert out["driver_version"] == "550.120"
    assert out["cuda_driver_version"] == "12.4"
    assert out["gpus"] == [{
        "index": 0, "name": "NVIDIA GeForce RTX 3060", "uuid": "GPU-0e9a3b8c-4d2f-11ee-9c61-2b7f3a5d8e10",
        "memory_total_mib": 12288, "memory_used_mib": 300, "memory_free_mib": 11988, "compute_capability": "8.6",
        "processes": [],
    }]
    fact = out["ansible_facts"]["ai_gpu_facts"]
    assert fact == dict((k, v) for k, v in out.items() if k in fact)
    assert set(fact) == {"available", "reason", "binding", "driver_version", "cuda_driver_version", "kernel_module",
                         "gpu_count", "gpus", "vram_check"}


def test_check_mode_reads_the_same(nvml, capsys):
    nvml()
    out = run_main({"_ansible_check_mode": True}, capsys)
    assert out["available"] is True and "failed" not in out


def test_no_driver_is_not_a_failure_by_default(nvml, capsys):
    nvml(init_error=12)
    out = run_main({}, capsys)
    assert "failed" not in out
    assert out["available"] is False
    assert out["reason"] == "no NVIDIA driver: NVML Shared Library Not Found"
    assert out["ansible_facts"]["ai_gpu_facts"]["available"] is False


@pytest.mark.parametrize("code,text", [(12, "NVML Shared Library Not Found"), (9, "Driver Not Loaded")])
def test_required_fails_with_what_was_looked_for_and_what_to_install(nvml, capsys, code, text):
    nvml(init_error=code)
    out = run_main({"required": True}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith(
        "An NVIDIA GPU driver is required on this host but is not usable: no NVIDIA driver: %s. gpu_facts looked "
        "for the NVML library libnvidia-ml.so.1 (part of the NVIDIA driver) and for the loaded nvidia kernel "
        "module. The nvidia kernel module is not loaded (/proc/driver/nvidia/version is missing). Install the "
        "NVIDIA driver for this GPU" % text)
    assert out["available"] is False
    assert "ansible_facts" not in out


def test_vram_budgets_that_fit(nvml, capsys):
    nvml()
    out = run_main({"vram_budgets": {"tts": 3000, "stt": 2500}, "vram_reserve_mib": 1024}, capsys)
    assert "failed" not in out
    assert out["vram_check"]["ok"] is True
    assert out["vram_check"]["headroom_mib"] == 12288 - 6524


def test_vram_oversubscription_fails_naming_groups_sum_and_total(nvml, capsys):
    nvml()
    out = run_main({"vram_budgets": {"llm": 8000, "tts": 3000, "stt": 2000}, "vram_reserve_mib": 512}, capsys)
    assert out["failed"] is True
    assert out["msg"] == (
        "VRAM over-subscribed on GPU 0 (NVIDIA GeForce RTX 3060, 12288 MiB total): budgets llm=8000 MiB + "
        "stt=2000 MiB + tts=3000 MiB sum to 13000 MiB, plus 512 MiB reserve = 13512 MiB, which exceeds the "
        "GPU's 12288 MiB by 1224 MiB. Lower the budgets or the reserve so that they fit before any GPU service "
        "starts.")
    assert out["vram_check"]["required_mib"] == 13512


def test_vram_gpu_index_that_does_not_exist_fails(nvml, capsys):
    nvml()
    out = run_main({"vram_budgets": {"llm": 1}, "vram_gpu_index": 2}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "vram_gpu_index 2 does not exist; the host has GPU(s) 0"


def test_invalid_budget_value_fails(nvml, capsys):
    nvml()
    out = run_main({"vram_budgets": {"llm": "plenty"}}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "VRAM budget llm must be a whole number of MiB, got 'plenty'"


def test_budgets_without_driver_and_not_required_are_not_checked(nvml, capsys):
    nvml(init_error=9)
    out = run_main({"vram_budgets": {"llm": 1}}, capsys)
    assert "failed" not in out
    assert out["vram_check"] == {"checked": False, "reason": "no GPU: no NVIDIA driver: Driver Not Loaded"}


def test_nvml_query_error_fails(nvml, capsys):
    nvml(name_error=15)
    out = run_main({}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "NVML nvmlDeviceGetName (GPU 0) failed: GPU is lost"


def test_wrong_option_type_fails(nvml, capsys):
    nvml()
    out = run_main({"vram_reserve_mib": "a lot"}, capsys)
    assert out["failed"] is True
    assert "vram_reserve_mib" in out["msg"]


def test_unknown_option_fails(nvml, capsys):
    nvml()
    out = run_main({"budgets": {}}, capsys)
    assert out["failed"] is True
    assert "Unsupported parameters" in out["msg"] and "budgets" in out["msg"]


@pytest.mark.skipif(driver_present(), reason="this host has an NVIDIA driver")
@pytest.mark.parametrize("binding", ["pynvml", "ctypes"])
def test_real_bindings_on_a_host_without_driver(monkeypatch, capsys, binding):
    if binding == "ctypes":
        monkeypatch.setattr(nvml_facts, "_pynvml", None)
    else:
        pytest.importorskip("pynvml")
    out = run_main({"required": False}, capsys)
    assert out["binding"] == binding
    assert out["available"] is False
    assert out["reason"].startswith("no NVIDIA driver: NVML Shared Library Not Found")


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(gpu_facts.DOCUMENTATION)
    assert set(doc["options"]) == set(gpu_facts.ARGUMENT_SPEC)
    for name, spec in gpu_facts.ARGUMENT_SPEC.items():
        assert doc["options"][name]["type"] == spec["type"]
        assert doc["options"][name].get("default") == spec.get("default")
    returned = yaml.safe_load(gpu_facts.RETURN)
    fact_keys = set(nvml_facts.empty_facts("x"))
    assert fact_keys | {"ansible_facts"} == set(returned)
    for key, entry in returned.items():
        assert {"description", "returned", "type", "sample"} <= set(entry), key
    yaml.safe_load(gpu_facts.EXAMPLES)
