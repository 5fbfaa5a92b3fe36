# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification report, judged against the production inventory's real plan.

``healthy_results`` builds, from the plan's own ``checks``, what each module
returns on a healthy system (in the shapes the modules document); each test
breaks one thing and reads the verdict, the text table and the Markdown.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils import stack_report as sr
from ansible_collections.ai_system.containers.plugins.module_utils.stack_plan import build_plan

NOW = datetime(2026, 11, 29, 16, 15, 0, 123456, tzinfo=timezone.utc)
LAB_SKIP = "no NVIDIA driver (lab CDI device)"


@pytest.fixture
def plan(production):
    result = build_plan(production)
    assert result["ok"], result["errors"]
    return result["hosts"]


def zmq_ok(endpoint):
    ok = {"name": endpoint["name"], "group": endpoint.get("group"), "address": endpoint["address"],
          "port": endpoint["port"], "kind": endpoint["kind"], "ok": True, "stage_reached": "status",
          "failed_stage": None, "reason": None, "detail": None, "resolved_address": endpoint["address"],
          "zmtp": {"version": "3.1", "mechanism": "NULL", "as_server": False, "socket_type": "REP"},
          "rtt_ms": {"min": 0.2, "median": 0.25, "max": 0.4},
          "reply": {"status": "ok", "ready": True}, "elapsed_ms": 1.0}
    if endpoint["kind"] == "greeting":
        ok.update(stage_reached="zmtp", rtt_ms=None, reply=None,
                  zmtp={"version": "3.1", "mechanism": "NULL", "as_server": False, "socket_type": "PUB"})
    return ok


