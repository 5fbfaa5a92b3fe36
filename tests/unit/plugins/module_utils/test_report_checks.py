# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging the verification report, against the production inventory's real plan.

``healthy_host_results`` builds what each module returns on a healthy
system; each test breaks one thing the way the module reports it and reads
the judged report.  How the report looks is ``test_report_render.py``.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.report import report_checks as rc
from ansible_collections.ai_system.containers.plugins.module_utils.report import report_render as rr
from ansible_collections.ai_system.containers.plugins.module_utils.report import report_views as rv
from ansible_collections.ai_system.containers.plugins.module_utils.verify import verify_checks as vc
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import Cause
from support.verify_results import (
    BUDGETS_NOT_ENFORCED, DEGRADED_SAYS, healthy_host_results, LAB_SKIP, NOW, degrade, degraded_health_socket, endpoint_result, fail_unit,
    lab_host, total_checks, unit_result,
)

MOS_ERROR = "'MemoryOrchestratorService' object has no attribute 'error_bus_pub'"


# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------

def test_registry_lists_every_kind_of_check_once():
    names = [check.name for check in vc.REPORT_CHECKS]
    assert names == ["gpu", "cuda", "units", "links", "health", "firewall", "monitoring"]
    for check in vc.REPORT_CHECKS:
        assert check.title and check.noun and check.result_key, check.name
        assert check.section in (rv.BEFORE_GROUPS, rv.UNDER_GROUPS, rv.AFTER_GROUPS)


def test_every_check_of_the_registry_is_in_the_report(plan, results):
    report = rc.build_report(plan, results, now=NOW)
    names = [check.name for check in vc.REPORT_CHECKS]
    assert list(report["checks"]) == names
    for host in report["hosts"].values():
        assert list(host["checks"]) == names
        for check in vc.REPORT_CHECKS:
            assert check.name in host
    assert sum(report["counts"].values()) == total_checks(plan)


def test_a_check_passed_as_checks_replaces_the_registry(plan, results):
    only_units = rc.build_report(plan, results, now=NOW, checks=[vc.UnitsCheck()])
    assert list(only_units["checks"]) == ["units"]
    assert only_units["counts"]["passed"] == sum(len(p["units"]) for p in plan.values())
    assert "links" not in only_units["hosts"]["pc2"] and "cuda" not in only_units["hosts"]["pc2"]["groups"][
        "pc2-ai-models"]


# --------------------------------------------------------------------------
# Shape of a report
# --------------------------------------------------------------------------

def test_healthy_system_passes_every_check(plan, results):
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["complete"] is True
    assert report["generated_at"] == "2026-11-29T16:15:00Z"
    assert report["counts"] == {"passed": total_checks(plan), "degraded": 0, "failed": 0, "skipped": 0}
    assert report["problems"] == [] and report["skipped"] == []
    assert report["warnings"] == BUDGETS_NOT_ENFORCED
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
    assert all(i["cause"] is None for i in pc2["links"] + pc2["health"] + pc2["units"] + pc2["cuda"])
    json.dumps(report)  # plain data


def test_zmq_results_given_per_container_read_the_same(plan, results):
    by_loop = rc.build_report(plan, results, now=NOW)
    for host in results.values():
        host["zmq"] = {e["item"]["container"]: e for e in host["zmq"]["results"]}
    by_container = rc.build_report(plan, results, now=NOW)
    assert by_loop == by_container


def test_zmq_results_of_one_call_with_containers_read_the_same(plan, results):
    """verify.yml registers one zmq_check call with ``containers`` per host:
    its ``containers`` mapping is judged as the loop's results were."""
    by_loop = rc.build_report(plan, results, now=NOW)
    for host in results.values():
        per_container = {e["item"]["container"]: {k: v for k, v in e.items() if k != "item"}
                         for e in host["zmq"]["results"]}
        host["zmq"] = {"changed": False, "containers": per_container, "ok_count": 0, "degraded_count": 0,
                       "failed_count": 0, "error_count": 0, "summary": [], "elapsed_s": 1.5,
                       "msg": "all ok", "failed": False, "failed_when_result": False}
    assert rc.build_report(plan, results, now=NOW) == by_loop


def test_zmq_call_that_could_not_run_at_all_fails_every_container_with_its_message(plan, results):
    loop = {e["item"]["container"] for e in results["pc2"]["zmq"]["results"]}
    results["pc2"]["zmq"] = {"changed": False, "failed": False, "failed_when_result": False,
                             "msg": "Failed to find required executable \"podman\" in paths: /usr/bin"}
    report = rc.build_report(plan, results, now=NOW)
    pc2 = [p for p in report["problems"] if p.startswith("pc2: ")]
    prefix = "pc2: ZMQ checks could not run in container "
    said = ': Failed to find required executable "podman" in paths: /usr/bin ('
    assert all(p.startswith(prefix) and said in p for p in pc2), pc2
    assert {p[len(prefix):p.index(said)] for p in pc2} == loop
    host = report["hosts"]["pc2"]
    assert {(i["status"], i["failed_stage"]) for i in host["links"] + host["health"]} == {("failed", "container")}


def test_naive_time_is_taken_as_utc(plan, results):
    report = rc.build_report(plan, results, now=datetime(2026, 1, 2, 3, 4, 5))
    assert report["generated_at"] == "2026-01-02T03:04:05Z"


