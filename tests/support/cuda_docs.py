# -*- coding: utf-8 -*-
"""Probe documents built the way ``cuda_probe`` builds them, and how
``podman exec`` prints them."""

from __future__ import annotations

import json

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_probe

GPU = {"index": 0, "name": "NVIDIA GeForce RTX 4090", "uuid": "GPU-4090", "memory_total_mib": 24564,
       "memory_used_mib": 1000, "memory_free_mib": 23564}


def passed_doc(gpus=1):
    doc = cuda_probe.new_result(1024)
    doc.update(status="passed", reason="CUDA kernel ran and every element was verified on %d device(s)" % gpus,
               driver_version="550.120", cuda_driver_version="12.4",
               gpus=[dict(GPU, index=i) for i in range(gpus)],
               steps=[{"step": "cuInit", "ok": True, "ms": 40.0, "error": None}])
    doc["kernel_result"].update(ok=True, devices_tested=gpus)
    return doc


def failed_doc(step="cuCtxCreate_v2 on device 0", error="CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"):
    doc = cuda_probe.new_result(1024)
    doc.update(status="failed", failed_step=step, error=error, reason="%s failed: %s" % (step, error))
    return doc


def skipped_doc(lab=False):
    doc = cuda_probe.new_result(1024)
    doc.update(status="skipped", lab=lab, reason=cuda_probe.REASON_LAB if lab else cuda_probe.REASON_NO_DRIVER,
               error="libcuda.so.1: cannot open shared object file")
    return doc


def out(doc):
    """The probe's stdout with ``--compact``."""
    return json.dumps(doc, separators=(",", ":")) + "\n"


def with_budget(doc, mib, mps, status, reason="", failed_step=None, error=None):
    """``doc`` with the probe's ``budget`` verdict for a ``mib`` MiB budget."""
    budget = cuda_probe.new_budget(mib, mps)
    budget.update(status=status, reason=reason or "budget %s" % status, failed_step=failed_step, error=error)
    doc["budget"] = budget
    return doc
