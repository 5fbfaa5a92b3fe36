# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the cuda_check module.

How one container's probe outcome is judged is ``test_cuda_verdict.py``.
Here ``run_check`` runs with a scripted runner, and ``main()`` three ways:
with a scripted runner, with a stand-in ``podman`` that drops ``exec -i
CONTAINER`` and runs the real probe source on this machine, and (marker
``podman``) against real Podman containers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_probe, cuda_run
from ansible_collections.ai_system.containers.plugins.modules import cuda_check
from ansible_collections.ai_system.containers.plugins.module_utils.verify.cuda_run import ARGUMENT_SPEC, run_check
from support.cuda_docs import failed_doc, out, passed_doc, skipped_doc, with_budget

BINS = {"podman": "/usr/bin/podman", "timeout": "/usr/bin/timeout", "systemctl": "/usr/bin/systemctl"}


def params(**kwargs):
    base = dict((name, spec.get("default")) for name, spec in ARGUMENT_SPEC.items())
    base.update(containers=["ai-llm"])
    base.update(kwargs)
    return base


class Runner(object):
    """Answers podman exec per container from a script, one answer per call."""

    def __init__(self, answers, reload_rc=0):
        self.answers = dict((name, list(replies)) for name, replies in answers.items())
        self.calls = []
        self.reload_rc = reload_rc

    def __call__(self, argv, data):
        self.calls.append((argv, data))
        if argv[-1] == "daemon-reload":
            return self.reload_rc, "", "Failed to reload daemon: Access denied" if self.reload_rc else ""
        container = argv[argv.index("--") + 1]
        reply = self.answers[container].pop(0)
        if isinstance(reply, dict):
            return cuda_probe.exit_status(reply), out(reply), ""
        return reply


def which(found=("podman", "timeout", "systemctl")):
    return lambda name: BINS[name] if name in found else None


def check(p, runner, **kwargs):
    kwargs.setdefault("sleep", lambda seconds: None)
    kwargs.setdefault("source", "# probe source\n")
    return run_check(p, runner, which(), **kwargs)


# --------------------------------------------------------------------------
# options and command lines
# --------------------------------------------------------------------------

@pytest.mark.parametrize("changes,message", [
    ({"containers": []}, "containers must name at least one container"),
    ({"containers": ["ai-llm", " "]}, "containers must not contain empty names"),
    ({"timeout": 0}, "timeout must be at least 1 second, got 0"),
    ({"kernel_elements": 0}, "kernel_elements must be at least 1, got 0"),
    ({"expect_gpus": -1}, "expect_gpus must not be negative, got -1"),
    ({"settle_seconds": -1}, "settle_seconds must not be negative, got -1"),
    ({"containers": ["ai-llm", "--privileged"]}, "containers[1] '--privileged' is not a container name: it starts "
     "with '-', which systemctl and podman would read as an option"),
    ({"containers": ["ai-llm\nx"]}, "containers[0] 'ai-llm\\nx' is not a container name: it holds white space "
     "or a control character"),
    ({"python": "-c"}, "python '-c' is not a program name: it starts with '-', which systemctl and podman "
     "would read as an option"),
])
def test_invalid_options(changes, message):
    result, error = check(params(**changes), Runner({}))
    assert error == message
    assert result["results"] == [] and result["failed_count"] == 0


@pytest.mark.parametrize("changes,message", [
    ({"budgets": {"ai-tts": 1024}}, "budgets names 'ai-tts', which is not in containers"),
    ({"budgets": {"ai-llm": 0}}, "budgets['ai-llm'] must be a whole number of MiB above 0, got 0"),
    ({"budgets": {"ai-llm": True}}, "budgets['ai-llm'] must be a whole number of MiB above 0, got True"),
    ({"mps": True}, "mps is true but budgets is empty: MPS enforces the containers' budgets"),
])
def test_invalid_budget_options(changes, message):
    result, error = check(params(**changes), Runner({}))
    assert error == message


