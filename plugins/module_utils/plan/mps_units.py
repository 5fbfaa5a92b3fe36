# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CUDA MPS for a host with ``ai_gpu.sharing: mps``: one control daemon per GPU.

Pure Python, no Ansible imports. The plan (``stack_plan``) renders with these
functions the systemd unit of each GPU's MPS control daemon, the lab's
stand-in for it, and what every GPU group's container unit gets to become a
client of that daemon (environment, mounts, ordering).

The daemon is a plain systemd service, not a Quadlet container:
``nvidia-cuda-mps-control`` ships with the host's driver and must match it,
runs as root on the host, as NVIDIA documents, and starts an MPS server that
talks to the GPU directly; an image would have to carry, and follow, the
host's driver. Its pipe, log and shared-memory directories live under
``/run/ai-system/mps/<gpu>/``; the shared-memory directory is the daemon's
``/dev/shm`` (``BindPaths=``) and every client's ``/dev/shm`` (a volume), so
the clients keep their own IPC namespace and share POSIX shared memory only
with the MPS server and each other -- the arrangement of NVIDIA's Kubernetes
device plugin.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet

UNIT_PREFIX = "ai-system-mps-gpu"
UNIT_DIR = "/etc/systemd/system"
RUN_DIR = "/run/ai-system/mps"
# Inside every client container.
CONTAINER_PIPE_DIR = "/run/nvidia-mps"
CONTAINER_LOG_DIR = "/run/nvidia-mps-log"
CONTAINER_SHM_DIR = "/dev/shm"
CONTROL = "/usr/bin/nvidia-cuda-mps-control"
NVIDIA_SMI = "/usr/bin/nvidia-smi"
LAB_MARKER = "NOT MPS"

Pairs = List[Tuple[str, quadlet.Value]]


def unit_name(index: int) -> str:
    """The daemon's service for GPU ``index``, e.g. ``ai-system-mps-gpu0.service``."""
    return "%s%d.service" % (UNIT_PREFIX, index)


def directories(index: int) -> Dict[str, str]:
    """The host directories of GPU ``index``'s daemon: pipe, log and shm."""
    return {kind: "%s/%d/%s" % (RUN_DIR, index, kind) for kind in ("pipe", "log", "shm")}


def _runtime_directories(index: int) -> Pairs:
    """systemd creates the directories under /run when the unit starts and,
    with RuntimeDirectoryPreserve, keeps them when it stops or restarts, so a
    client's bind mount never points at a removed directory."""
    run = RUN_DIR[len("/run/"):]
    return [
        ("RuntimeDirectory", " ".join("%s/%d/%s" % (run, index, k) for k in ("pipe", "log", "shm"))),
        ("RuntimeDirectoryMode", "0755"),
        ("RuntimeDirectoryPreserve", "yes"),
    ]


def daemon_unit(index: int, model: str) -> str:
    """The systemd unit of the MPS control daemon of GPU ``index``."""
    dirs = directories(index)
    service: Pairs = [
        ("Type", "simple"),
        # The daemon and the servers it starts see this GPU only; clients see
        # it as their device 0.
        ("Environment", "CUDA_VISIBLE_DEVICES=%d" % index),
        ("Environment", "CUDA_MPS_PIPE_DIRECTORY=%s" % dirs["pipe"]),
        ("Environment", "CUDA_MPS_LOG_DIRECTORY=%s" % dirs["log"]),
    ]
    service.extend(_runtime_directories(index))
    service.extend([
        ("BindPaths", "%s:%s" % (dirs["shm"], CONTAINER_SHM_DIR)),
        # EXCLUSIVE_PROCESS: only one CUDA context on the GPU, the MPS
        # server's, so a process that bypasses MPS fails instead of running
        # outside every budget.
        ("ExecStartPre", "%s -i %d -c EXCLUSIVE_PROCESS" % (NVIDIA_SMI, index)),
        ("ExecStart", "%s -f" % CONTROL),
        ("ExecStop", '/bin/sh -c "echo quit | %s"' % CONTROL),
        ("ExecStopPost", "%s -i %d -c DEFAULT" % (NVIDIA_SMI, index)),
        ("Restart", "on-failure"),
        ("RestartSec", "5s"),
    ])
    return quadlet.render([
        ("Unit", [
            ("Description", "CUDA MPS control daemon for GPU %d (%s) of the AI system"
             % (index, model)),
            ("Documentation", "https://docs.nvidia.com/deploy/mps/"),
        ]),
        ("Service", service),
        ("Install", [("WantedBy", "multi-user.target")]),
    ])


def lab_unit(index: int) -> str:
    """The lab's stand-in for GPU ``index``'s daemon: it creates the same
    directories so the client units start unchanged, and says it is not MPS."""
    dirs = directories(index)
    service: Pairs = [("Type", "oneshot"), ("RemainAfterExit", "yes")]
    service.extend(_runtime_directories(index))
    service.append(("ExecStart", "/bin/echo %s: lab stand-in for the MPS control daemon of "
                    "GPU %d; it created %s and enforces no VRAM budget"
                    % (LAB_MARKER, index, ", ".join(dirs[k] for k in ("pipe", "log", "shm")))))
    return quadlet.render([
        ("Unit", [("Description", "%s: lab stand-in for the CUDA MPS control daemon of GPU %d"
                   % (LAB_MARKER, index))]),
        ("Service", service),
        ("Install", [("WantedBy", "multi-user.target")]),
    ])


def pinned_limit(vram_mib: int) -> str:
    """CUDA_MPS_PINNED_DEVICE_MEM_LIMIT of a client: its one device (0) and its
    budget in MiB, e.g. ``0=8192M``."""
    return "0=%dM" % vram_mib


def client_environment(vram_mib: int, compute_percent: Optional[int]) -> Dict[str, str]:
    """What a GPU group's container gets to be an MPS client within its budget."""
    env = {
        "CUDA_MPS_PIPE_DIRECTORY": CONTAINER_PIPE_DIR,
        "CUDA_MPS_LOG_DIRECTORY": CONTAINER_LOG_DIR,
        "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": pinned_limit(vram_mib),
    }
    if compute_percent is not None:
        env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = str(compute_percent)
    return env


def client_volumes(index: int) -> List[Tuple[str, str, str]]:
    """(host directory, container directory, options) a client mounts."""
    dirs = directories(index)
    return [
        (dirs["pipe"], CONTAINER_PIPE_DIR, ""),
        (dirs["log"], CONTAINER_LOG_DIR, "ro"),
        (dirs["shm"], CONTAINER_SHM_DIR, ""),
    ]
