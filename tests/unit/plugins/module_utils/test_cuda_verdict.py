# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cuda_check's verdict: one container's ``podman exec`` outcome judged, two
runs around a daemon-reload merged, and the containers summed up."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_verdict as cv
from support.cuda_docs import failed_doc, out, passed_doc, skipped_doc, with_budget


def result(rc, doc_or_stdout, stderr="", **kwargs):
    stdout = out(doc_or_stdout) if isinstance(doc_or_stdout, dict) else doc_or_stdout
    kwargs.setdefault("timeout", 120)
    return cv.container_result("ai-llm", rc, stdout, stderr, **kwargs)


# --------------------------------------------------------------------------
# parsing what podman exec printed
# --------------------------------------------------------------------------

def test_parse_compact_pretty_and_noisy_output():
    doc = passed_doc()
    assert cv.parse_probe_output(out(doc)) == doc
    assert cv.parse_probe_output(json.dumps(doc, indent=2)) == doc
    assert cv.parse_probe_output("sitecustomize says hi\n" + out(doc) + "\n") == doc
    assert cv.parse_probe_output('{"status": "passed"}\n') is None  # not the probe's document
    assert cv.parse_probe_output("{not json\n") is None
    assert cv.parse_probe_output("") is None
    assert cv.parse_probe_output(None) is None


def test_progress_and_stderr_tail():
    stderr = "cuda_probe: step dlopen (libcuda.so.1)\nwarning: x\ncuda_probe: step cuInit\n"
    assert cv.last_progress_step(stderr) == "cuInit"
    assert cv.last_progress_step("") is None
    assert cv.stderr_tail(stderr) == "warning: x"
    assert cv.stderr_tail("\n".join(str(i) for i in range(20)), lines=2) == "18\n19"


# --------------------------------------------------------------------------
# one container's result
# --------------------------------------------------------------------------

def test_passed_result_shape():
    entry = result(0, passed_doc(), "cuda_probe: step cuInit\n")
    assert entry["status"] == "passed"
    assert entry["gpus"] == [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "memory_total_mib": 24564,
                              "uuid": "GPU-4090"}]
    assert entry["kernel_result"]["ok"] is True
    assert entry["steps"][0]["step"] == "cuInit"
    assert entry["exec"] == {"rc": 0, "timed_out": False, "stderr_tail": ""}
    assert set(entry) == {"container", "status", "reason", "failed_step", "error", "lab", "driver_version",
                          "cuda_driver_version", "gpus", "cuda_devices", "libraries", "steps", "kernel_result",
                          "total_ms", "exec", "python", "budget"}


def test_failed_and_skipped_results_are_kept():
    entry = result(1, failed_doc())
    assert (entry["status"], entry["failed_step"]) == ("failed", "cuCtxCreate_v2 on device 0")
    assert entry["error"] == "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
    entry = result(3, skipped_doc())
    assert (entry["status"], entry["reason"], entry["lab"]) == ("skipped", "no NVIDIA driver", False)


def test_lab_labels_a_skip_as_the_lab_device():
    entry = result(3, skipped_doc(), lab=True)
    assert (entry["status"], entry["reason"], entry["lab"]) == ("skipped", "no NVIDIA driver (lab CDI device)", True)


def test_lab_never_turns_a_real_pass_into_a_skip_or_a_skip_into_a_pass():
    assert result(0, passed_doc(), lab=True)["status"] == "passed"
    assert result(3, skipped_doc(lab=True))["status"] == "skipped"


def test_passed_without_a_verified_kernel_is_a_failure():
    doc = passed_doc()
    doc["kernel_result"]["ok"] = False
    entry = result(0, doc)
    assert entry["status"] == "failed"
    assert entry["reason"] == "the probe said passed but did not verify a kernel result"
    doc = passed_doc()
    doc["kernel_result"]["devices_tested"] = 0
    assert result(0, doc)["status"] == "failed"


def test_unknown_status_is_a_failure():
    doc = passed_doc()
    doc["status"] = "maybe"
    entry = result(0, doc)
    assert entry["status"] == "failed"
    assert entry["reason"] == "the probe returned an unknown status 'maybe'"