def healthy_host_results(host_plan):
    """What gpu_facts, cuda_check, unit_health and a zmq_check loop register on a healthy host."""
    gpu = {"changed": False, "available": True, "reason": None, "driver_version": "550.120",
           "cuda_driver_version": "12.4", "gpu_count": 1,
           "gpus": [{"index": 0, "name": host_plan["gpu"]["model"], "uuid": "GPU-1",
                     "memory_total_mib": host_plan["gpu"]["memory_mib"], "memory_used_mib": 1039,
                     "memory_free_mib": host_plan["gpu"]["memory_mib"] - 1039,
                     "compute_capability": "8.9", "processes": []}],
           "vram_check": {"checked": True, "ok": True, "gpu_index": 0, "gpu_total_mib": 1,
                          "budget_sum_mib": 1, "reserve_mib": 0, "required_mib": 1, "headroom_mib": 0}}
    cuda = {"changed": False, "passed": len(host_plan["checks"]["cuda"]), "failed": 0, "skipped": 0,
            "results": [{"container": c, "status": "passed",
                         "reason": "CUDA kernel ran and every element was verified on 1 device(s)",
                         "failed_step": None, "error": None, "lab": False, "driver_version": "550.120",
                         "gpus": [{"index": 0, "name": host_plan["gpu"]["model"]}],
                         "kernel_result": {"ok": True, "mismatches": 0}}
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
    return {"lab": False, "gpu": gpu, "cuda": cuda, "units": units,
            "zmq": {"changed": False, "msg": "All items completed", "results": loop}}


@pytest.fixture
def results(plan):
    return {name: healthy_host_results(host_plan) for name, host_plan in plan.items()}


def endpoint_result(results, host, container, name, kind=None):
    for entry in results[host]["zmq"]["results"]:
        if entry["item"]["container"] == container:
            for endpoint in entry["endpoints"]:
                if endpoint["name"] == name and (kind is None or endpoint["kind"] == kind):
                    return entry, endpoint
    raise AssertionError("no endpoint %s in %s" % (name, container))


def total_checks(plan):
    return sum(1 + len(p["checks"]["cuda"]) + len(p["units"]) + len(p["checks"]["links"])
               + len(p["checks"]["health"]) for p in plan.values())


# --------------------------------------------------------------------------
# Shape of a report
# --------------------------------------------------------------------------

def test_healthy_system_passes_every_check(plan, results):
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["complete"] is True
    assert report["generated_at"] == "2026-11-29T16:15:00Z"
    assert report["counts"] == {"passed": total_checks(plan), "degraded": 0, "failed": 0, "skipped": 0}
    assert report["problems"] == [] and report["skipped"] == [] and report["warnings"] == []
    assert report["checks"]["units"]["passed"] == sum(len(p["units"]) for p in plan.values())
    assert report["checks"]["cuda"]["passed"] == 3
    assert report["checks"]["gpu"]["passed"] == 2
    assert report["checks"]["links"]["passed"] == sum(len(p["checks"]["links"]) for p in plan.values())
    assert set(report["hosts"]) == {"mainpc", "pc2"}
    pc2 = report["hosts"]["pc2"]
    assert pc2["verified"] is True and pc2["status"] == "passed"
    assert list(pc2["groups"]) == plan["pc2"]["start_order"]
    assert pc2["groups"]["pc2-ai-models"]["cuda"] == "passed"
    assert pc2["groups"]["pc2-redis"]["health"] == "healthy"
    assert pc2["gpu"]["reason"] == ("NVIDIA GeForce RTX 3060, driver 550.120, CUDA 12.4, "
                                    "1039/12288 MiB used")
    json.dumps(report)  # plain data


def test_zmq_results_given_per_container_read_the_same(plan, results):
    by_loop = sr.build_report(plan, results, now=NOW)
    for host in results.values():
        host["zmq"] = {e["item"]["container"]: e for e in host["zmq"]["results"]}
    by_container = sr.build_report(plan, results, now=NOW)
    assert by_loop == by_container


def test_text_table_for_the_terminal(plan, results):
    lines = sr.render_text(sr.build_report(plan, results, now=NOW))
    assert lines[0] == ("AI system verification 2026-11-29T16:15:00Z -- PASSED: %d passed, 0 failed, "
                        "0 skipped" % total_checks(plan))
    assert "mainpc (192.168.100.16): PASSED" in lines
    header = next(line for line in lines if line.strip().startswith("GROUP"))
    assert header.split() == ["GROUP", "UNIT", "HEALTH", "RESTARTS", "CUDA", "LINKS", "SOCKETS", "RESULT"]
    row = next(line for line in lines if line.strip().startswith("pc2-ai-models "))
    assert row.split() == ["pc2-ai-models", "active/running", "healthy", "0", "passed", "1/1", "5/5",
                           "passed"]
    assert any("-> mainpc/SystemDigitalTwin 192.168.100.16:7120  0.25 ms" in line for line in lines)


def test_markdown_has_tables_and_a_mermaid_flowchart(plan, results):
    report = sr.build_report(plan, results, now=NOW)
    md = sr.render_markdown(report)
    assert md.startswith("# AI system verification: PASSED\n")
    assert "| Host | Verified | GPU | CUDA | Units | Links | Health sockets | Result |" in md
    assert "| pc2 | yes | 1/1 | 1/1 | 6/6 | 5/5 | 27/27 | passed |" in md
    mermaid = md.split("```mermaid\n", 1)[1].split("```", 1)[0].splitlines()
    assert mermaid[0] == "flowchart LR"
    assert sum(1 for line in mermaid if line.strip().startswith("subgraph ")) == 2
    assert '  subgraph h1["pc2 192.168.100.17"]' in mermaid
    nodes = [line for line in mermaid if re.match(r'^    n\d+\["', line)]
    assert len(nodes) == sum(len(p["units"]) for p in plan.values())
    edges = [line for line in mermaid if "-->" in line or "-.->" in line]
    assert len(edges) == sum(len(p["checks"]["links"]) for p in plan.values())
    assert all("-->|" in e for e in edges)
    # pc2-memory-system -> mainpc core-services, labelled with the agent and its RTT
    ids = {re.search(r'(n\d+)\["([^"<]+)', n).group(2): re.search(r'(n\d+)', n).group(1) for n in nodes}
    assert '  %s -->|"SystemDigitalTwin 0.25 ms"| %s' % (ids["pc2-memory-system"], ids["core-services"]) \
        in mermaid
    assert '  %s -->|"ErrorBusService ZMTP"| %s' % (ids["core-services"], ids["pc2-core-infrastructure"]) \
        in mermaid
    assert "  classDef passed fill:#dcfce7,stroke:#16a34a,color:#14532d" in mermaid
    assert "### Links" in md and "### Health sockets" in md and "### CUDA" in md


# --------------------------------------------------------------------------
# Broken links
# --------------------------------------------------------------------------

def test_broken_link_is_named_with_its_failing_stage(plan, results):
    entry, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin")
    endpoint.update(ok=False, stage_reached="resolve", failed_stage="tcp", reason="connection refused",
                    rtt_ms=None, reply=None, zmtp=None)
    entry["failed_count"] = 1
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is False
    assert report["problems"] == [
        "pc2: link pc2-memory-system -> mainpc/core-services SystemDigitalTwin 192.168.100.16:7120 (main): "
        "tcp failed: connection refused"]
    assert report["counts"]["failed"] == 1
    host = report["hosts"]["pc2"]
    assert host["status"] == "failed"
    assert host["groups"]["pc2-memory-system"]["status"] == "failed"
    assert host["groups"]["pc2-memory-system"]["links"] == {"passed": 0, "degraded": 0, "failed": 1, "skipped": 0}
    link = next(i for i in host["links"] if i["from_group"] == "pc2-memory-system")
    assert (link["status"], link["failed_stage"], link["reason"]) == ("failed", "tcp", "connection refused")

    md = sr.render_markdown(report)
    assert md.startswith("# AI system verification: FAILED\n")
    assert "## Problems\n\n- pc2: link pc2-memory-system -> mainpc/core-services" in md
    broken = [line for line in md.splitlines() if '-.->|"broken' in line]
    assert len(broken) == 1
    assert re.match(r'^  n\d+ -\.->\|"broken SystemDigitalTwin tcp: connection refused"\| n\d+$', broken[0])
    index = [line for line in md.split("```mermaid\n")[1].splitlines()
             if "-->" in line or "-.->" in line].index(broken[0])
    assert "  linkStyle %d stroke:#dc2626,stroke-width:2px,color:#dc2626" % index in md
    assert "| pc2-memory-system | SystemDigitalTwin | mainpc/core-services | 192.168.100.16:7120 | main " \
        "| **FAILED** | - | tcp | connection refused |" in md
    text = sr.render_text(report)
    assert "  broken links: 1" in text
    assert text[-1] == "  - " + report["problems"][0]


def test_detail_and_status_stage_are_reported(plan, results):
    dummy, endpoint = endpoint_result(results, "mainpc", "core-services", "SystemDigitalTwin", "health")
    endpoint.update(ok=False, failed_stage="status", reason="status not ok: initializing: Loading model",
                    detail="reply | partial")
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "mainpc: health socket core-services/SystemDigitalTwin 127.0.0.1:8120 (health): status failed: "
        "status not ok: initializing: Loading model (reply | partial)"]
    md = sr.render_markdown(report)
    assert "status not ok: initializing: Loading model (reply \\| partial)" in md


def test_zmq_checks_that_cannot_run_in_a_container_share_one_line(plan, results):
    loop = results["mainpc"]["zmq"]["results"]
    entry = next(e for e in loop if e["item"]["container"] == "utility-services")
    for key in ("endpoints", "ok_count", "failed_count", "summary"):
        del entry[key]
    entry.update(failed=False, failed_when_result=False,
                 msg="could not run the ZMQ checks inside container utility-services (rc=125): Error: "
                     "no container with name or ID \"utility-services\" found: no such container")
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "mainpc: could not run the ZMQ checks inside container utility-services (rc=125): Error: no "
        "container with name or ID \"utility-services\" found: no such container (6 links, 4 health sockets)"]
    links = [i for i in report["hosts"]["mainpc"]["links"] if i["container"] == "utility-services"]
    assert {(i["status"], i["failed_stage"]) for i in links} == {("failed", "container")}
    mermaid = sr.render_markdown(report)
    assert mermaid.count('-.->|"broken ') == 6
    assert '-.->|"broken AsyncProcessor container: could not run the ZMQ checks inside container ' \
        'utility-services rc=125 : Error: no container' in mermaid


