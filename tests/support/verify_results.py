# -*- coding: utf-8 -*-
"""What the verify playbook gathers on a host, built from the host's plan.

:func:`healthy_host_results` gives, from the plan's own ``checks``, what each
module returns on a healthy system (in the shapes the modules document);
the other helpers break one thing the way the module would report it.
"""

from __future__ import annotations

from datetime import datetime, timezone

NOW = datetime(2026, 11, 29, 16, 15, 0, 123456, tzinfo=timezone.utc)
LAB_SKIP = "no NVIDIA driver (lab CDI device)"
DEGRADED_SAYS = "Redis unavailable, using the local cache"


def zmq_ok(endpoint):
    """zmq_check's result for an endpoint that answered healthy."""
    ok = {"name": endpoint["name"], "group": endpoint.get("group"), "address": endpoint["address"],
          "port": endpoint["port"], "kind": endpoint["kind"], "ok": True, "verdict": "healthy", "message": None,
          "stage_reached": "status", "failed_stage": None, "reason": None, "detail": None,
          "resolved_address": endpoint["address"],
          "zmtp": {"version": "3.1", "mechanism": "NULL", "as_server": False, "socket_type": "REP"},
          "rtt_ms": {"min": 0.2, "median": 0.25, "max": 0.4},
          "reply": {"status": "ok", "ready": True}, "elapsed_ms": 1.0}
    if endpoint["kind"] == "greeting":
        ok.update(stage_reached="zmtp", verdict=None, rtt_ms=None, reply=None,
                  zmtp={"version": "3.1", "mechanism": "NULL", "as_server": False, "socket_type": "PUB"})
    return ok


# The warnings of a healthy production system: its GPU groups' VRAM budgets
# hold on paper only (no CUDA MPS).
BUDGETS_NOT_ENFORCED = [
    "mainpc: CUDA in ai-models-gpu-services: VRAM budget not enforced: without CUDA MPS nothing stops this "
    "container from using more than its 16384 MiB",
    "mainpc: CUDA in language-processing: VRAM budget not enforced: without CUDA MPS nothing stops this "
    "container from using more than its 6144 MiB",
    "pc2: CUDA in pc2-ai-models: VRAM budget not enforced: without CUDA MPS nothing stops this container "
    "from using more than its 10240 MiB",
]