def test_expect_gpus():
    entry = result(0, passed_doc(gpus=2), expect_gpus=1)
    assert entry["status"] == "failed"
    assert entry["failed_step"] == "expect_gpus"
    assert entry["reason"] == "the container sees 2 GPU(s) but expect_gpus is 1"
    assert result(0, passed_doc(gpus=1), expect_gpus=1)["status"] == "passed"
    assert result(3, skipped_doc(), expect_gpus=1)["status"] == "skipped"


@pytest.mark.parametrize("rc,stderr,step,reason", [
    (124, "cuda_probe: step dlopen (libcuda.so.1)\ncuda_probe: step cuCtxSynchronize on device 0\n",
     "cuCtxSynchronize on device 0", "the probe timed out after 120 seconds during step cuCtxSynchronize on device 0"),
    (137, "", "podman exec", "the probe timed out after 120 seconds"),
    (142, "cuda_probe: step cuInit\n", "cuInit", "the probe timed out after 120 seconds during step cuInit"),
    (125, 'Error: no container with name or ID "ai-llm" found: no such container\n', "podman exec",
     'podman could not run the exec session, rc 125: Error: no container with name or ID "ai-llm" found: '
     'no such container'),
    (125, "Error: can only create exec sessions on running containers: container state improper\n",
     "podman exec", "podman could not run the exec session, rc 125: Error: can only create exec sessions on "
     "running containers: container state improper"),
    (127, 'Error: exec: "python3": executable file not found in $PATH\n', "podman exec",
     'the interpreter was not found in the container (python3), rc 127: Error: exec: "python3": executable '
     'file not found in $PATH'),
    (126, "", "podman exec", "the interpreter exists in the container but could not be run (python3), rc 126: "
     "the interpreter exists in the container but could not be run"),
    (139, "cuda_probe: step cuLaunchKernel on device 0 (grid 4 x block 256)\n",
     "cuLaunchKernel on device 0 (grid 4 x block 256)",
     "the probe crashed (signal 11) during step cuLaunchKernel on device 0 (grid 4 x block 256)"),
    (1, "Traceback (most recent call last):\nSyntaxError: invalid syntax\n", "podman exec",
     "the probe exited with rc 1 without a result: SyntaxError: invalid syntax"),
    (1, "cuda_probe: step cuInit\n", "cuInit", "the probe exited with rc 1 without a result during step cuInit: "
     "no output"),
])
def test_exec_failures_without_a_result(rc, stderr, step, reason):
    entry = result(rc, "", stderr)
    assert entry["status"] == "failed"
    assert entry["failed_step"] == step
    assert entry["reason"] == reason
    assert entry["exec"]["rc"] == rc
    assert entry["exec"]["timed_out"] is (rc in (124, 137, 142))


def test_exec_failure_names_the_timeout_and_the_interpreter_it_ran_with():
    assert result(124, "", "", timeout=30)["reason"] == "the probe timed out after 30 seconds"
    assert result(127, "", "", python="/usr/bin/python3.11")["reason"].startswith(
        "the interpreter was not found in the container (/usr/bin/python3.11), rc 127")


def test_results_do_not_share_state():
    doc = passed_doc()
    first = cv.container_result("a", 0, out(doc), "", 120)
    second = cv.container_result("b", 0, out(copy.deepcopy(doc)), "", 120)
    first["steps"].append("x")
    assert "x" not in second["steps"]
    assert cv.empty_result("a")["kernel_result"] is not cv.empty_result("a")["kernel_result"]


# --------------------------------------------------------------------------
# around a daemon-reload
# --------------------------------------------------------------------------

def test_worse_run_after_the_reload_wins():
    before = [result(0, passed_doc()), result(0, passed_doc()), result(1, failed_doc())]
    after = [result(0, passed_doc()), result(1, failed_doc("nvmlInit_v2", "Unknown Error")), result(0, passed_doc())]
    merged = cv.merge_after_reload(before, after)
    assert [m["status"] for m in merged] == ["passed", "failed", "failed"]
    assert merged[1]["reason"] == "after systemctl daemon-reload: nvmlInit_v2 failed: Unknown Error"
    assert merged[2]["failed_step"] == "cuCtxCreate_v2 on device 0"  # failed before, kept as it was
    assert all("container" not in m["after_daemon_reload"] for m in merged)
    assert cv.describe_failure(merged[1]) == ("ai-llm (after systemctl daemon-reload): step nvmlInit_v2: "
                                              "Unknown Error")