def test_zmq_message_without_the_container_name_gets_it(plan, results):
    entry = next(e for e in results["pc2"]["zmq"]["results"]
                 if e["item"]["container"] == "pc2-ai-monitoring")
    entry.clear()
    entry.update(item={"container": "pc2-ai-monitoring"}, msg="MODULE FAILURE",
                 module_stderr="Traceback\nboom\n")
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: ZMQ checks could not run in container pc2-ai-monitoring: MODULE FAILURE (boom) "
        "(1 link, 4 health sockets)"]


def test_container_missing_from_the_loop_and_endpoint_missing_from_a_result(plan, results):
    loop = results["pc2"]["zmq"]["results"]
    loop[:] = [e for e in loop if e["item"]["container"] != "pc2-ai-monitoring"]
    entry = next(e for e in loop if e["item"]["container"] == "pc2-user-services")
    entry["endpoints"] = [e for e in entry["endpoints"] if e["name"] != "SystemDigitalTwin"]
    report = sr.build_report(plan, results, now=NOW)
    assert "pc2: link pc2-user-services -> mainpc/core-services SystemDigitalTwin 192.168.100.16:7120 " \
        "(main): container failed: zmq_check returned no result for this endpoint" in report["problems"]
    assert "pc2: link pc2-ai-monitoring -> mainpc/core-services SystemDigitalTwin 192.168.100.16:7120 " \
        "(main): container failed: no ZMQ check ran in container pc2-ai-monitoring" in report["problems"]


# --------------------------------------------------------------------------
# Skipped is never passed
# --------------------------------------------------------------------------

def lab_host(results, host):
    results[host]["lab"] = True
    results[host]["gpu"].update(available=False, reason="no NVIDIA driver: NVML Shared Library Not Found",
                                gpus=[], gpu_count=0, driver_version=None,
                                vram_check={"checked": False, "reason": "no GPU"})
    cuda = results[host]["cuda"]
    cuda.update(passed=0, skipped=len(cuda["results"]))
    for entry in cuda["results"]:
        entry.update(status="skipped", reason=LAB_SKIP, lab=True, gpus=[], kernel_result=None)


def test_skipped_cuda_checks_show_as_skipped_with_the_reason(plan, results):
    lab_host(results, "pc2")
    report = sr.build_report(plan, results, now=NOW)
    cuda = report["hosts"]["pc2"]["cuda"]
    assert [(c["container"], c["status"], c["reason"]) for c in cuda] == [
        ("pc2-ai-models", "skipped", LAB_SKIP)]
    assert report["checks"]["cuda"] == {"passed": 2, "degraded": 0, "failed": 0, "skipped": 1}
    assert report["checks"]["gpu"] == {"passed": 1, "degraded": 0, "failed": 0, "skipped": 1}
    assert report["ok"] is True and report["complete"] is False
    assert report["skipped"] == [
        "pc2: GPU: SKIPPED: lab host: no NVIDIA driver: NVML Shared Library Not Found",
        "pc2: CUDA in pc2-ai-models: SKIPPED: " + LAB_SKIP]
    group = report["hosts"]["pc2"]["groups"]["pc2-ai-models"]
    assert group["cuda"] == "skipped" and group["status"] == "skipped"
    assert report["hosts"]["pc2"]["status"] == "skipped"

    text = sr.render_text(report)
    assert text[0].endswith("PASSED with skipped checks: %d passed, 0 failed, 2 skipped"
                            % (total_checks(plan) - 2))
    assert "pc2 (192.168.100.17): SKIPPED (lab)" in text
    assert "  - pc2: CUDA in pc2-ai-models: SKIPPED: " + LAB_SKIP in text
    row = next(line for line in text if line.strip().startswith("pc2-ai-models "))
    assert row.split()[4] == "skipped" and "passed" not in row.split()[4:5]

    md = sr.render_markdown(report)
    assert "| pc2-ai-models | SKIPPED | - | 550.120 | %s |" % LAB_SKIP in md
    assert "| pc2-ai-models | ai-pc2-ai-models.service | active/running | healthy | 0 | " \
        "Sun 2026-11-29 16:05:00 UTC | SKIPPED | 1/1 | 5/5 | SKIPPED |" in md
    assert "## Skipped" in md
    assert "| pc2 | yes | skipped | skipped |" in md