def test_budgets_reach_the_probe_and_its_verdict():
    p = params(containers=["ai-llm", "ai-tts"], budgets={"ai-llm": 8192}, mps=True)
    assert cuda_run.probe_argv(BINS, "ai-llm", p)[-3:] == ["--budget-mib", "8192", "--mps"]
    assert "--budget-mib" not in cuda_run.probe_argv(BINS, "ai-tts", p)
    assert cuda_run.probe_argv(BINS, "ai-llm", dict(p, mps=False))[-2:] == ["--budget-mib", "8192"]
    runner = Runner({"ai-llm": [with_budget(passed_doc(), 8192, True, "enforced")], "ai-tts": [passed_doc()]})
    result, error = check(p, runner)
    assert error is None
    assert [r["budget"] and r["budget"]["status"] for r in result["results"]] == ["enforced", None]
    runner = Runner({"ai-llm": [with_budget(passed_doc(), 8192, False, "not_enforced")],
                     "ai-tts": [passed_doc()]})
    result, error = check(p, runner)
    assert error == "CUDA check failed in 1 of 2 container(s): ai-llm: step probe result: the probe checked " \
        "a budget of 8192 MiB (mps False), expected 8192 MiB (mps True)"


@pytest.mark.parametrize("missing,p,message", [
    ("podman", params(podman_path="/opt/podman"), "podman executable not found (looked for '/opt/podman' in PATH)"),
    ("timeout", params(), "timeout executable not found (looked for 'timeout' in PATH)"),
    ("systemctl", params(daemon_reload=True), "systemctl executable not found (looked for 'systemctl' in PATH)"),
])
def test_missing_executables(missing, p, message):
    found = [name for name in BINS if name != missing]
    result, error = run_check(p, Runner({}), lambda name: BINS.get(name) if name in found else None,
                              source="")
    assert error == message


def test_probe_command_line():
    argv = cuda_run.probe_argv(BINS, "ai-llm", params())
    assert argv == ["/usr/bin/timeout", "--kill-after=5", "125", "/usr/bin/podman", "exec", "-i", "--", "ai-llm",
                    "python3", "-", "--compact", "--elements", "1048576", "--deadline", "120", "--require-injected"]
    options = params(require_injected=False, lab=True, python="/usr/bin/python3.11", timeout=30, kernel_elements=64)
    argv = cuda_run.probe_argv(BINS, "x", options)
    assert argv[2] == "35" and argv[8:10] == ["/usr/bin/python3.11", "-"]
    assert argv[10:] == ["--compact", "--elements", "64", "--deadline", "30", "--lab"]


@pytest.mark.parametrize("options,reply,expected", [
    ({"expect_gpus": 1}, passed_doc(gpus=2), ("failed", "the container sees 2 GPU(s) but expect_gpus is 1")),
    ({"lab": True}, skipped_doc(), ("skipped", "no NVIDIA driver (lab CDI device)")),
    ({"timeout": 30}, (124, "", ""), ("failed", "the probe timed out after 30 seconds")),
    ({"python": "python3.11"}, (127, "", ""), ("failed", "the interpreter was not found in the container "
                                                         "(python3.11), rc 127: the interpreter was not found "
                                                         "in the container")),
])
def test_options_reach_the_verdict(options, reply, expected):
    result, dummy = check(params(**options), Runner({"ai-llm": [reply]}))
    entry = result["results"][0]
    assert (entry["status"], entry["reason"]) == expected


def test_probe_source_is_sent_on_stdin():
    runner = Runner({"ai-llm": [passed_doc()]})
    run_check(params(), runner, which())
    assert runner.calls[0][1] == cuda_probe.probe_source()


# --------------------------------------------------------------------------
# the whole check
# --------------------------------------------------------------------------

def test_all_passed():
    result, error = check(params(containers=["ai-llm", "ai-tts"]),
                          Runner({"ai-llm": [passed_doc()], "ai-tts": [passed_doc()]}))
    assert error is None
    assert result["msg"] == "CUDA kernel verified in 2 container(s)"
    assert (result["passed_count"], result["failed_count"], result["skipped_count"]) == (2, 0, 0)
    assert result["daemon_reload"] == {"requested": False, "performed": False}
    assert [r["container"] for r in result["results"]] == ["ai-llm", "ai-tts"]
    assert "skipped" not in result and "failed" not in result  # keys Ansible would interpret