def test_passed_then_skipped_after_the_reload_is_a_failure():
    merged = cv.merge_after_reload([result(0, passed_doc())], [result(3, skipped_doc())])[0]
    assert merged["status"] == "failed"
    assert merged["reason"] == "passed before systemctl daemon-reload, but skipped after it: no NVIDIA driver"
    assert cv.describe_failure(merged) == ("ai-llm: step after systemctl daemon-reload: libcuda.so.1: cannot "
                                           "open shared object file")


# --------------------------------------------------------------------------
# the summary
# --------------------------------------------------------------------------

def test_summary_counts_and_message():
    passed, skipped = result(0, passed_doc()), dict(result(3, skipped_doc()), container="ai-tts")
    summary, error = cv.summarize([passed, skipped])
    assert error is None
    assert (summary["passed_count"], summary["failed_count"], summary["skipped_count"]) == (1, 0, 1)
    assert summary["msg"] == "CUDA kernel verified in 1 container(s); skipped in 1: ai-tts: no NVIDIA driver"
    assert "skipped" not in summary and "failed" not in summary  # keys Ansible would interpret
    summary, error = cv.summarize([passed], reload_done=True)
    assert summary["msg"] == "CUDA kernel verified in 1 container(s) before and after systemctl daemon-reload"


def test_summary_of_skipped_only_never_reads_as_passed():
    summary, error = cv.summarize([result(3, skipped_doc(lab=True))])
    assert error is None
    assert summary["msg"] == ("CUDA check skipped in 1 container(s), none passed: ai-llm: no NVIDIA driver "
                              "(lab CDI device)")
    summary, error = cv.summarize([result(3, skipped_doc(lab=True))], fail_on_skip=True)
    assert error == ("CUDA check skipped in 1 of 1 container(s) and fail_on_skip is true: ai-llm: no NVIDIA "
                     "driver (lab CDI device)")
    assert "msg" not in summary


def test_summary_of_failures_names_every_container_and_step():
    entries = [result(1, failed_doc()), dict(result(125, "", "Error: no such container\n"), container="c")]
    summary, error = cv.summarize(entries)
    assert error == ("CUDA check failed in 2 of 2 container(s): ai-llm: step cuCtxCreate_v2 on device 0: "
                     "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory; c: step podman exec: Error: no such container")
    assert summary["failed_count"] == 2


# --------------------------------------------------------------------------
# malformed output
# --------------------------------------------------------------------------

def test_every_document_the_probe_writes_has_the_right_shape():
    for doc in (passed_doc(), failed_doc(), skipped_doc(), skipped_doc(lab=True)):
        assert cv.shape_problem(doc) is None


@pytest.mark.parametrize("change, problem", [
    ({"gpus": {"index": 0}}, "gpus is dict, expected list"),
    ({"libraries": ["libcuda.so.1"]}, "libraries[0] is str, expected an object"),
    ({"lab": "false"}, "lab is str, expected bool"),
    ({"driver_version": 550}, "driver_version is int, expected str or null"),
    ({"kernel_result": {"ok": True, "devices_tested": "1"}}, "kernel_result.devices_tested is str, expected int"),
    ({"kernel_result": {"ok": True, "devices_tested": True}}, "kernel_result.devices_tested is bool, expected int"),
])
def test_a_document_of_the_wrong_shape_is_named(change, problem):
    doc = dict(passed_doc(), **change)
    assert cv.shape_problem(doc) == problem
    entry = result(0, doc)
    assert (entry["status"], entry["failed_step"]) == ("failed", "probe result")
    assert entry["reason"] == "the probe's result is malformed: %s" % problem
    summary, error = cv.summarize([entry])
    assert error == "CUDA check failed in 1 of 1 container(s): ai-llm: step probe result: malformed result: %s" % problem


def test_output_that_is_not_the_probes_document_is_a_failed_probe_result():
    entry = result(0, "hello from a shell profile\n" + "x" * 300)
    assert (entry["status"], entry["failed_step"]) == ("failed", "probe result")
    assert entry["error"].startswith("output is not the probe's JSON result: hello from a shell profile xxx")
    assert entry["error"].endswith("...") and len(entry["error"]) < 200
    # JSON, but another program's
    assert result(0, json.dumps({"probe": "other", "status": "passed"}))["failed_step"] == "probe result"


