# -*- coding: utf-8 -*-
"""WSL2 detection, the driver store's digest, the library search and the
toolkit's WSL CDI spec, with real file contents (tests/fixtures/wsl/).

The osrelease files hold what /proc/sys/kernel/osrelease says on those
kernels; nvidia-wsl.yaml is a spec the toolkit wrote in WSL mode (its header
says where it comes from). No WSL machine ran these tests.
"""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_probe, nvml_binding, nvml_facts
from ansible_collections.ai_system.containers.plugins.module_utils.host import wsl_platform as wsl

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "wsl")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@pytest.mark.parametrize("name, version", [
    ("osrelease-wsl2", 2), ("osrelease-wsl2-6.6", 2), ("osrelease-wsl2-first", 2),
    ("osrelease-wsl1", 1), ("osrelease-ubuntu-22.04", None), ("osrelease-debian-12", None),
])
def test_wsl_version_from_the_kernel_release(name, version):
    assert wsl.wsl_version(fixture(name)) == version


def test_platform_auto_follows_the_kernel_and_a_setting_forces_it():
    assert wsl.decide_platform("auto", fixture("osrelease-wsl2")) == (
        "wsl", "kernel 5.15.167.4-microsoft-standard-WSL2 is WSL2's")
    assert wsl.decide_platform("auto", fixture("osrelease-ubuntu-22.04"))[0] == "linux"
    # The lab's stand-in: a Debian kernel, made WSL by the explicit setting.
    platform, evidence = wsl.decide_platform("wsl", fixture("osrelease-debian-12"))
    assert platform == "wsl" and evidence == "set explicitly (kernel 6.1.0-28-amd64)"
    assert wsl.decide_platform("linux", fixture("osrelease-wsl2"))[0] == "linux"


def test_wsl1_is_refused_with_the_conversion_command():
    with pytest.raises(ValueError, match=r"WSL1's.*wsl --set-version <distribution> 2"):
        wsl.decide_platform("auto", fixture("osrelease-wsl1"))
    with pytest.raises(ValueError, match="auto, wsl or linux"):
        wsl.decide_platform("windows", "")


def test_driver_store_digest_follows_names_sizes_and_mtimes(tmp_path):
    store = tmp_path / "drivers"
    inf = store / "nvfrwi.inf_amd64_63d60f682af8cba2"
    inf.mkdir(parents=True)
    (inf / "libcuda.so.1.1").write_bytes(b"x" * 10)
    (inf / "nvidia-smi").write_bytes(b"y" * 3)
    os.utime(inf / "libcuda.so.1.1", (1700000000, 1700000000))
    os.utime(inf / "nvidia-smi", (1700000000, 1700000000))
    entries = wsl.driver_store_entries(str(store))
    assert entries == [("nvfrwi.inf_amd64_63d60f682af8cba2/libcuda.so.1.1", 10, 1700000000),
                       ("nvfrwi.inf_amd64_63d60f682af8cba2/nvidia-smi", 3, 1700000000)]
    assert wsl.nvidia_driver_dirs(entries) == ["nvfrwi.inf_amd64_63d60f682af8cba2"]
    first = wsl.driver_store_digest(entries)
    assert first == wsl.driver_store_digest(list(reversed(entries)))
    # A driver update rewrites the files: the digest changes.
    os.utime(inf / "libcuda.so.1.1", (1710000000, 1710000000))
    assert wsl.driver_store_digest(wsl.driver_store_entries(str(store))) != first
    (inf / "libcuda.so.1.1").write_bytes(b"x" * 11)
    os.utime(inf / "libcuda.so.1.1", (1700000000, 1700000000))
    assert wsl.driver_store_digest(wsl.driver_store_entries(str(store))) != first
    assert wsl.driver_store_entries(str(tmp_path / "missing")) == []


def test_a_linux_driver_shows_in_its_paths():
    present = {"/sys/module/nvidia", "/dev/nvidiactl"}
    assert wsl.linux_driver_evidence(exists=present.__contains__) == ["/sys/module/nvidia", "/dev/nvidiactl"]
    assert wsl.linux_driver_evidence(exists=lambda _p: False) == []
    assert "wsl --shutdown" in wsl.LINUX_DRIVER_FIX


def test_the_toolkits_wsl_spec_is_recognised():
    spec = wsl.parse_cdi_spec(yaml.safe_load(fixture("nvidia-wsl.yaml")))
    assert spec["kind"] == "nvidia.com/gpu"
    assert spec["devices"] == ["all"]
    assert spec["device_nodes"] == ["/dev/dxg"]
    assert "/usr/lib/wsl/lib/libdxcore.so" in spec["mounts"]
    assert wsl.wsl_spec_problems(spec) == []