def test_report_does_not_change_its_inputs(plan, results):
    before_plan, before_results = copy.deepcopy(plan), copy.deepcopy(results)
    rc.build_report(plan, results, now=NOW)
    assert plan == before_plan and results == before_results


# --------------------------------------------------------------------------
# Links and health sockets: zmq_check's verdict
# --------------------------------------------------------------------------

def test_broken_link_is_named_with_its_failing_stage(plan, results):
    entry, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin")
    endpoint.update(ok=False, verdict=None, stage_reached="resolve", failed_stage="tcp",
                    reason="connection refused", rtt_ms=None, reply=None, zmtp=None)
    entry["failed_count"] = 1
    report = rc.build_report(plan, results, now=NOW)
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


def test_detail_and_status_stage_are_reported(plan, results):
    dummy, endpoint = endpoint_result(results, "mainpc", "core-services", "SystemDigitalTwin", "health")
    endpoint.update(ok=False, verdict="failing", failed_stage="status",
                    reason="status not ok: initializing: Loading model", detail="reply | partial")
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "mainpc: health socket core-services/SystemDigitalTwin 127.0.0.1:8120 (health): status failed: "
        "status not ok: initializing: Loading model (reply | partial)"]


def test_the_module_verdict_is_taken_as_it_is(plan, results):
    # An answer the report could read as failing: zmq_check judged it healthy
    # (the agent's own policy), so it passed.
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "CacheManager", "health")
    endpoint.update(ok=True, verdict="healthy", reply={"status": "HEALTHY", "ready": False})
    # And a reply that looks fine, judged failing by the module.
    dummy, failing = endpoint_result(results, "pc2", "pc2-memory-system", "MemoryOrchestratorService", "health")
    failing.update(ok=False, verdict="failing", failed_stage="status", reason='status "ok" is not healthy here')
    report = rc.build_report(plan, results, now=NOW)
    health = {i["name"]: i for i in report["hosts"]["pc2"]["health"] if i["group"] == "pc2-memory-system"}
    assert (health["CacheManager"]["status"], health["CacheManager"]["reason"]) == (
        "passed", "status HEALTHY, rtt median 0.25 ms")
    assert (health["MemoryOrchestratorService"]["status"], health["MemoryOrchestratorService"]["reason"]) == (
        "failed", 'status "ok" is not healthy here')


def test_zmq_checks_that_cannot_run_in_a_container_share_one_line(plan, results):
    loop = results["mainpc"]["zmq"]["results"]
    entry = next(e for e in loop if e["item"]["container"] == "utility-services")
    for key in ("endpoints", "ok_count", "failed_count", "summary"):
        del entry[key]
    entry.update(failed=False, failed_when_result=False,
                 msg="could not run the ZMQ checks inside container utility-services (rc=125): Error: "
                     "no container with name or ID \"utility-services\" found: no such container")
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "mainpc: could not run the ZMQ checks inside container utility-services (rc=125): Error: no "
        "container with name or ID \"utility-services\" found: no such container (6 links, 4 health sockets)"]
    host = report["hosts"]["mainpc"]
    items = [i for i in host["links"] + host["health"] if i["container"] == "utility-services"]
    assert {(i["status"], i["failed_stage"]) for i in items} == {("failed", "container")}
    # The shared cause is data: one object, the same for the links and the health sockets.
    assert {json.dumps(i["cause"], sort_keys=True) for i in items} == {json.dumps(
        {"kind": "container", "host": "mainpc", "check": None, "container": "utility-services"},
        sort_keys=True)}


def test_zmq_message_without_the_container_name_gets_it(plan, results):
    entry = next(e for e in results["pc2"]["zmq"]["results"]
                 if e["item"]["container"] == "pc2-ai-monitoring")
    entry.clear()
    entry.update(item={"container": "pc2-ai-monitoring"}, msg="MODULE FAILURE",
                 module_stderr="Traceback\nboom\n")
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: ZMQ checks could not run in container pc2-ai-monitoring: MODULE FAILURE (boom) "
        "(1 link, 4 health sockets)"]


def test_container_missing_from_the_loop_and_endpoint_missing_from_a_result(plan, results):
    loop = results["pc2"]["zmq"]["results"]
    loop[:] = [e for e in loop if e["item"]["container"] != "pc2-ai-monitoring"]
    entry = next(e for e in loop if e["item"]["container"] == "pc2-user-services")
    entry["endpoints"] = [e for e in entry["endpoints"] if e["name"] != "SystemDigitalTwin"]
    report = rc.build_report(plan, results, now=NOW)
    assert "pc2: link pc2-user-services -> mainpc/core-services SystemDigitalTwin 192.168.100.16:7120 " \
        "(main): container failed: zmq_check returned no result for this endpoint" in report["problems"]
    assert "pc2: link pc2-ai-monitoring -> mainpc/core-services SystemDigitalTwin 192.168.100.16:7120 " \
        "(main): container failed: no ZMQ check ran in container pc2-ai-monitoring" in report["problems"]