def test_passed_and_skipped():
    result, error = check(params(containers=["ai-llm", "ai-tts"]),
                          Runner({"ai-llm": [passed_doc()], "ai-tts": [skipped_doc()]}))
    assert error is None
    assert result["msg"] == "CUDA kernel verified in 1 container(s); skipped in 1: ai-tts: no NVIDIA driver"


def test_only_skipped_never_reads_as_passed():
    result, error = check(params(lab=True), Runner({"ai-llm": [skipped_doc(lab=True)]}))
    assert error is None
    assert result["passed_count"] == 0 and result["skipped_count"] == 1
    assert result["msg"] == "CUDA check skipped in 1 container(s), none passed: ai-llm: no NVIDIA driver (lab CDI device)"


def test_fail_on_skip():
    result, error = check(params(containers=["a", "b"], fail_on_skip=True),
                          Runner({"a": [passed_doc()], "b": [skipped_doc(lab=True)]}))
    assert error == ("CUDA check skipped in 1 of 2 container(s) and fail_on_skip is true: "
                     "b: no NVIDIA driver (lab CDI device)")
    assert result["skipped_count"] == 1


def test_failures_name_every_container_and_step():
    runner = Runner({
        "a": [failed_doc()],
        "b": [passed_doc()],
        "c": [(125, "", 'Error: no container with name or ID "c" found: no such container\n')],
    })
    result, error = check(params(containers=["a", "b", "c"]), runner)
    assert error == (
        "CUDA check failed in 2 of 3 container(s): a: step cuCtxCreate_v2 on device 0: CUDA_ERROR_OUT_OF_MEMORY "
        "(2): out of memory; c: step podman exec: Error: no container with name or ID \"c\" found: no such container")
    assert (result["passed_count"], result["failed_count"], result["skipped_count"]) == (1, 2, 0)
    assert result["msg"] == error


def test_daemon_reload_runs_the_check_twice():
    slept = []
    runner = Runner({"a": [passed_doc(), passed_doc()]})
    result, error = check(params(containers=["a"], daemon_reload=True, settle_seconds=3), runner,
                          sleep=slept.append)
    assert error is None
    assert [call[0][-1] for call in runner.calls] == ["--require-injected", "daemon-reload", "--require-injected"]
    assert runner.calls[1] == (["/usr/bin/systemctl", "daemon-reload"], None)
    assert slept == [3]
    assert result["daemon_reload"] == {"requested": True, "performed": True}
    assert result["msg"] == "CUDA kernel verified in 1 container(s) before and after systemctl daemon-reload"
    entry = result["results"][0]
    assert entry["status"] == "passed"
    assert entry["after_daemon_reload"]["status"] == "passed"
    assert "container" not in entry["after_daemon_reload"]


def test_gpu_lost_after_daemon_reload_fails():
    lost = failed_doc("nvmlInit_v2", "Unknown Error")
    result, error = check(params(containers=["a"], daemon_reload=True), Runner({"a": [passed_doc(), lost]}))
    assert error == ("CUDA check failed in 1 of 1 container(s): a (after systemctl daemon-reload): "
                     "step nvmlInit_v2: Unknown Error")
    entry = result["results"][0]
    assert entry["status"] == "failed"
    assert entry["reason"] == "after systemctl daemon-reload: nvmlInit_v2 failed: Unknown Error"
    assert entry["kernel_result"]["ok"] is True  # the first run is kept as it was


def test_passed_then_skipped_after_reload_is_a_failure():
    result, error = check(params(containers=["a"], daemon_reload=True), Runner({"a": [passed_doc(), skipped_doc()]}))
    entry = result["results"][0]
    assert entry["status"] == "failed"
    assert entry["reason"] == "passed before systemctl daemon-reload, but skipped after it: no NVIDIA driver"
    assert error == ("CUDA check failed in 1 of 1 container(s): a: step after systemctl daemon-reload: "
                     "libcuda.so.1: cannot open shared object file")


def test_failed_before_reload_stays_failed():
    result, error = check(params(containers=["a"], daemon_reload=True), Runner({"a": [failed_doc(), passed_doc()]}))
    assert result["results"][0]["status"] == "failed"
    assert result["results"][0]["failed_step"] == "cuCtxCreate_v2 on device 0"
    assert error.startswith("CUDA check failed in 1 of 1 container(s): a: step cuCtxCreate_v2 on device 0")