def test_cuda_passed_without_a_verified_kernel_fails(plan, results):
    results["mainpc"]["cuda"]["results"][0]["kernel_result"] = {"ok": False, "mismatches": 12}
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == ["mainpc: CUDA in ai-models-gpu-services: reported passed, but the "
                                  "kernel result was not verified"]


def test_cuda_failure_names_step_and_error(plan, results):
    results["pc2"]["cuda"]["results"][0].update(
        status="failed", reason="CUDA failed", failed_step="cuCtxCreate_v2 on device 0",
        error="CUDA_ERROR_OUT_OF_MEMORY (2): out of memory")
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == ["pc2: CUDA in pc2-ai-models: failed at cuCtxCreate_v2 on device 0: "
                                  "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"]


@pytest.mark.parametrize("change, expected", [
    ({"status": "failed", "failed_step": None, "reason": "podman exec timed out"}, "podman exec timed out"),
    ({"status": "weird"}, "cuda_check reported an unknown status 'weird'"),
])
def test_cuda_other_outcomes(plan, results, change, expected):
    results["pc2"]["cuda"]["results"][0].update(change)
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == ["pc2: CUDA in pc2-ai-models: " + expected]


def test_cuda_result_with_a_skipped_count_is_still_read(plan, results):
    # cuda_check's own `skipped` is a count, not Ansible's skipped flag.
    lab_host(results, "pc2")
    assert results["pc2"]["cuda"]["skipped"] == 1
    report = sr.build_report(plan, results, now=NOW)
    assert report["hosts"]["pc2"]["cuda"][0]["reason"] == LAB_SKIP


def test_fail_on_skip_turns_skips_into_problems(plan, results):
    lab_host(results, "pc2")
    report = sr.build_report(plan, results, now=NOW, fail_on_skip=True)
    assert report["ok"] is False
    assert report["problems"] == [line + " (skipped checks count as problems)" for line in report["skipped"]]


def test_phases_that_did_not_run_are_skipped_once_per_phase(plan, results):
    results["mainpc"]["zmq"] = None
    del results["mainpc"]["units"]
    results["mainpc"]["cuda"] = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False",
                                 "false_condition": "x"}
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is True
    assert report["skipped"] == [
        "mainpc: CUDA: not checked in this run (2 CUDA checks)",
        "mainpc: units: not checked in this run (%d units)" % len(plan["mainpc"]["units"]),
        "mainpc: links: not checked in this run (9 links)",
        "mainpc: health sockets: not checked in this run (48 health sockets)",
    ]
    assert all(i["status"] == "skipped" for i in report["hosts"]["mainpc"]["links"])
    md = sr.render_markdown(report)
    assert md.count('-.->|"not checked ') == 9
    assert "linkStyle" in md and "stroke:#ca8a04" in md


def test_skipped_zmq_loop_is_not_checked(plan, results):
    results["pc2"]["zmq"] = {"changed": False, "skipped": True, "skipped_reason": "No items in the list",
                             "results": []}
    report = sr.build_report(plan, results, now=NOW)
    assert "pc2: links: not checked in this run (5 links)" in report["skipped"]


# --------------------------------------------------------------------------
# GPU
# --------------------------------------------------------------------------

def test_gpu_without_driver_fails_on_a_production_host(plan, results):
    results["mainpc"]["gpu"].update(available=False, gpus=[],
                                    reason="no NVIDIA driver: NVML Shared Library Not Found")
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == ["mainpc: GPU: no NVIDIA driver: NVML Shared Library Not Found"]


def test_gpu_model_and_vram_are_checked(plan, results):
    results["mainpc"]["gpu"]["gpus"][0]["name"] = "NVIDIA GeForce RTX 3090"
    results["mainpc"]["gpu"]["vram_check"] = {
        "checked": True, "ok": False, "gpu_index": 0, "gpu_total_mib": 24564, "budget_sum_mib": 22528,
        "reserve_mib": 4096, "required_mib": 26624, "headroom_mib": -2060}
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "mainpc: GPU: expected NVIDIA GeForce RTX 4090, found NVIDIA GeForce RTX 3090; VRAM budgets need "
        "26624 MiB (budgets 22528 + reserve 4096), GPU 0 has 24564 MiB"]