def test_failing_agent_quotes_its_own_message(plan, results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "MemoryOrchestratorService",
                                      "health")
    endpoint.update(ok=False, verdict="failing", message=MOS_ERROR, failed_stage="status",
                    reason='status "error": ' + MOS_ERROR, detail="healthy: ok, healthy; degraded: degraded",
                    reply={"status": "error", "error": MOS_ERROR})
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is False and report["counts"]["degraded"] == 0
    assert report["problems"] == [
        "pc2: health socket pc2-memory-system/MemoryOrchestratorService 127.0.0.1:7141 (health): status "
        "failed: status \"error\": %s (healthy: ok, healthy; degraded: degraded)" % MOS_ERROR]
    item = next(i for i in report["hosts"]["pc2"]["health"] if i["name"] == "MemoryOrchestratorService")
    assert (item["status"], item["verdict"], item["message"]) == ("failed", "failing", MOS_ERROR)


def test_failure_whose_reason_lacks_the_message_gets_it(plan, results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "CacheManager", "health")
    endpoint.update(ok=False, verdict="failing", message="cache warming", failed_stage="reply",
                    reason="wrong reply: missing keys: status", detail=None, reply={"error": "cache warming"})
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: health socket pc2-memory-system/CacheManager 127.0.0.1:8102 (health): reply failed: wrong reply: "
        "missing keys: status; replied: cache warming"]


def test_reachable_link_passes_with_the_reply(plan, results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin", "main")
    endpoint.update(ok=True, verdict="reachable", message="Unknown action: health_check",
                    stage_reached="reply", rtt_ms={"min": 0.3, "median": 0.41, "max": 0.5},
                    reply={"status": "error", "error": "Unknown action: health_check"})
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["counts"]["degraded"] == 0 and report["degraded"] == []
    link = next(i for i in report["hosts"]["pc2"]["links"] if i["from_group"] == "pc2-memory-system")
    assert (link["status"], link["verdict"], link["reply_status"]) == ("passed", "reachable", "error")
    assert link["reason"] == "reachable, rtt median 0.41 ms, replied: Unknown action: health_check"


def test_greeting_passes_with_the_socket_type(plan, results):
    report = rc.build_report(plan, results, now=NOW)
    greeting = next(i for i in report["hosts"]["mainpc"]["links"] if i["kind"] == "greeting")
    assert (greeting["status"], greeting["reason"]) == ("passed", "ZMQ greeting from a PUB socket")


# --------------------------------------------------------------------------
# Degraded agents
# --------------------------------------------------------------------------

def test_degraded_health_socket_is_degraded_not_failed(plan, results):
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW)
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


def test_degraded_link_names_the_agent_where_it_runs(plan, results):
    dummy, endpoint = endpoint_result(results, "mainpc", "memory-system", "MemoryOrchestratorService", "main")
    degrade(endpoint)
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is True
    assert report["counts"]["degraded"] == 2
    assert report["checks"]["links"]["degraded"] == 1 and report["checks"]["health"]["degraded"] == 1
    # One agent, seen degraded from its own container and over the link.
    assert report["degraded_agents"] == ["pc2/MemoryOrchestratorService"]
    link = next(i for i in report["hosts"]["mainpc"]["links"] if i["name"] == "MemoryOrchestratorService")
    assert (link["status"], link["reason"]) == ("degraded", "status degraded: " + DEGRADED_SAYS)
    assert report["degraded"][0] == (
        "mainpc: link memory-system -> pc2/pc2-memory-system MemoryOrchestratorService 192.168.100.17:7140 "
        "(main): DEGRADED: status degraded: " + DEGRADED_SAYS)
    assert report["hosts"]["mainpc"]["groups"]["memory-system"]["status"] == "degraded"


def test_fail_on_degraded_turns_degraded_agents_into_problems(plan, results):
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW, fail_on_degraded=True)
    assert report["ok"] is False and report["fail_on_degraded"] is True
    assert report["problems"] == [line + " (degraded agents count as problems)" for line in report["degraded"]]
    assert len(report["problems"]) == 1 and "status degraded: " + DEGRADED_SAYS in report["problems"][0]
    assert rc.build_report(plan, results, now=NOW)["fail_on_degraded"] is False


def test_degraded_is_worse_than_skipped_for_hosts_and_groups(plan, results):
    degraded_health_socket(results)
    lab_host(results, "pc2")
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["complete"] is False
    assert report["hosts"]["pc2"]["status"] == "degraded"
    assert report["hosts"]["pc2"]["groups"]["pc2-ai-models"]["status"] == "skipped"
    fail_unit(results["pc2"]["units"]["units"][1], "unit is failed (failed)", active_state="failed",
              sub_state="failed")
    assert rc.build_report(plan, results, now=NOW)["hosts"]["pc2"]["status"] == "failed"


def test_every_degraded_agent_is_named_once_and_sorted(plan, results):
    for entry in results["pc2"]["zmq"]["results"]:
        for endpoint in entry["endpoints"]:
            if endpoint["kind"] == "health":
                degrade(endpoint)
    names = rc.build_report(plan, results, now=NOW)["degraded_agents"]
    assert len(names) == 27 and names == sorted(names) and all(n.startswith("pc2/") for n in names)


def test_degraded_verdict_on_a_failed_endpoint_stays_failed(plan, results):
    # zmq_check sets ok for degraded ones; a result that is not ok failed, whatever its verdict.
    endpoint = degraded_health_socket(results)
    endpoint.update(ok=False, failed_stage="status", reason="status degraded")
    report = rc.build_report(plan, results, now=NOW)
    assert report["counts"]["degraded"] == 0 and report["counts"]["failed"] == 1


# --------------------------------------------------------------------------
# Skipped is never passed
# --------------------------------------------------------------------------