def test_a_linux_spec_is_not_a_wsl_spec():
    linux = {"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu",
             "devices": [{"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}}],
             "containerEdits": {"deviceNodes": [{"path": "/dev/nvidiactl"}],
                                "mounts": [{"hostPath": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.120"}]}}
    problems = wsl.wsl_spec_problems(wsl.parse_cdi_spec(linux))
    assert problems == ["its device nodes are /dev/nvidia0, /dev/nvidiactl, not /dev/dxg alone",
                        "it mounts no libcuda.so.1.1 from /usr/lib/wsl/drivers"]
    with pytest.raises(ValueError):
        wsl.parse_cdi_spec(["not", "a", "spec"])


def test_the_library_search_adds_the_wsl_directory_only_where_it_holds_the_library(tmp_path):
    (tmp_path / "libnvidia-ml.so.1").write_bytes(b"")
    lib_dir = str(tmp_path)
    assert cuda_probe.library_candidates("libnvidia-ml.so.1", lib_dir) == [
        "libnvidia-ml.so.1", os.path.join(lib_dir, "libnvidia-ml.so.1")]
    assert cuda_probe.library_candidates("libcuda.so.1", lib_dir) == ["libcuda.so.1"]
    assert wsl.library_candidates is cuda_probe.library_candidates
    assert wsl.WSL_LIB_DIR == "/usr/lib/wsl/lib"


def test_the_loader_falls_back_to_the_wsl_directory(tmp_path):
    opened = []

    def cdll(path):
        opened.append(path)
        if path == "libcuda.so.1":
            raise OSError("libcuda.so.1: cannot open shared object file: No such file or directory")
        return "handle:" + path

    def candidates(name):
        return [name, "/usr/lib/wsl/lib/" + name]

    assert cuda_probe.default_loader("libcuda.so.1", cdll, candidates) == "handle:/usr/lib/wsl/lib/libcuda.so.1"
    assert opened == ["libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1"]
    # Where neither works, the dynamic linker's own error is the one raised.
    with pytest.raises(OSError, match="cannot open shared object file"):
        cuda_probe.default_loader("libcuda.so.1", cdll, lambda name: ["libcuda.so.1"])


def test_nvml_under_wsl_uses_the_binding_that_searches_the_wsl_directory(monkeypatch):
    monkeypatch.setattr(nvml_facts, "_pynvml", object())
    assert nvml_facts.load_nvml(wsl_nvml=False)[1] == "pynvml"
    nvml, binding = nvml_facts.load_nvml(wsl_nvml=True)
    assert binding == "ctypes" and isinstance(nvml, nvml_binding.CtypesNvml)


def test_no_driver_under_wsl_points_at_the_windows_driver():
    facts = nvml_facts.empty_facts("ctypes")
    facts["reason"] = "no NVIDIA driver: NVML Shared Library Not Found"
    text = nvml_facts.unavailable_message(facts, wsl=True)
    assert "/usr/lib/wsl/lib (WSL2)" in text and "Windows NVIDIA driver" in text
    assert "modprobe" not in text
    assert "modprobe nvidia" in nvml_facts.unavailable_message(facts, wsl=False)
    assert nvml_facts.under_wsl(exists={"/dev/dxg"}.__contains__)
    assert not nvml_facts.under_wsl(exists=lambda _p: False)


def test_gather_under_wsl_reads_the_layout_under_root(tmp_path):
    root = tmp_path / "standin"
    (root / "usr/lib/wsl/lib").mkdir(parents=True)
    (root / "usr/lib/wsl/lib/libnvidia-ml.so.1").write_bytes(b"")
    inf = root / "usr/lib/wsl/drivers/nv_dispi.inf_amd64_8b6a0e4a1f2c3d4e"
    inf.mkdir(parents=True)
    (inf / "libcuda.so.1.1").write_bytes(b"x")
    (root / "dev").mkdir()
    (root / "dev/dxg").write_bytes(b"")
    texts = {wsl.OSRELEASE: fixture("osrelease-wsl2")}
    facts, error = wsl.gather("auto", str(root), read=lambda p: texts.get(p, ""))
    assert error is None
    assert (facts["platform"], facts["wsl_version"], facts["dxg_exists"]) == ("wsl", 2, True)
    assert facts["nvml_library"] == str(root / "usr/lib/wsl/lib/libnvidia-ml.so.1")
    assert facts["nvidia_driver_dirs"] == ["nv_dispi.inf_amd64_8b6a0e4a1f2c3d4e"]
    assert facts["driver_store_files"] == 1 and len(facts["driver_store_digest"]) == 64
    # A Debian kernel is Linux unless the setting forces WSL.
    texts[wsl.OSRELEASE] = fixture("osrelease-debian-12")
    assert wsl.gather("auto", str(root), read=lambda p: texts.get(p, ""))[0]["driver_store_digest"] is None
    assert wsl.gather("wsl", str(root), read=lambda p: texts.get(p, ""))[0]["platform"] == "wsl"
    texts[wsl.OSRELEASE] = fixture("osrelease-wsl1")
    facts, error = wsl.gather("auto", str(root), read=lambda p: texts.get(p, ""))
    assert facts["platform"] is None and "WSL1" in error