def test_gpu_facts_that_did_not_run(plan, results):
    results["pc2"]["gpu"] = {"changed": False, "failed_when_result": False,
                             "msg": "MODULE FAILURE\nSee stdout/stderr for the exact error",
                             "module_stderr": "/bin/sh: 1: /usr/bin/python3: not found\n"}
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: GPU: gpu_facts did not run: MODULE FAILURE (/bin/sh: 1: /usr/bin/python3: not found)"]


def test_host_without_a_gpu_has_no_gpu_check(plan, results):
    for unit in plan["pc2"]["units"]:
        unit["gpu"] = False
    plan["pc2"]["gpu"] = {"required": False, "model": None, "memory_mib": None, "cdi_devices": [],
                          "vram_budgets": {}}
    plan["pc2"]["checks"]["cuda"] = []
    report = sr.build_report(plan, results, now=NOW)
    assert report["hosts"]["pc2"]["gpu"] is None
    assert report["hosts"]["pc2"]["cuda"] == []
    assert report["ok"] is True


# --------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------

def test_unit_problems_and_restart_notes(plan, results):
    units = {u["service"]: u for u in results["pc2"]["units"]["units"]}
    units["ai-pc2-redis.service"].update(active_state="failed", sub_state="failed", result="exit-code",
                                         restarts=5)
    units["ai-pc2-memory-system.service"].update(restarts=2)
    # the plan gives pc2-core-infrastructure a health check
    units["ai-pc2-core-infrastructure.service"].update(health=None)
    report = sr.build_report(plan, results, now=NOW)
    # In the plan's order of the units.
    assert report["problems"] == [
        "pc2: unit ai-pc2-redis.service: unit is failed (failed), result exit-code, restarted 5 times",
        "pc2: unit ai-pc2-core-infrastructure.service: container pc2-core-infrastructure has no health "
        "check, but its unit defines one",
    ]
    assert report["warnings"] == [
        "pc2: unit ai-pc2-redis.service was restarted 5 times by systemd",
        "pc2: unit ai-pc2-memory-system.service was restarted 2 times by systemd",
    ]
    md = sr.render_markdown(report)
    assert "## Warnings" in md
    assert "- `ai-pc2-redis.service`: **FAILED** unit is failed (failed), result exit-code, restarted 5 times" \
        in md


def test_unit_health_that_did_not_run_is_one_line(plan, results):
    results["pc2"]["units"] = {"changed": False, "failed_when_result": False,
                               "msg": "systemctl show failed (rc=1): System has not been booted with systemd"}
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: unit_health did not run: systemctl show failed (rc=1): System has not been booted with "
        "systemd (6 units)"]
    assert report["checks"]["units"]["failed"] == 6


def test_unit_missing_from_the_result(plan, results):
    results["pc2"]["units"]["units"].pop()
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: unit ai-pc2-user-services.service: unit_health returned no result for this unit"]


def test_cuda_check_that_did_not_run(plan, results):
    results["mainpc"]["cuda"] = {"changed": False, "results": [], "msg": "podman not found in PATH"}
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == ["mainpc: cuda_check did not run: podman not found in PATH (2 CUDA checks)"]


# --------------------------------------------------------------------------
# Hosts
# --------------------------------------------------------------------------

def test_unreachable_host_is_not_verified(plan, results):
    del results["pc2"]
    report = sr.build_report(plan, results, hosts=["mainpc", "pc2"], now=NOW)
    assert report["problems"] == [
        "pc2: not verified: no results: unreachable, or failed before its checks ran "
        "(1 GPU check, 1 CUDA check, 6 units, 5 links, 27 health sockets)"]
    host = report["hosts"]["pc2"]
    assert host["verified"] is False and host["status"] == "failed"
    assert all(i["status"] == "failed" for i in host["links"] + host["units"])
    md = sr.render_markdown(report)
    assert '["pc2 192.168.100.17 not verified"]' in md
    assert '-.->|"broken SystemDigitalTwin not verified"|' in md
    assert "Not verified: no results" in md
    assert "pc2 (192.168.100.17): FAILED -- " + sr.NOT_VERIFIED in sr.render_text(report)


def test_limited_run_reports_the_other_host_as_not_part_of_it(plan, results):
    report = sr.build_report(plan, {"mainpc": results["mainpc"]}, hosts=["mainpc"], now=NOW)
    assert list(report["hosts"]) == ["mainpc"]
    assert report["skipped"] == ["pc2: not part of this run"]
    assert report["ok"] is True and report["complete"] is False
    md = sr.render_markdown(report)
    assert '["pc2 192.168.100.17 not part of this run"]' in md
    # mainpc's links to pc2 are still drawn, to pc2's group nodes
    assert md.count('-->|"') == len(plan["mainpc"]["checks"]["links"])


def test_host_outside_the_plan_is_a_problem(plan, results):
    report = sr.build_report(plan, results, hosts=["mainpc", "pc2", "pc3"], now=NOW)
    assert report["problems"] == ["pc3: not in the plan (not an AI host of the inventory)"]


# --------------------------------------------------------------------------
# Presentation details and files
# --------------------------------------------------------------------------

def test_mermaid_text_cannot_break_the_diagram():
    text = sr._mermaid_text('a "quoted" (x) | y; z <b> ..-> end # 1.5-2')
    assert text == "a quoted x y z b - end 1.5-2"
    assert '"' not in text and "|" not in text and ".-" not in text