def test_skipped_cuda_checks_show_as_skipped_with_the_reason(plan, results):
    lab_host(results, "pc2")
    report = rc.build_report(plan, results, now=NOW)
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


def test_fail_on_skip_turns_skips_into_problems(plan, results):
    lab_host(results, "pc2")
    report = rc.build_report(plan, results, now=NOW, fail_on_skip=True)
    assert report["ok"] is False
    assert report["problems"] == [line + " (skipped checks count as problems)" for line in report["skipped"]]


def test_phases_that_did_not_run_are_skipped_once_per_phase(plan, results):
    results["mainpc"]["zmq"] = None
    del results["mainpc"]["units"]
    results["mainpc"]["cuda"] = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False",
                                 "false_condition": "x"}
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is True
    assert report["skipped"] == [
        "mainpc: CUDA: not checked in this run (2 CUDA checks)",
        "mainpc: units: not checked in this run (%d units)" % len(plan["mainpc"]["units"]),
        "mainpc: links: not checked in this run (10 links)",
        "mainpc: health sockets: not checked in this run (48 health sockets)",
    ]
    host = report["hosts"]["mainpc"]
    assert all(i["status"] == "skipped" for i in host["links"])
    assert host["links"][0]["cause"] == {"kind": "phase", "host": "mainpc", "check": "links", "container": None}
    assert host["health"][0]["cause"] == Cause("phase", "mainpc", check="health").as_dict()


def test_skipped_zmq_loop_is_not_checked(plan, results):
    results["pc2"]["zmq"] = {"changed": False, "skipped": True, "skipped_reason": "No items in the list",
                             "results": []}
    report = rc.build_report(plan, results, now=NOW)
    assert "pc2: links: not checked in this run (5 links)" in report["skipped"]


# --------------------------------------------------------------------------
# CUDA: cuda_check's verdict
# --------------------------------------------------------------------------

def test_cuda_status_is_taken_as_the_module_gave_it(plan, results):
    # cuda_check fails a container whose kernel was not verified; the
    # report does not judge the kernel result again.
    results["mainpc"]["cuda"]["results"][0]["kernel_result"] = {"ok": False, "mismatches": 12}
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [] and report["hosts"]["mainpc"]["cuda"][0]["status"] == "passed"


def test_cuda_failure_names_step_and_error(plan, results):
    results["pc2"]["cuda"]["results"][0].update(
        status="failed", reason="CUDA failed", failed_step="cuCtxCreate_v2 on device 0",
        error="CUDA_ERROR_OUT_OF_MEMORY (2): out of memory")
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == ["pc2: CUDA in pc2-ai-models: failed at cuCtxCreate_v2 on device 0: "
                                  "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"]


@pytest.mark.parametrize("change, expected", [
    ({"status": "failed", "failed_step": None, "reason": "podman exec timed out"}, "podman exec timed out"),
    ({"status": "weird"}, "cuda_check reported an unknown status 'weird'"),
])
def test_cuda_other_outcomes(plan, results, change, expected):
    results["pc2"]["cuda"]["results"][0].update(change)
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == ["pc2: CUDA in pc2-ai-models: " + expected]


def test_cuda_result_with_a_skipped_count_is_still_read(plan, results):
    # A count named `skipped` is not Ansible's skipped flag.
    lab_host(results, "pc2")
    results["pc2"]["cuda"]["skipped"] = 1
    report = rc.build_report(plan, results, now=NOW)
    assert report["hosts"]["pc2"]["cuda"][0]["reason"] == LAB_SKIP


def test_cuda_check_that_did_not_run(plan, results):
    results["mainpc"]["cuda"] = {"changed": False, "results": [], "msg": "podman not found in PATH"}
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == ["mainpc: cuda_check did not run: podman not found in PATH (2 CUDA checks)"]
    assert report["hosts"]["mainpc"]["cuda"][0]["cause"] == {
        "kind": "module", "host": "mainpc", "check": "cuda", "container": None}


def test_cuda_container_missing_from_the_result(plan, results):
    results["mainpc"]["cuda"]["results"].pop()
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == ["mainpc: CUDA in %s: cuda_check returned no result for this container"
                                  % plan["mainpc"]["checks"]["cuda"][-1]]


# --------------------------------------------------------------------------
# GPU
# --------------------------------------------------------------------------

def test_gpu_without_driver_fails_on_a_production_host(plan, results):
    results["mainpc"]["gpu"].update(available=False, gpus=[],
                                    reason="no NVIDIA driver: NVML Shared Library Not Found")
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == ["mainpc: GPU: no NVIDIA driver: NVML Shared Library Not Found"]


def test_gpu_model_and_vram_are_checked(plan, results):
    results["mainpc"]["gpu"]["gpus"][0]["name"] = "NVIDIA GeForce RTX 3090"
    results["mainpc"]["gpu"]["vram_check"] = {
        "checked": True, "ok": False, "gpu_index": 0, "gpu_total_mib": 24564, "budget_sum_mib": 22528,
        "reserve_mib": 4096, "required_mib": 26624, "headroom_mib": -2060}
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "mainpc: GPU: expected NVIDIA GeForce RTX 4090, found NVIDIA GeForce RTX 3090; VRAM budgets need "
        "26624 MiB (budgets 22528 + reserve 4096), GPU 0 has 24564 MiB"]