def test_a_failure_without_a_reason_is_still_described():
    doc = dict(failed_doc(), reason=None)
    first, second = result(0, passed_doc()), result(1, doc)
    merged = cv.merge_after_reload([first], [second])
    merged[0]["reason"] = None
    assert cv.describe_failure(merged[0]).startswith("ai-llm: step cuCtxCreate_v2 on device 0: ")


# --------------------------------------------------------------------------
# the VRAM budget
# --------------------------------------------------------------------------

def test_an_enforced_budget_is_taken_as_the_probe_proved_it():
    entry = result(0, with_budget(passed_doc(), 8192, True, "enforced", reason="VRAM budget enforced: ..."),
                   budget_mib=8192, mps=True)
    assert entry["status"] == "passed"
    assert entry["budget"]["status"] == "enforced" and entry["budget"]["vram_mib"] == 8192


def test_without_mps_a_budget_is_not_enforced_and_the_container_still_passes():
    entry = result(0, with_budget(passed_doc(), 8192, False, "not_enforced"), budget_mib=8192)
    assert (entry["status"], entry["budget"]["status"]) == ("passed", "not_enforced")


@pytest.mark.parametrize("doc_budget,mps,error", [
    (None, True, "the probe did not check the VRAM budget (an older probe?)"),
    ((4096, True, "enforced"), True, "the probe checked a budget of 4096 MiB (mps True), expected 8192 MiB "
                                     "(mps True)"),
    ((8192, False, "enforced"), False, "the probe reported the budget enforced without MPS"),
    ((8192, True, "great"), True, "the probe reported an unknown budget status 'great'"),
    ((8192, True, "not_enforced"), True, "budget status 'not_enforced' after a passed CUDA check"),
    ((8192, True, "skipped"), True, "budget status 'skipped' after a passed CUDA check"),
])
def test_a_budget_verdict_that_does_not_hold_fails_the_container(doc_budget, mps, error):
    doc = passed_doc()
    if doc_budget is not None:
        with_budget(doc, doc_budget[0], doc_budget[1], doc_budget[2])
    entry = result(0, doc, budget_mib=8192, mps=mps)
    assert entry["status"] == "failed"
    assert entry["budget"]["status"] == "failed"
    assert entry["failed_step"] == "probe result" and entry["error"] == error


def test_the_probes_failed_budget_step_is_the_containers_failed_step():
    step = "cuMemAlloc_v2 on device 0 (over the budget: 8256 MiB must fail with CUDA_ERROR_OUT_OF_MEMORY)"
    error = "RuntimeError: the allocation succeeded: the 8192 MiB budget is not enforced"
    doc = with_budget(failed_doc(step=step, error=error), 8192, True, "failed", failed_step=step, error=error)
    entry = result(1, doc, budget_mib=8192, mps=True)
    assert (entry["status"], entry["failed_step"], entry["error"]) == ("failed", step, error)
    assert entry["budget"]["failed_step"] == step


@pytest.mark.parametrize("doc,kwargs", [
    (skipped_doc(lab=True), {"lab": True}),
    (skipped_doc(), {}),
])
def test_a_skipped_container_skips_its_budget_never_passes_it(doc, kwargs):
    entry = result(3, with_budget(doc, 8192, True, "skipped"), budget_mib=8192, mps=True, **kwargs)
    assert entry["status"] == "skipped" and entry["budget"]["status"] == "skipped"
    lying = with_budget(copy.deepcopy(doc), 8192, True, "enforced")
    entry = result(3, lying, budget_mib=8192, mps=True, **kwargs)
    assert entry["status"] == "skipped" and entry["budget"]["status"] == "skipped"


def test_a_probe_without_result_leaves_the_budget_unchecked():
    entry = result(127, "", budget_mib=8192, mps=True)
    assert entry["status"] == "failed"
    assert entry["budget"]["status"] == "skipped"
    assert entry["budget"]["reason"] == "not checked: the CUDA check failed at podman exec"


def test_no_budget_asked_no_budget_judged():
    assert result(0, passed_doc())["budget"] is None
