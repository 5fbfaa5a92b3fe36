# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WSL2 as a platform: detection, the GPU layout it has, and what it lacks.

Under WSL2 the NVIDIA driver lives on Windows. Inside the distribution the GPU
is ``/dev/dxg`` (no ``/dev/nvidia*``, no nvidia kernel module, no
``/proc/driver/nvidia``); the driver's user-space libraries are in the driver
store ``/usr/lib/wsl/drivers/<inf dir>/`` and the WSL library directory
``/usr/lib/wsl/lib`` (libcuda.so.1, libnvidia-ml.so.1, libdxcore.so). Every
function here is pure or takes its file access as an argument, so the tests
feed real file contents.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_probe

# The library search lives in cuda_probe, which runs alone inside containers too.
WSL_LIB_DIR = cuda_probe.WSL_LIB_DIR
library_candidates = cuda_probe.library_candidates
#: The Windows driver store, as WSL mounts it.
WSL_DRIVER_STORE = "/usr/lib/wsl/drivers"
#: The GPU as WSL2 exposes it (DirectX kernel interface).
WSL_DXG = "/dev/dxg"
OSRELEASE = "/proc/sys/kernel/osrelease"

#: Where a Linux NVIDIA kernel driver shows itself; none may exist under WSL.
LINUX_DRIVER_PATHS = ("/proc/driver/nvidia", "/sys/module/nvidia", "/dev/nvidiactl")

LINUX_DRIVER_FIX = (
    "Under WSL2 the GPU driver is the Windows NVIDIA driver: remove the Linux NVIDIA driver from this "
    "distribution (for example 'apt-get purge \"nvidia-driver-*\" \"nvidia-dkms-*\" \"libnvidia-*\"'), "
    "run 'wsl --shutdown' on Windows and start the distribution again. Keep the NVIDIA Container "
    "Toolkit: it is what this collection installs."
)


def wsl_version(osrelease):
    """2 for a WSL2 kernel, 1 for WSL1, None for any other kernel.

    ``osrelease`` is the text of /proc/sys/kernel/osrelease: WSL2's kernels
    say ``5.15.167.4-microsoft-standard-WSL2`` (``...-microsoft-standard`` on
    the first ones), WSL1 says ``4.4.0-19041-Microsoft``.
    """
    text = (osrelease or "").strip().lower()
    if "microsoft" not in text and "wsl" not in text:
        return None
    if "wsl2" in text or "microsoft-standard" in text:
        return 2
    return 1


def decide_platform(setting, osrelease):
    """The platform the roles act for: ``(platform, evidence)``.

    ``setting`` is ``auto`` (the kernel's release decides), ``wsl`` or
    ``linux`` (forced by the inventory, for example ``ai_wsl: true``).
    """
    setting = (setting or "auto").strip().lower()
    release = (osrelease or "").strip()
    if setting in ("wsl", "linux"):
        return setting, "set explicitly (kernel %s)" % (release or "unknown")
    if setting != "auto":
        raise ValueError("platform must be auto, wsl or linux, not %r" % setting)
    version = wsl_version(release)
    if version == 2:
        return "wsl", "kernel %s is WSL2's" % release
    if version == 1:
        raise ValueError(
            "kernel %s is WSL1's, which has no GPU access and no systemd: convert the distribution with "
            "'wsl --set-version <distribution> 2' on Windows" % release)
    return "linux", "kernel %s" % (release or "unknown")