def test_gpu_facts_that_did_not_run(plan, results):
    results["pc2"]["gpu"] = {"changed": False, "failed_when_result": False,
                             "msg": "MODULE FAILURE\nSee stdout/stderr for the exact error",
                             "module_stderr": "/bin/sh: 1: /usr/bin/python3: not found\n"}
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: GPU: gpu_facts did not run: MODULE FAILURE (/bin/sh: 1: /usr/bin/python3: not found)"]


def test_host_without_a_gpu_has_no_gpu_check(plan, results):
    for unit in plan["pc2"]["units"]:
        unit["gpu"] = False
    plan["pc2"]["gpu"] = {"required": False, "model": None, "memory_mib": None, "cdi_devices": [],
                          "vram_budgets": {}}
    plan["pc2"]["checks"]["cuda"] = []
    report = rc.build_report(plan, results, now=NOW)
    assert report["hosts"]["pc2"]["gpu"] is None
    assert report["hosts"]["pc2"]["cuda"] == []
    assert report["hosts"]["pc2"]["checks"]["gpu"] == {"passed": 0, "degraded": 0, "failed": 0, "skipped": 0}
    assert report["ok"] is True


# --------------------------------------------------------------------------
# Units: unit_health's verdict, and the plan's health check
# --------------------------------------------------------------------------

def test_unit_problems_and_restart_notes(plan, results):
    fail_unit(unit_result(results, "pc2", "ai-pc2-redis.service"),
              "unit is failed (failed), result exit-code, restarted 5 times",
              active_state="failed", sub_state="failed", result="exit-code", restarts=5)
    unit_result(results, "pc2", "ai-pc2-memory-system.service").update(restarts=2)
    # unit_health, told by the plan that the unit defines a health check,
    # judged a container without one.
    fail_unit(unit_result(results, "pc2", "ai-pc2-core-infrastructure.service"),
              "container pc2-core-infrastructure has no health check, but its unit defines one",
              health=None)
    report = rc.build_report(plan, results, now=NOW)
    # In the plan's order of the units.
    assert report["problems"] == [
        "pc2: unit ai-pc2-redis.service: unit is failed (failed), result exit-code, restarted 5 times",
        "pc2: unit ai-pc2-core-infrastructure.service: container pc2-core-infrastructure has no health "
        "check, but its unit defines one",
    ]
    assert report["warnings"] == BUDGETS_NOT_ENFORCED + [
        "pc2: unit ai-pc2-redis.service was restarted 5 times by systemd",
        "pc2: unit ai-pc2-memory-system.service was restarted 2 times by systemd",
    ]


def test_unit_verdict_is_taken_as_the_module_gave_it(plan, results):
    # A state the report could call failed, judged ok by unit_health: it passed.
    unit_result(results, "pc2", "ai-pc2-redis.service").update(sub_state="reloading")
    # And a state that looks fine, judged not ok: it failed, with the module's words.
    fail_unit(unit_result(results, "pc2", "ai-pc2-memory-system.service"), "container pc2-memory-system is gone")
    report = rc.build_report(plan, results, now=NOW)
    units = {u["service"]: u for u in report["hosts"]["pc2"]["units"]}
    assert units["ai-pc2-redis.service"]["status"] == "passed"
    assert (units["ai-pc2-memory-system.service"]["status"], units["ai-pc2-memory-system.service"]["reason"]) \
        == ("failed", "container pc2-memory-system is gone")


def test_unit_without_a_verdict_fails(plan, results):
    del unit_result(results, "pc2", "ai-pc2-redis.service")["ok"]
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == ["pc2: unit ai-pc2-redis.service: unit_health returned no verdict for this unit"]


def test_unit_health_that_did_not_run_is_one_line(plan, results):
    results["pc2"]["units"] = {"changed": False, "failed_when_result": False,
                               "msg": "systemctl show failed (rc=1): System has not been booted with systemd"}
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: unit_health did not run: systemctl show failed (rc=1): System has not been booted with "
        "systemd (7 units)"]
    # 6 groups and the pod unit (ai_network_mode: pod)
    assert report["checks"]["units"]["failed"] == 7


def test_unit_missing_from_the_result(plan, results):
    results["pc2"]["units"]["units"].pop()
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: unit ai-pc2-user-services.service: unit_health returned no result for this unit"]


# --------------------------------------------------------------------------
# Hosts
# --------------------------------------------------------------------------

def test_unreachable_host_is_not_verified(plan, results):
    del results["pc2"]
    report = rc.build_report(plan, results, hosts=["mainpc", "pc2"], now=NOW)
    assert report["problems"] == [
        "pc2: not verified: no results: unreachable, or failed before its checks ran "
        "(1 GPU check, 1 CUDA check, 7 units, 5 links, 27 health sockets, 1 firewall check)"]
    host = report["hosts"]["pc2"]
    assert host["verified"] is False and host["status"] == "failed"
    assert all(i["status"] == "failed" for i in host["links"] + host["units"])
    assert {json.dumps(i["cause"], sort_keys=True) for i in host["links"] + host["units"] + [host["gpu"]]} == {
        json.dumps(Cause("host", "pc2").as_dict(), sort_keys=True)}


def test_limited_run_reports_the_other_host_as_not_part_of_it(plan, results):
    report = rc.build_report(plan, {"mainpc": results["mainpc"]}, hosts=["mainpc"], now=NOW)
    assert list(report["hosts"]) == ["mainpc"]
    assert report["skipped"] == ["pc2: not part of this run"]
    assert report["ok"] is True and report["complete"] is False
    assert list(report["topology"]) == ["mainpc", "pc2"]