def test_markdown_cells_escape_pipes_and_line_breaks():
    assert sr._md("a | b\nc") == "a \\| b c"
    assert sr._md(None) == "-" and sr._md(0) == "0"


def test_report_files_are_named_by_utc_time(plan, results, tmp_path):
    report = sr.build_report(plan, results, now=NOW)
    md = sr.render_markdown(report)
    paths = sr.write_report(str(tmp_path / "reports"), report, md)
    assert paths == {
        "json": str(tmp_path / "reports" / "verify-20261129T161500Z.json"),
        "markdown": str(tmp_path / "reports" / "verify-20261129T161500Z.md"),
        "latest_json": str(tmp_path / "reports" / "latest.json"),
        "latest_markdown": str(tmp_path / "reports" / "latest.md"),
    }
    assert json.loads((tmp_path / "reports" / "latest.json").read_text()) == json.loads(
        json.dumps(report))
    assert (tmp_path / "reports" / "verify-20261129T161500Z.md").read_text() == md
    assert (tmp_path / "reports" / "latest.md").read_text() == md
    again = sr.write_report(str(tmp_path / "reports"), report, md)
    assert again["json"].endswith("verify-20261129T161500Z-2.json")
    assert again["markdown"].endswith("verify-20261129T161500Z-2.md")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "latest.json", "latest.md", "verify-20261129T161500Z-2.json", "verify-20261129T161500Z-2.md",
        "verify-20261129T161500Z.json", "verify-20261129T161500Z.md"]


def test_naive_time_is_taken_as_utc(plan, results):
    report = sr.build_report(plan, results, now=datetime(2026, 1, 2, 3, 4, 5))
    assert report["generated_at"] == "2026-01-02T03:04:05Z"


def test_report_does_not_change_its_inputs(plan, results):
    before_plan, before_results = copy.deepcopy(plan), copy.deepcopy(results)
    sr.build_report(plan, results, now=NOW)
    assert plan == before_plan and results == before_results


# --------------------------------------------------------------------------
# Degraded agents, reachable links and the agents' own words
# --------------------------------------------------------------------------

DEGRADED_SAYS = "Redis unavailable, using the local cache"
MOS_ERROR = "'MemoryOrchestratorService' object has no attribute 'error_bus_pub'"


def degrade(endpoint, message=DEGRADED_SAYS):
    """What zmq_check returns for an agent that answers but says it is degraded."""
    endpoint.update(ok=True, verdict="degraded", message=message, stage_reached="status",
                    reply={"status": "degraded", "message": message})


def degraded_health_socket(results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "MemoryOrchestratorService",
                                      "health")
    degrade(endpoint)
    return endpoint


def test_degraded_health_socket_is_degraded_not_failed(plan, results):
    degraded_health_socket(results)
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["complete"] is True
    assert report["problems"] == [] and report["skipped"] == []
    assert report["counts"] == {"passed": total_checks(plan) - 1, "degraded": 1, "failed": 0, "skipped": 0}
    assert report["checks"]["health"]["degraded"] == 1
    assert report["degraded"] == [
        "pc2: health socket pc2-memory-system/MemoryOrchestratorService 127.0.0.1:7141 (health): DEGRADED: "
        "status degraded: " + DEGRADED_SAYS]
    assert report["degraded_agents"] == ["pc2/MemoryOrchestratorService"]
    host = report["hosts"]["pc2"]
    assert host["status"] == "degraded" and host["counts"]["degraded"] == 1
    group = host["groups"]["pc2-memory-system"]
    assert group["status"] == "degraded"
    assert group["health_sockets"] == {"passed": 4, "degraded": 1, "failed": 0, "skipped": 0}
    assert group["degraded_agents"] == ["MemoryOrchestratorService"]
    item = next(i for i in host["health"] if i["name"] == "MemoryOrchestratorService")
    assert (item["status"], item["verdict"], item["message"], item["reason"], item["failed_stage"]) == (
        "degraded", "degraded", DEGRADED_SAYS, "status degraded: " + DEGRADED_SAYS, None)

    verdict = "PASSED with degraded agents: %d passed, 1 degraded (pc2/MemoryOrchestratorService), " \
        "0 failed, 0 skipped" % (total_checks(plan) - 1)
    assert sr.verdict(report) == verdict
    text = sr.render_text(report)
    assert text[0] == "AI system verification 2026-11-29T16:15:00Z -- " + verdict
    assert "pc2 (192.168.100.17): DEGRADED" in text
    row = next(line for line in text if line.strip().startswith("pc2-memory-system "))
    assert row.split()[-4:] == ["4/5,", "1", "degraded", "degraded"]
    assert text[-2:] == ["Degraded (1):", "  - " + report["degraded"][0]]