def driver_store_entries(root=WSL_DRIVER_STORE):
    """(relative path, size, mtime in whole seconds) of every file under the
    driver store, sorted; [] when it does not exist."""
    entries = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(top, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            entries.append((os.path.relpath(path, root), int(info.st_size), int(info.st_mtime)))
    return sorted(entries)


def driver_store_digest(entries):
    """SHA-256 of the driver store's listing (names, sizes, mtimes): it changes
    when the Windows driver is updated, which the CDI spec must follow."""
    digest = hashlib.sha256()
    for rel, size, mtime in sorted(entries):
        digest.update(("%s\t%d\t%d\n" % (rel, size, mtime)).encode("utf-8"))
    return digest.hexdigest()


def nvidia_driver_dirs(entries):
    """The driver store directories that hold NVIDIA's CUDA driver (libcuda.so.1.1),
    as the toolkit picks them."""
    return sorted(set(rel.split("/", 1)[0] for rel, _size, _mtime in entries
                      if "/" in rel and rel.rsplit("/", 1)[1] == "libcuda.so.1.1"))


def linux_driver_evidence(exists=os.path.exists, paths=LINUX_DRIVER_PATHS):
    """The paths that show a Linux NVIDIA kernel driver on this system."""
    return [path for path in paths if exists(path)]


def parse_cdi_spec(data):
    """The parts of a CDI spec (already parsed from YAML or JSON) the roles
    check: kind, device names, device nodes and the host paths it mounts."""
    if not isinstance(data, dict):
        raise ValueError("a CDI spec is a mapping, got %s" % type(data).__name__)
    devices = data.get("devices") or []
    edits = [data.get("containerEdits") or {}] + [d.get("containerEdits") or {} for d in devices
                                                  if isinstance(d, dict)]
    nodes, mounts = [], []
    for edit in edits:
        nodes.extend(str(n.get("path")) for n in edit.get("deviceNodes") or [] if isinstance(n, dict))
        mounts.extend(str(m.get("hostPath")) for m in edit.get("mounts") or [] if isinstance(m, dict))
    return {
        "kind": data.get("kind"),
        "devices": [str(d.get("name")) for d in devices if isinstance(d, dict)],
        "device_nodes": sorted(set(nodes)),
        "mounts": mounts,
    }


def wsl_spec_problems(spec, driver_store=WSL_DRIVER_STORE, dxg=WSL_DXG):
    """Why a parsed CDI spec is not the toolkit's WSL spec; [] when it is."""
    problems = []
    if spec["kind"] != "nvidia.com/gpu":
        problems.append("its kind is %s, not nvidia.com/gpu" % spec["kind"])
    if spec["device_nodes"] != [dxg]:
        problems.append("its device nodes are %s, not %s alone" % (", ".join(spec["device_nodes"]) or "none", dxg))
    prefix = driver_store.rstrip("/") + "/"
    if not any(m.startswith(prefix) and m.endswith("/libcuda.so.1.1") for m in spec["mounts"]):
        problems.append("it mounts no libcuda.so.1.1 from %s" % driver_store)
    return problems


ARGUMENT_SPEC = {
    "platform": {"type": "str", "default": "auto", "choices": ["auto", "wsl", "linux"]},
    "root": {"type": "path", "default": "/"},
}


def _read(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def gather(platform="auto", root="/", read=_read, exists=os.path.exists, entries=driver_store_entries):
    """Everything wsl_facts reports: (facts, error message or None).

    ``root`` prefixes WSL's paths (library directory, driver store, /dev/dxg):
    ``/`` on a real host, the stand-in's directory on a lab host that
    simulates WSL's GPU layout. The Linux driver's paths are always the real ones.
    """
    def under(path):
        return os.path.join(root, path.lstrip("/"))

    osrelease = read(OSRELEASE).strip()
    facts = {
        "platform": None, "evidence": None, "osrelease": osrelease or None,
        "wsl_version": wsl_version(osrelease), "root": root,
        "lib_dir": under(WSL_LIB_DIR), "lib_dir_exists": exists(under(WSL_LIB_DIR)),
        "nvml_library": None, "dxg": under(WSL_DXG), "dxg_exists": exists(under(WSL_DXG)),
        "driver_store": under(WSL_DRIVER_STORE), "driver_store_files": 0, "driver_store_digest": None,
        "nvidia_driver_dirs": [], "linux_driver": linux_driver_evidence(exists),
    }
    try:
        facts["platform"], facts["evidence"] = decide_platform(platform, osrelease)
    except ValueError as exc:
        return facts, str(exc)
    nvml = os.path.join(facts["lib_dir"], "libnvidia-ml.so.1")
    facts["nvml_library"] = nvml if exists(nvml) else None
    if facts["platform"] == "wsl":
        listing = entries(facts["driver_store"])
        facts.update(driver_store_files=len(listing), driver_store_digest=driver_store_digest(listing),
                     nvidia_driver_dirs=nvidia_driver_dirs(listing))
    return facts, None


def run(module):
    """What the wsl_facts module does, as its result."""
    facts, error = gather(module.params["platform"], module.params["root"])
    if error:
        return dict(facts, failed=True, changed=False, msg=error)
    return dict(facts, changed=False, ansible_facts={"ai_system_wsl_facts": facts})