def test_host_outside_the_plan_is_a_problem(plan, results):
    report = rc.build_report(plan, results, hosts=["mainpc", "pc2", "pc3"], now=NOW)
    assert report["problems"] == ["pc3: not in the plan (not an AI host of the inventory)"]


# --------------------------------------------------------------------------
# Causes are data
# --------------------------------------------------------------------------

def test_cause_is_a_frozen_value():
    cause = Cause("container", "pc2", container="pc2-ai-models")
    assert cause == Cause("container", "pc2", container="pc2-ai-models")
    assert len({cause, Cause("container", "pc2", container="pc2-ai-models")}) == 1
    assert cause.as_dict() == {"kind": "container", "host": "pc2", "check": None, "container": "pc2-ai-models"}
    with pytest.raises(AttributeError):
        cause.kind = "host"  # type: ignore[misc]


# --------------------------------------------------------------------------
# Firewall: nft_table's verdict
# --------------------------------------------------------------------------

MISSING_DROP = "forward: ip daddr 172.21.0.0/16 drop"
HAND_ACCEPT = "forward: ip saddr 10.89.100.99 accept"


def firewall_of(report, host):
    return report["hosts"][host]["firewall"]


def test_firewall_loaded_as_planned_passes_with_the_module_reason(plan, results):
    report = rc.build_report(plan, results, now=NOW)
    item = firewall_of(report, "pc2")
    assert item["check"] == "firewall" and item["status"] == "passed" and item["cause"] is None
    assert item["reason"] == results["pc2"]["firewall"]["reason"]
    assert item["table"] == "inet ai_system" and item["matches"] is True and item["file_matches"] is True
    assert report["checks"]["firewall"] == {"passed": 2, "degraded": 0, "failed": 0, "skipped": 0}


def test_flushed_ruleset_fails_the_firewall_check_naming_the_missing_table(plan, results):
    results["pc2"]["firewall"].update(matches=False, present=False, missing=["chain prerouting: ...", MISSING_DROP],
                                      reason="table inet ai_system is not loaded")
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is False
    assert report["problems"] == ["pc2: firewall: table inet ai_system is not loaded"]
    assert report["hosts"]["pc2"]["status"] == "failed" and firewall_of(report, "mainpc")["status"] == "passed"


def test_rule_removed_and_rule_added_by_hand_are_both_quoted(plan, results):
    results["pc2"]["firewall"].update(
        matches=False, missing=[MISSING_DROP], extra=[HAND_ACCEPT, "prerouting: tcp dport 7140 drop",
                                                      "prerouting: tcp dport 7141 drop"],
        reason="table inet ai_system differs from the plan: 1 planned line missing, 3 lines not planned")
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: firewall: table inet ai_system differs from the plan: 1 planned line missing, 3 lines not planned; "
        "missing: %s; not planned: %s; prerouting: tcp dport 7140 drop (and 1 more)" % (MISSING_DROP, HAND_ACCEPT)]
    item = firewall_of(report, "pc2")
    assert item["missing"] == [MISSING_DROP] and len(item["extra"]) == 3


def test_rules_in_another_order_fail(plan, results):
    results["pc2"]["firewall"].update(matches=False,
                                      reason="table inet ai_system holds the planned rules in another order")
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == ["pc2: firewall: table inet ai_system holds the planned rules in another order"]


def test_a_file_that_is_not_the_plans_fails_though_the_loaded_table_is(plan, results):
    results["mainpc"]["firewall"]["file_matches"] = False
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "mainpc: firewall: the table is loaded as planned, but /etc/ai-system/firewall.nft is not the plan's: "
        "a boot or reload would load other rules"]


def test_nft_table_that_did_not_run_fails_with_its_message(plan, results):
    results["pc2"]["firewall"] = {"failed": True, "changed": False,
                                  "msg": "nft -j list table inet ai_system failed (rc=1): Error: Operation "
                                         "not permitted"}
    report = rc.build_report(plan, results, now=NOW)
    assert report["problems"] == [
        "pc2: firewall: nft_table did not run: nft -j list table inet ai_system failed (rc=1): Error: "
        "Operation not permitted"]


def test_firewall_phase_left_out_or_backend_none_is_not_checked(plan, results):
    results["pc2"]["firewall"] = {"changed": False, "skipped": True, "false_condition": "backend != 'none'"}
    del results["mainpc"]["firewall"]
    report = rc.build_report(plan, results, now=NOW)
    assert report["ok"] is True and report["complete"] is False
    assert report["skipped"] == ["mainpc: firewall: not checked in this run (1 firewall check)",
                                 "pc2: firewall: not checked in this run (1 firewall check)"]
    assert firewall_of(report, "pc2")["cause"] == Cause("phase", "pc2", check="firewall").as_dict()


def test_firewall_check_shows_in_the_host_text_and_markdown(plan, results):
    from ansible_collections.ai_system.containers.plugins.module_utils.report import report_render as rr
    results["pc2"]["firewall"].update(matches=False, missing=[MISSING_DROP], extra=[HAND_ACCEPT],
                                      reason="table inet ai_system differs from the plan: 1 planned line "
                                             "missing, 1 line not planned")
    report = rc.build_report(plan, results, now=NOW)
    text = rr.render_text(report)
    assert "  Firewall: failed -- table inet ai_system differs from the plan: 1 planned line missing, " \
           "1 line not planned; missing: %s; not planned: %s" % (MISSING_DROP, HAND_ACCEPT) in text
    md = rr.render_markdown(report)
    assert "### Firewall\n\n| Table | File | Result | Detail |" in md
    assert "Missing:\n\n- `%s`" % MISSING_DROP in md and "Not planned:\n\n- `%s`" % HAND_ACCEPT in md