def test_degraded_link_names_the_agent_where_it_runs(plan, results):
    dummy, endpoint = endpoint_result(results, "mainpc", "memory-system", "MemoryOrchestratorService", "main")
    degrade(endpoint)
    degraded_health_socket(results)
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is True
    assert report["counts"]["degraded"] == 2
    assert report["checks"]["links"]["degraded"] == 1 and report["checks"]["health"]["degraded"] == 1
    # One agent, seen degraded from its own container and over the link.
    assert report["degraded_agents"] == ["pc2/MemoryOrchestratorService"]
    assert "2 degraded (pc2/MemoryOrchestratorService)" in sr.verdict(report)
    link = next(i for i in report["hosts"]["mainpc"]["links"] if i["name"] == "MemoryOrchestratorService")
    assert (link["status"], link["reason"]) == ("degraded", "status degraded: " + DEGRADED_SAYS)
    assert report["degraded"][0] == (
        "mainpc: link memory-system -> pc2/pc2-memory-system MemoryOrchestratorService 192.168.100.17:7140 "
        "(main): DEGRADED: status degraded: " + DEGRADED_SAYS)
    assert report["hosts"]["mainpc"]["groups"]["memory-system"]["status"] == "degraded"

    text = sr.render_text(report)
    assert any("-> pc2/MemoryOrchestratorService 192.168.100.17:7140  0.25 ms, degraded: " + DEGRADED_SAYS
               in line for line in text)
    assert "  links to degraded agents: 1" in text

    md = sr.render_markdown(report)
    edges = [line for line in md.split("```mermaid\n")[1].split("```")[0].splitlines()
             if "-->" in line or "-.->" in line]
    degraded = [line for line in edges if "degraded" in line]
    assert len(degraded) == 1
    assert re.match(r'^  n\d+ -->\|"MemoryOrchestratorService 0\.25 ms degraded"\| n\d+$', degraded[0])
    assert "  linkStyle %d stroke:#ea580c,stroke-width:2px,color:#c2410c" % edges.index(degraded[0]) in md
    assert "| memory-system | MemoryOrchestratorService | pc2/pc2-memory-system | 192.168.100.17:7140 | main " \
        "| DEGRADED | 0.25 ms | - | status degraded: %s |" % DEGRADED_SAYS in md


def test_reachable_link_passes_and_shows_the_reply(plan, results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin", "main")
    endpoint.update(ok=True, verdict="reachable", message="Unknown action: health_check",
                    stage_reached="reply", rtt_ms={"min": 0.3, "median": 0.41, "max": 0.5},
                    reply={"status": "error", "error": "Unknown action: health_check"})
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["counts"]["degraded"] == 0 and report["degraded"] == []
    link = next(i for i in report["hosts"]["pc2"]["links"] if i["from_group"] == "pc2-memory-system")
    assert (link["status"], link["verdict"], link["reply_status"]) == ("passed", "reachable", "error")
    assert link["reason"] == "reachable, rtt median 0.41 ms, replied: Unknown action: health_check"
    assert sr.verdict(report).startswith("PASSED: ")

    text = sr.render_text(report)
    line = next(t for t in text if t.strip().startswith("pc2-memory-system ") and "->" in t)
    assert line.endswith("-> mainpc/SystemDigitalTwin 192.168.100.16:7120  "
                         "0.41 ms, replied: Unknown action: health_check")

    md = sr.render_markdown(report)
    assert "| pc2-memory-system | SystemDigitalTwin | mainpc/core-services | 192.168.100.16:7120 | main " \
        "| passed | 0.41 ms | - | replied: Unknown action: health_check |" in md
    assert re.search(r'\n  n\d+ -->\|"SystemDigitalTwin 0\.41 ms reachable"\| n\d+\n', md)


def test_failing_agent_quotes_its_own_message(plan, results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "MemoryOrchestratorService",
                                      "health")
    endpoint.update(ok=False, verdict="failing", message=MOS_ERROR, failed_stage="status",
                    reason='status "error": ' + MOS_ERROR, detail="healthy: ok, healthy; degraded: degraded",
                    reply={"status": "error", "error": MOS_ERROR})
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is False and report["counts"]["degraded"] == 0
    assert report["problems"] == [
        "pc2: health socket pc2-memory-system/MemoryOrchestratorService 127.0.0.1:7141 (health): status "
        "failed: status \"error\": %s (healthy: ok, healthy; degraded: degraded)" % MOS_ERROR]
    item = next(i for i in report["hosts"]["pc2"]["health"] if i["name"] == "MemoryOrchestratorService")
    assert (item["status"], item["verdict"], item["message"]) == ("failed", "failing", MOS_ERROR)
    assert "| MemoryOrchestratorService | 7141 | **FAILED** | 0.25 ms | status | status \"error\": %s " \
        "(healthy: ok, healthy; degraded: degraded) |" % MOS_ERROR in sr.render_markdown(report)


def test_failure_whose_reason_lacks_the_message_gets_it(plan, results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "CacheManager", "health")
    endpoint.update(ok=False, verdict="failing", message="cache warming", failed_stage="reply",
                    reason="wrong reply: missing keys: status", detail=None, reply={"error": "cache warming"})
    report = sr.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: health socket pc2-memory-system/CacheManager 127.0.0.1:8102 (health): reply failed: wrong reply: "
        "missing keys: status; replied: cache warming"]


def test_fail_on_degraded_turns_degraded_agents_into_problems(plan, results):
    degraded_health_socket(results)
    report = sr.build_report(plan, results, now=NOW, fail_on_degraded=True)
    assert report["ok"] is False and report["fail_on_degraded"] is True
    assert report["problems"] == [line + " (degraded agents count as problems)" for line in report["degraded"]]
    assert len(report["problems"]) == 1 and "status degraded: " + DEGRADED_SAYS in report["problems"][0]
    assert sr.verdict(report) == (
        "FAILED: %d passed, 1 degraded (pc2/MemoryOrchestratorService), 0 failed, 0 skipped"
        % (total_checks(plan) - 1))
    assert sr.render_markdown(report).startswith("# AI system verification: FAILED\n")
    assert sr.build_report(plan, results, now=NOW)["fail_on_degraded"] is False