def test_daemon_reload_failure():
    result, error = check(params(containers=["a"], daemon_reload=True), Runner({"a": [passed_doc()]}, reload_rc=1))
    assert error == "systemctl daemon-reload failed (rc 1): Failed to reload daemon: Access denied"
    assert result["results"][0]["status"] == "passed"
    assert result["passed_count"] == 1 and result["msg"] == error
    assert result["daemon_reload"] == {"requested": True, "performed": False}


def test_daemon_reload_is_not_run_in_check_mode():
    runner = Runner({"a": [passed_doc()]})
    result, error = check(params(containers=["a"], daemon_reload=True), runner, check_mode=True)
    assert error is None
    assert len(runner.calls) == 1
    assert result["daemon_reload"] == {"requested": True, "performed": False, "reason": "not run in check mode"}
    assert "after_daemon_reload" not in result["results"][0]


# --------------------------------------------------------------------------
# main()
# --------------------------------------------------------------------------

def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        cuda_check.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def scripted(monkeypatch):
    """main() with scripted podman answers; returns the list of commands it ran."""
    def install(answers, reload_rc=0):
        runner = Runner(answers, reload_rc)
        calls = []

        def run_command(self, argv, data=None, binary_data=False, environ_update=None, **kwargs):
            calls.append({"argv": argv, "binary_data": binary_data, "environ_update": environ_update})
            return runner(argv, data)

        monkeypatch.setattr(AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: BINS.get(name))
        return calls
    return install


def test_main_passes(scripted, capsys):
    calls = scripted({"ai-llm": [passed_doc()]})
    result = run_main({"containers": ["ai-llm"], "expect_gpus": 1}, capsys)
    assert result["changed"] is False
    assert result["msg"] == "CUDA kernel verified in 1 container(s)"
    assert result["passed_count"] == 1
    assert "failed" not in result and "skipped" not in result
    assert calls[0]["environ_update"] == {"LANG": "C", "LC_ALL": "C"}
    assert calls[0]["binary_data"] is True


def test_main_fails_naming_container_and_step(scripted, capsys):
    scripted({"ai-llm": [failed_doc()]})
    result = run_main({"containers": ["ai-llm"]}, capsys)
    assert result["failed"] is True
    assert result["msg"] == ("CUDA check failed in 1 of 1 container(s): ai-llm: step cuCtxCreate_v2 on device 0: "
                             "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory")
    assert result["failed_count"] == 1
    assert result["results"][0]["status"] == "failed"


def test_main_lab_is_skipped_and_succeeds(scripted, capsys):
    scripted({"ai-llm": [skipped_doc(lab=True)]})
    result = run_main({"containers": ["ai-llm"], "lab": True}, capsys)
    assert "failed" not in result and "skipped" not in result
    assert result["skipped_count"] == 1 and result["passed_count"] == 0


def test_main_option_errors(scripted, capsys):
    scripted({})
    result = run_main({"containers": ["ai-llm"], "timeout": 0}, capsys)
    assert result["failed"] is True and result["msg"] == "timeout must be at least 1 second, got 0"
    result = run_main({}, capsys)
    assert result["failed"] is True and "containers" in result["msg"]


def test_container_name_starting_with_dash_is_refused_in_cuda_check(scripted, capsys):
    calls = scripted({})
    result = run_main({"containers": ["-it"]}, capsys)
    assert result["failed"] is True
    assert result["msg"] == ("containers[0] '-it' is not a container name: it starts with '-', which systemctl "
                             "and podman would read as an option")
    assert calls == []