def test_results_of_one_host_checks_call_read_the_same_as_separate_calls(plan, results):
    """verify.yml registers one host_checks call per host: each check's result
    under its key, with ``failed`` (true where its module would fail, instead of
    the ``failed_when: false`` of a separate task) and ``elapsed_s``.  The report
    is the one the separate calls gave, checks that failed or did not run included."""
    for host in results.values():
        per_container = {e["item"]["container"]: {k: v for k, v in e.items() if k != "item"}
                         for e in host["zmq"]["results"]}
        host["zmq"] = {"changed": False, "containers": per_container, "ok_count": 0, "degraded_count": 0,
                       "failed_count": 0, "error_count": 0, "summary": [], "elapsed_s": 1.5, "msg": "all ok"}
    fail_unit(unit_result(results, "pc2", results["pc2"]["units"]["units"][0]["service"]),
              "unit is failed (failed), result exit-code, restarted 5 times")
    results["pc2"]["units"]["failed_count"] = 1
    results["pc2"]["gpu"] = {"changed": False, "msg": "gpu (gpu_facts) raised RuntimeError: NVML went away",
                             "exception": "Traceback (most recent call last): ..."}
    results["pc2"]["cuda"] = None  # --skip-tags verify_cuda
    module_failed = {("pc2", "gpu")}
    separate, together = copy.deepcopy(results), copy.deepcopy(results)
    for name, host in separate.items():
        for key in ("gpu", "cuda", "units", "zmq", "firewall"):
            if host[key] is not None:
                host[key].update(failed=False, failed_when_result=False)
    for name, host in together.items():
        for key in ("gpu", "cuda", "units", "zmq", "firewall"):
            if host[key] is not None:
                host[key].update(failed=(name, key) in module_failed, elapsed_s=0.25)
    by_separate = rc.build_report(plan, separate, now=NOW)
    assert rc.build_report(plan, together, now=NOW) == by_separate
    assert any("gpu_facts did not run: gpu (gpu_facts) raised RuntimeError" in p for p in by_separate["problems"])


# --------------------------------------------------------------------------
# CUDA: the VRAM budgets
# --------------------------------------------------------------------------

@pytest.fixture
def mps_plan(production):
    production["mainpc"]["ai_gpu"]["sharing"] = "mps"
    result = build_plan(production)
    assert result["ok"], result["errors"]
    return result["hosts"]


def test_budgets_enforced_by_mps_pass_without_a_warning(mps_plan):
    results = {name: healthy_host_results(host) for name, host in mps_plan.items()}
    report = rc.build_report(mps_plan, results, now=NOW)
    assert report["ok"] and report["problems"] == []
    assert report["warnings"] == BUDGETS_NOT_ENFORCED[2:]  # pc2 has no MPS
    cuda = report["hosts"]["mainpc"]["cuda"]
    assert [(c["container"], c["budget_mib"], c["budget"]) for c in cuda] == [
        ("ai-models-gpu-services", 16384, "enforced"), ("language-processing", 6144, "enforced")]
    md = rr.render_markdown(report)
    assert "| ai-models-gpu-services | passed | NVIDIA GeForce RTX 4090 | 550.120 | 16384 MiB, enforced |" in md


def test_a_budget_that_does_not_hold_is_a_problem_naming_the_step(mps_plan):
    results = {name: healthy_host_results(host) for name, host in mps_plan.items()}
    step = "cuMemAlloc_v2 on device 0 (over the budget: 6208 MiB must fail with CUDA_ERROR_OUT_OF_MEMORY)"
    error = "RuntimeError: the allocation succeeded: the 6144 MiB budget is not enforced"
    entry = results["mainpc"]["cuda"]["results"][1]
    entry.update(status="failed", failed_step=step, error=error, reason="VRAM budget check failed")
    entry["budget"].update(status="failed", failed_step=step, error=error)
    report = rc.build_report(mps_plan, results, now=NOW)
    assert report["problems"] == ["mainpc: CUDA in language-processing: failed at %s: %s" % (step, error)]
    assert "| language-processing | **FAILED** | NVIDIA GeForce RTX 4090 | 550.120 | 6144 MiB, **FAILED** |" \
        in rr.render_markdown(report)


def test_in_the_lab_an_mps_budget_is_skipped_never_passed(mps_plan):
    results = {name: healthy_host_results(host) for name, host in mps_plan.items()}
    lab_host(results, "mainpc")
    report = rc.build_report(mps_plan, results, now=NOW)
    cuda = report["hosts"]["mainpc"]["cuda"]
    assert {(c["status"], c["budget"]) for c in cuda} == {("skipped", "skipped")}
    assert not [w for w in report["warnings"] if w.startswith("mainpc")]
    md = rr.render_markdown(report)
    assert "| language-processing | SKIPPED | - | 550.120 | 6144 MiB, SKIPPED | %s |" % LAB_SKIP in md
    assert "enforced" not in md.replace("not enforced", "").replace("NOT ENFORCED", "")