def test_verdict_with_degraded_agents_and_skipped_checks(plan, results):
    degraded_health_socket(results)
    lab_host(results, "pc2")
    report = sr.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["complete"] is False
    assert sr.verdict(report) == (
        "PASSED with degraded agents and skipped checks: %d passed, 1 degraded "
        "(pc2/MemoryOrchestratorService), 0 failed, 2 skipped" % (total_checks(plan) - 3))
    # Degraded is worse than skipped for the host and the groups.
    assert report["hosts"]["pc2"]["status"] == "degraded"
    assert report["hosts"]["pc2"]["groups"]["pc2-ai-models"]["status"] == "skipped"
    with_failure = copy.deepcopy(results)
    with_failure["pc2"]["units"]["units"][1].update(active_state="failed", sub_state="failed")
    failed = sr.build_report(plan, with_failure, now=NOW)
    assert sr.verdict(failed).startswith("FAILED: %d passed, 1 degraded (pc2/MemoryOrchestratorService), "
                                         "1 failed, 2 skipped" % (total_checks(plan) - 4))
    assert failed["hosts"]["pc2"]["status"] == "failed"


def test_verdict_names_at_most_five_degraded_agents(plan, results):
    for entry in results["pc2"]["zmq"]["results"]:
        for endpoint in entry["endpoints"]:
            if endpoint["kind"] == "health":
                degrade(endpoint)
    report = sr.build_report(plan, results, now=NOW)
    names = report["degraded_agents"]
    assert len(names) == 27 and names == sorted(names) and all(n.startswith("pc2/") for n in names)
    assert "27 degraded (%s, +22 more)" % ", ".join(names[:5]) in sr.verdict(report)


def test_markdown_and_mermaid_mark_degraded_agents(plan, results):
    degraded_health_socket(results)
    report = sr.build_report(plan, results, now=NOW)
    md = sr.render_markdown(report)
    assert md.startswith("# AI system verification: PASSED with degraded agents\n")
    assert "PASSED with degraded agents: %d passed, 1 degraded" % (total_checks(plan) - 1) in md
    assert "| pc2 | yes | 1/1 | 1/1 | 6/6 | 5/5 | 26/27, 1 degraded | DEGRADED |" in md
    assert "## Degraded\n\n- pc2: health socket pc2-memory-system/MemoryOrchestratorService" in md
    assert "| pc2-memory-system | MemoryOrchestratorService | 7141 | DEGRADED | 0.25 ms | - | " \
        "status degraded: %s |" % DEGRADED_SAYS in md
    assert "| pc2-memory-system | ai-pc2-memory-system.service | active/running | healthy | 0 | " \
        "Sun 2026-11-29 16:05:00 UTC | - | 1/1 | 4/5, 1 degraded | DEGRADED |" in md
    mermaid = md.split("```mermaid\n", 1)[1].split("```", 1)[0].splitlines()
    node = next(line for line in mermaid if '["pc2-memory-system<br/>' in line)
    assert node.endswith('<br/>active, healthy<br/>degraded: MemoryOrchestratorService"]')
    node_id = node.split("[")[0].strip()
    assert "  classDef degraded fill:#ffedd5,stroke:#ea580c,color:#7c2d12" in mermaid
    assert "  class %s degraded" % node_id in mermaid
    # The diagram's classes: degraded is apart from passed, and the only degraded group.
    passed = next(line for line in mermaid if line.endswith(" passed") and line.startswith("  class "))
    assert node_id not in passed.split()[1].split(",")


def test_json_counts_degraded_apart(plan, results, tmp_path):
    degraded_health_socket(results)
    report = sr.build_report(plan, results, now=NOW)
    sr.write_report(str(tmp_path), report, sr.render_markdown(report))
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["counts"] == {"passed": total_checks(plan) - 1, "degraded": 1, "failed": 0, "skipped": 0}
    assert data["checks"]["health"]["degraded"] == 1 and data["checks"]["links"]["degraded"] == 0
    assert data["hosts"]["pc2"]["checks"]["health"] == {"passed": 26, "degraded": 1, "failed": 0, "skipped": 0}
    assert data["hosts"]["mainpc"]["counts"]["degraded"] == 0 and data["hosts"]["mainpc"]["degraded"] == []
    assert data["degraded"] == report["degraded"] and data["degraded_agents"] == ["pc2/MemoryOrchestratorService"]
    assert data["ok"] is True and data["fail_on_degraded"] is False


def test_degraded_verdict_on_a_failed_endpoint_stays_failed(plan, results):
    # zmq_check sets ok for degraded ones; a result that is not ok failed, whatever its verdict.
    endpoint = degraded_health_socket(results)
    endpoint.update(ok=False, failed_stage="status", reason="status degraded")
    report = sr.build_report(plan, results, now=NOW)
    assert report["counts"]["degraded"] == 0 and report["counts"]["failed"] == 1