@pytest.mark.parametrize("stdout", [
    "Traceback (most recent call last):\n  File \"<stdin>\", line 1\nSyntaxError: invalid syntax\n",
    "{\"probe\": \"ai_system.cuda_probe\", \"status\": \"passed\"",
    "\x00\xff binary \x1b[31m",
])
def test_cuda_probe_output_not_json_fails_cleanly(scripted, capsys, stdout):
    scripted({"ai-llm": [(0, stdout, "")]})
    result = run_main({"containers": ["ai-llm"]}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("CUDA check failed in 1 of 1 container(s): ai-llm: step probe result: output "
                                    "is not the probe's JSON result: ")
    assert result["results"][0]["status"] == "failed"


@pytest.mark.parametrize("field, value, problem", [
    ("gpus", "GPU-0", "gpus is str, expected list"),
    ("gpus", [1, 2], "gpus[0] is int, expected an object"),
    ("kernel_result", [], "kernel_result is list, expected dict"),
    ("kernel_result", {"ok": "yes", "devices_tested": 1}, "kernel_result.ok is str, expected bool"),
    ("status", ["passed"], "status is list, expected str"),
    ("steps", None, "steps is null, expected list"),
    ("total_ms", True, "total_ms is bool, expected int or float"),
    ("reason", {"x": 1}, "reason is dict, expected str or null"),
])
def test_cuda_probe_result_of_the_wrong_shape_fails_cleanly(scripted, capsys, field, value, problem):
    doc = passed_doc()
    doc[field] = value
    scripted({"ai-llm": [(0, json.dumps(doc), "")]})
    result = run_main({"containers": ["ai-llm"]}, capsys)
    assert result["failed"] is True
    assert result["msg"] == ("CUDA check failed in 1 of 1 container(s): ai-llm: step probe result: malformed "
                             "result: %s" % problem)


def test_main_daemon_reload_failure(scripted, capsys):
    scripted({"a": [passed_doc()]}, reload_rc=1)
    result = run_main({"containers": ["a"], "daemon_reload": True}, capsys)
    assert result["failed"] is True
    assert result["msg"] == "systemctl daemon-reload failed (rc 1): Failed to reload daemon: Access denied"


# --------------------------------------------------------------------------
# the real probe through a stand-in podman, and through real Podman
# --------------------------------------------------------------------------

STAND_IN = """#!/bin/sh
# podman exec -i -- CONTAINER PYTHON - ARGS: run PYTHON - ARGS here.
[ "$1" = exec ] && [ "$2" = -i ] && [ "$3" = -- ] || exit 125
container=$4
shift 4
case "$container" in
    missing) echo "Error: no container with name or ID \\"missing\\" found: no such container" >&2; exit 125 ;;
    lab) AI_SYSTEM_LAB_CDI=1; export AI_SYSTEM_LAB_CDI ;;
    *) unset AI_SYSTEM_LAB_CDI ;;
esac
exec "$@"
"""


def host_has_driver():
    try:
        import ctypes
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


@pytest.fixture
def stand_in_podman(tmp_path):
    path = tmp_path / "podman"
    path.write_text(STAND_IN)
    path.chmod(0o755)
    return str(path)


@pytest.mark.skipif(host_has_driver(), reason="this host has an NVIDIA driver")
def test_real_probe_through_stand_in_podman(stand_in_podman, capsys):
    result = run_main({"containers": ["lab", "plain", "missing"], "podman_path": stand_in_podman,
                       "python": sys.executable, "kernel_elements": 256, "timeout": 60}, capsys)
    assert result["failed"] is True
    by_name = dict((r["container"], r) for r in result["results"])
    assert by_name["lab"]["status"] == "skipped"
    assert by_name["lab"]["reason"] == "no NVIDIA driver (lab CDI device)"
    assert by_name["plain"]["status"] == "skipped"
    assert by_name["plain"]["reason"] == "no NVIDIA driver"
    assert by_name["plain"]["exec"]["rc"] == cuda_probe.EXIT_SKIPPED
    assert [s["step"] for s in by_name["plain"]["steps"]] == ["dlopen", "dlopen"]
    assert by_name["missing"]["status"] == "failed"
    assert result["msg"] == ('CUDA check failed in 1 of 3 container(s): missing: step podman exec: Error: no '
                             'container with name or ID "missing" found: no such container')
    assert (result["passed_count"], result["failed_count"], result["skipped_count"]) == (0, 1, 2)


@pytest.mark.skipif(host_has_driver(), reason="this host has an NVIDIA driver")
def test_real_probe_times_out_through_stand_in_podman(tmp_path, capsys):
    slow = tmp_path / "podman"
    slow.write_text("#!/bin/sh\necho 'cuda_probe: step cuInit' >&2\nexec sleep 30\n")
    slow.chmod(0o755)
    result = run_main({"containers": ["c"], "podman_path": str(slow), "timeout": 1}, capsys)
    entry = result["results"][0]
    assert entry["status"] == "failed" and entry["exec"]["timed_out"] is True
    assert entry["reason"] == "the probe timed out after 1 seconds during step cuInit"


def podman_can_run():
    podman = shutil.which("podman")
    if not podman or os.geteuid() != 0:
        return False
    env = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1")
    try:
        proc = subprocess.run([podman, "info", "--format", "{{.Host.OCIRuntime.Name}}"], capture_output=True,
                              env=env, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


@pytest.fixture
def rootfs_container(tmp_path, monkeypatch):
    """Start containers on a root file system that shares the host's /usr (no image needed)."""
    monkeypatch.setenv("PODMAN_IGNORE_CGROUPSV1_WARNING", "1")
    rootfs = tmp_path / "rootfs"
    for name in ("proc", "dev", "sys", "tmp", "etc", "run", "var", "usr"):
        (rootfs / name).mkdir(parents=True)
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.isdir("/usr/" + name):
            (rootfs / name).symlink_to("usr/" + name)
    started = []

    def start(*extra):
        name = "ai-cuda-check-test-%s" % uuid.uuid4().hex[:8]
        argv = ["podman", "run", "-d", "--name", name, "--network", "none", "-v", "/usr:/usr:ro"] + list(extra) + [
            "--rootfs", str(rootfs), "/usr/bin/sleep", "300"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            pytest.skip("podman cannot run a container here: %s" % proc.stderr.strip())
        started.append(name)
        return name

    yield start
    for name in started:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=120, check=False)


@pytest.mark.podman
@pytest.mark.skipif(not podman_can_run(), reason="needs root and a working podman")
@pytest.mark.skipif(host_has_driver(), reason="this host has an NVIDIA driver")
def test_real_podman_exec(rootfs_container, capsys):
    # The variable is what the lab CDI spec injects (roles/nvidia_toolkit, lab mode).
    lab = rootfs_container("-e", "AI_SYSTEM_LAB_CDI=1")
    plain = rootfs_container()
    result = run_main({"containers": [lab, plain], "kernel_elements": 256, "timeout": 60}, capsys)
    assert "failed" not in result
    by_name = dict((r["container"], r) for r in result["results"])
    assert (by_name[lab]["status"], by_name[lab]["reason"]) == ("skipped", "no NVIDIA driver (lab CDI device)")
    assert (by_name[plain]["status"], by_name[plain]["reason"]) == ("skipped", "no NVIDIA driver")
    assert by_name[plain]["python"]  # the container's own interpreter ran the probe
    assert result["passed_count"] == 0 and result["skipped_count"] == 2
    failed = run_main({"containers": [plain], "python": "python-missing"}, capsys)
    assert failed["failed"] is True
    assert failed["results"][0]["failed_step"] == "podman exec"


# --------------------------------------------------------------------------
# documentation
# --------------------------------------------------------------------------

def test_documentation_matches_the_argument_spec_and_the_result():
    doc = yaml.safe_load(cuda_check.DOCUMENTATION)
    assert set(doc["options"]) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        option = doc["options"][name]
        assert option["type"] == spec["type"], name
        assert option.get("default") == spec.get("default"), name
        assert option.get("required", False) == spec.get("required", False), name
        assert option.get("elements") == spec.get("elements"), name
    returned = yaml.safe_load(cuda_check.RETURN)
    result = check(params(containers=["a"], daemon_reload=True), Runner({"a": [passed_doc()] * 2}))[0]
    assert set(result) == set(returned)
    for key, entry in returned.items():
        assert {"description", "returned", "type", "sample"} <= set(entry), key
    entry_keys = set(returned["results"]["contains"])
    assert set(result["results"][0]) == entry_keys
    for key, entry in returned["results"]["contains"].items():
        assert {"description", "returned", "type", "sample"} <= set(entry), key
    yaml.safe_load(cuda_check.EXAMPLES)