# -- monitoring ------------------------------------------------------------------

@pytest.fixture
def monitored_plan(plan):
    """The production plan with Prometheus on mainpc (as ai_monitoring plans it)."""
    plan = copy.deepcopy(plan)
    for name, host in plan.items():
        host["monitoring"] = {"prometheus": name == "mainpc",
                              "scrape_targets": ["mainpc=192.168.100.16:9464", "pc2=192.168.100.17:9464"]}
    return plan


def prometheus_result(**extra):
    result = {"changed": False, "failed": False, "url": "http://192.168.100.16:9090", "ok": True,
              "exporters": [{"host": "mainpc", "instance": "192.168.100.16:9464", "status": "passed",
                             "reason": "scraped"},
                            {"host": "pc2", "instance": "192.168.100.17:9464", "status": "passed",
                             "reason": "scraped"}],
              "firing": [], "targets": []}
    result.update(extra)
    return result


def test_monitoring_passes_when_every_exporter_is_scraped_and_nothing_fires(monitored_plan, results):
    results["mainpc"]["prometheus"] = prometheus_result()
    report = rc.build_report(monitored_plan, results, now=NOW)
    item = report["hosts"]["mainpc"]["monitoring"]
    assert item["status"] == "passed" and item["reason"] == "2/2 exporters scraped, no alert firing"
    assert report["hosts"]["pc2"]["monitoring"] is None  # no Prometheus there
    assert report["ok"] is True


def test_monitoring_fails_on_an_unscraped_exporter_and_a_firing_alert(monitored_plan, results):
    exporters = prometheus_result()["exporters"]
    exporters[1].update(status="failed", reason="scrape down: connection refused")
    results["mainpc"]["prometheus"] = prometheus_result(exporters=exporters, ok=False, firing=[
        {"alertname": "AiSystemGroupDown", "labels": {"host": "pc2", "group": "pc2-redis", "severity": "critical"},
         "summary": "Group pc2-redis on pc2 is down"}])
    report = rc.build_report(monitored_plan, results, now=NOW)
    assert report["ok"] is False
    assert "mainpc: monitoring: exporter of pc2 (192.168.100.17:9464): scrape down: connection refused; " \
           "firing: AiSystemGroupDown (group=pc2-redis, host=pc2)" in report["problems"]


def test_monitoring_not_run_or_failed_is_said_so(monitored_plan, results):
    report = rc.build_report(monitored_plan, results, now=NOW)
    assert report["hosts"]["mainpc"]["monitoring"]["status"] == "skipped"
    assert "mainpc: monitoring: not checked in this run (1 monitoring check)" in report["skipped"]
    results["mainpc"]["prometheus"] = {"failed": True, "msg": "Prometheus did not answer: timed out"}
    report = rc.build_report(monitored_plan, results, now=NOW)
    assert "mainpc: monitoring: prometheus_check did not run: Prometheus did not answer: timed out" \
        in report["problems"]


def test_monitoring_shows_in_the_text_and_markdown(monitored_plan, results):
    from ansible_collections.ai_system.containers.plugins.module_utils.report import report_render as rr
    results["mainpc"]["prometheus"] = prometheus_result(firing=[
        {"alertname": "AiSystemLinkSlow", "labels": {"host": "mainpc"}, "summary": "slow"}])
    report = rc.build_report(monitored_plan, results, now=NOW)
    assert "  Monitoring: failed -- firing: AiSystemLinkSlow (host=mainpc)" in rr.render_text(report)
    md = rr.render_markdown(report)
    assert "| pc2 | 192.168.100.17:9464 | passed | scraped |" in md
    assert "- `AiSystemLinkSlow` slow" in md


# --------------------------------------------------------------------------
# A link to a WSL2 host that times out although the host's table admits it
# --------------------------------------------------------------------------

def _timed_out_link_to_mainpc(results):
    entry, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin")
    endpoint.update(ok=False, verdict=None, stage_reached="tcp", failed_stage="tcp", reason="timed out",
                    detail="no TCP connection within 3s", rtt_ms=None, reply=None, zmtp=None)
    entry["failed_count"] = 1


def _link(report):
    return next(i for i in report["hosts"]["pc2"]["links"] if i["from_group"] == "pc2-memory-system")


def test_timeout_to_a_wsl_host_whose_table_admits_it_says_blocked_before_the_host(plan, results):
    _timed_out_link_to_mainpc(results)
    results["mainpc"]["wsl"] = True
    link = _link(rc.build_report(plan, results, now=NOW))
    assert (link["status"], link["failed_stage"]) == ("failed", "tcp")
    assert link["reason"] == ("timed out; blocked before the host (Windows / Hyper-V firewall?): "
                              "mainpc's own table admits it")


@pytest.mark.parametrize("change", ["not wsl", "table differs", "refused"])
def test_no_windows_hint_where_the_host_is_not_wsl_or_its_table_does_not_admit_it(plan, results, change):
    _timed_out_link_to_mainpc(results)
    results["mainpc"]["wsl"] = change != "not wsl"
    if change == "table differs":
        results["mainpc"]["firewall"] = dict(results["mainpc"]["firewall"], matches=False,
                                             missing=["tcp dport 7120 accept"])
    if change == "refused":
        endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin")[1]["reason"] = \
            "connection refused"
    assert "Hyper-V" not in _link(rc.build_report(plan, results, now=NOW))["reason"]