def budget_result(host_plan, container):
    """cuda_check's budget verdict on a healthy host: enforced with MPS, not enforced without."""
    mib = host_plan["checks"]["cuda_budgets"].get(container)
    if mib is None:
        return None
    if host_plan["checks"]["vram_enforced"]:
        return {"vram_mib": mib, "mps": True, "status": "enforced", "failed_step": None, "error": None,
                "within_mib": mib // 2, "over_mib": mib + 64,
                "reason": "VRAM budget enforced: %d MiB allocated, %d MiB refused with CUDA_ERROR_OUT_OF_MEMORY "
                          "(budget %d MiB)" % (mib // 2, mib + 64, mib)}
    return {"vram_mib": mib, "mps": False, "status": "not_enforced", "failed_step": None, "error": None,
            "within_mib": mib // 2, "over_mib": mib + 64,
            "reason": "VRAM budget not enforced: without CUDA MPS nothing stops this container from using "
                      "more than its %d MiB" % mib}


def healthy_host_results(host_plan):
    """What gpu_facts, cuda_check, unit_health, a zmq_check loop and nft_table register on a healthy host."""
    gpu = {"changed": False, "available": True, "reason": None, "driver_version": "550.120",
           "cuda_driver_version": "12.4", "gpu_count": 1,
           "gpus": [{"index": 0, "name": host_plan["gpu"]["model"], "uuid": "GPU-1",
                     "memory_total_mib": host_plan["gpu"]["memory_mib"], "memory_used_mib": 1039,
                     "memory_free_mib": host_plan["gpu"]["memory_mib"] - 1039,
                     "compute_capability": "8.9", "processes": []}],
           "vram_check": {"checked": True, "ok": True, "gpu_index": 0, "gpu_total_mib": 1,
                          "budget_sum_mib": 1, "reserve_mib": 0, "required_mib": 1, "headroom_mib": 0}}
    cuda = {"changed": False, "passed_count": len(host_plan["checks"]["cuda"]), "failed_count": 0,
            "skipped_count": 0,
            "results": [{"container": c, "status": "passed",
                         "reason": "CUDA kernel ran and every element was verified on 1 device(s)",
                         "failed_step": None, "error": None, "lab": False, "driver_version": "550.120",
                         "gpus": [{"index": 0, "name": host_plan["gpu"]["model"]}],
                         "kernel_result": {"ok": True, "mismatches": 0},
                         "budget": budget_result(host_plan, c)}
                        for c in host_plan["checks"]["cuda"]]}
    units = {"changed": False, "ok_count": len(host_plan["units"]), "failed_count": 0, "summary": [],
             "units": [{"service": u["service"], "container": u["container"], "ok": True, "problem": None,
                        "load_state": "loaded", "active_state": "active", "sub_state": "running",
                        "result": "success", "restarts": 0, "active_since": "Sun 2026-11-29 16:05:00 UTC",
                        "uptime_s": 600.0, "container_exists": True, "container_state": "running",
                        "container_started_at": "2026-11-29T16:04:58Z",
                        "health": "healthy" if u["healthcheck"] else None}
                       for u in host_plan["units"]]}
    loop = []
    containers = {}
    for entry in host_plan["checks"]["links"] + host_plan["checks"]["health"]:
        containers.setdefault(entry["container"], []).append(
            {k: entry[k] for k in ("name", "address", "port", "kind")})
    for container, endpoints in containers.items():
        loop.append({"item": {"container": container, "endpoints": endpoints}, "changed": False,
                     "failed": False, "ansible_loop_var": "item",
                     "endpoints": [zmq_ok(e) for e in endpoints], "ok_count": len(endpoints),
                     "failed_count": 0, "summary": []})
    firewall = {"changed": False, "matches": True, "present": True, "missing": [], "extra": [],
                "reason": "table inet ai_system is loaded as planned (2 chains, %d rules)"
                % (3 + 2 * len({o["port"] for o in host_plan["firewall"]})),
                "file_matches": True, "file_written": False, "loaded": False, "table": "inet ai_system",
                "path": "/etc/ai-system/firewall.nft", "rules": []}
    return {"lab": False, "gpu": gpu, "cuda": cuda, "units": units,
            "zmq": {"changed": False, "msg": "All items completed", "results": loop},
            "firewall": firewall}


def endpoint_result(results, host, container, name, kind=None):
    """(the loop entry of ``container``, the endpoint ``name`` in it)."""
    for entry in results[host]["zmq"]["results"]:
        if entry["item"]["container"] == container:
            for endpoint in entry["endpoints"]:
                if endpoint["name"] == name and (kind is None or endpoint["kind"] == kind):
                    return entry, endpoint
    raise AssertionError("no endpoint %s in %s" % (name, container))


def unit_result(results, host, service):
    return next(u for u in results[host]["units"]["units"] if u["service"] == service)


def fail_unit(unit, problem, **state):
    """unit_health's result for a unit in ``state``, judged not ok with ``problem``."""
    unit.update(state, ok=False, problem=problem)


def total_checks(plan):
    return sum(1 + len(p["checks"]["cuda"]) + len(p["units"]) + len(p["checks"]["links"])
               + len(p["checks"]["health"]) + 1 for p in plan.values())


def lab_host(results, host):
    """A lab host: no driver, every CUDA container skipped on the lab CDI device."""
    results[host]["lab"] = True
    results[host]["gpu"].update(available=False, reason="no NVIDIA driver: NVML Shared Library Not Found",
                                gpus=[], gpu_count=0, driver_version=None,
                                vram_check={"checked": False, "reason": "no GPU"})
    cuda = results[host]["cuda"]
    cuda.update(passed_count=0, skipped_count=len(cuda["results"]))
    for entry in cuda["results"]:
        entry.update(status="skipped", reason=LAB_SKIP, lab=True, gpus=[], kernel_result=None)
        if entry.get("budget"):
            entry["budget"] = dict(entry["budget"], status="skipped",
                                   reason="lab CDI device: no GPU and no MPS, the %d MiB budget is not checked"
                                   % entry["budget"]["vram_mib"])


def degrade(endpoint, message=DEGRADED_SAYS):
    """What zmq_check returns for an agent that answers but says it is degraded."""
    endpoint.update(ok=True, verdict="degraded", message=message, stage_reached="status",
                    reply={"status": "degraded", "message": message})


def degraded_health_socket(results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "MemoryOrchestratorService",
                                      "health")
    degrade(endpoint)
    return endpoint
