# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_checks: a host's checks in one call, each result what its module alone returns.

The stand-ins are the single modules' own: the fake NVML of test_gpu_facts,
the scripted probes of test_cuda_check, the FakeHost of test_unit_health and
the fake nft of test_nft_table; the ZMQ part runs the real checks against
real REP sockets through a stand-in podman, as test_zmq_check does.
"""

from __future__ import annotations

import json
import sys
import time

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

import test_cuda_check as cuda_t
import test_gpu_facts as gpu_t
import test_unit_health as units_t
import test_zmq_check as zmq_t
from ansible_collections.ai_system.containers.plugins.module_utils.verify import host_checks as hc
from ansible_collections.ai_system.containers.plugins.module_utils.verify.verify_checks import VERIFY_CHECKS, VerifyCheck
from ansible_collections.ai_system.containers.plugins.module_utils.host import nft_run, nft_state
from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_run, nvml_facts
from ansible_collections.ai_system.containers.plugins.modules import (
    cuda_check, gpu_facts, host_checks, nft_table, unit_health, zmq_check,
)
from support.cuda_docs import failed_doc, passed_doc

# Fixtures of test_zmq_check, used here as they are there.
peer = zmq_t.peer
fake_podman = zmq_t.fake_podman

NFT = "/usr/sbin/nft"
LAN, SUBNET = "10.0.0.17", "172.21.0.0/16"
OPENING = {"port": 7140, "proto": "tcp", "source": "10.0.0.16", "source_host": "mainpc",
           "group": "store", "agent": "Memory"}
#: Keys whose values are times, different from one run to the next.
#: What AnsibleModule.exit_json adds about an existing "path" of a result.
PATH_INFO = ("uid", "gid", "owner", "group", "mode", "state", "size", "secontext")
TIMES = {"elapsed_s", "elapsed_ms", "rtt_ms", "total_ms", "uptime_s"}


def untimed(value):
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


class Host:
    """One fake host for every check: NVML, podman exec (CUDA probes), systemctl
    and podman inspect (units), nft; the ZMQ checks' podman runs for real."""

    def __init__(self, monkeypatch, nvml, zmq_podman, cuda_answers, table_loaded=True):
        self.calls = []
        self.zmq_podman = zmq_podman
        self.nvml = nvml()
        self.cuda = cuda_t.Runner(cuda_answers)
        self.units = units_t.healthy_host()
        wanted = nft_state.wanted_table("ai_system", LAN, SUBNET, [OPENING])
        listing = {"nftables": [{"table": {"family": "inet", "name": "ai_system"}}]}
        self.nft_answer = (0, json.dumps(listing), "") if table_loaded else (1, "", "Error: No such file or directory")
        self.wanted = wanted
        real_run_command = basic.AnsibleModule.run_command
        host = self

        def run_command(module, argv, data=None, binary_data=False, environ_update=None, **kwargs):
            host.calls.append(list(argv))
            if argv[0] == host.zmq_podman:
                return real_run_command(module, argv, data=data, binary_data=binary_data,
                                        environ_update=environ_update, **kwargs)
            if argv[0] == "/usr/bin/timeout":
                return host.cuda(argv, data)
            if argv[0] == NFT:
                assert argv[1] != "-f", "the firewall check must not load the table"
                return host.nft_answer
            return host.units.run(argv)

        def get_bin_path(module, name, required=False, opt_dirs=None):
            if name == "nft":
                return NFT
            return cuda_t.BINS.get(name) or host.units.which(name)

        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
        monkeypatch.setattr(nvml_facts, "load_nvml", lambda: (self.nvml, "pynvml"))
        monkeypatch.setattr(nvml_facts, "read_kernel_driver", lambda: None)
        # As test_nft_table does: a listing that holds the plan's rules.
        real_loaded_table = nft_run.loaded_table
        monkeypatch.setattr(nft_run, "loaded_table", lambda doc, name: real_loaded_table(None, name) if doc is None
                            else nft_state.LoadedTable(name, True, tuple(wanted.keys())))


def run_main(main, args, capsys, check=False):
    with patch_module_args(dict(args, _ansible_check_mode=check)), pytest.raises(SystemExit):
        main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def host(monkeypatch, nvml, fake_podman, peer, tmp_path):
    """The fake host, and the options of every check (the ZMQ ones against live sockets)."""
    healthy, degraded = peer(zmq_t.OK_REPLY), peer(zmq_t.DEGRADED_REPLY)
    refused = zmq_t.closed_port()
    podman = fake_podman('exec "$@"')
    fake = Host(monkeypatch, nvml, podman, {"ai-llm": [passed_doc()] * 2, "ai-tts": [failed_doc()] * 2})
    path = tmp_path / "firewall.nft"
    path.write_text(nft_state.render(fake.wanted, nft_run.HEADER))
    options = {
        "gpu": {"required": True, "vram_budgets": {"llm": 8000, "tts": 2000}, "vram_reserve_mib": 512},
        "cuda": {"containers": ["ai-llm", "ai-tts"], "daemon_reload": False},
        "units": {"units": units_t.UNITS, "fail_on_error": False},
        "zmq": {"containers": [
            {"container": "pc2-memory-system", "endpoints": [
                {"name": "Memory", "address": "127.0.0.1", "port": healthy.port, "kind": "health"},
                {"name": "Slow", "address": "127.0.0.1", "port": degraded.port, "kind": "health"}]},
            {"container": "pc2-redis", "endpoints": [
                {"name": "Gone", "address": "127.0.0.1", "port": refused}]}],
            "podman_path": podman, "container_python": sys.executable, "timeout": 1.0, "fail_on_error": False},
        "firewall": {"lan_address": LAN, "subnet": SUBNET, "openings": [OPENING], "path": str(path)},
    }
    fake.options = options
    return fake


@pytest.fixture
def nvml(monkeypatch):
    return lambda: gpu_t.FakeNvml(total_mib=12288)


SINGLE = {"gpu": gpu_facts.main, "cuda": cuda_check.main, "units": unit_health.main, "zmq": zmq_check.main,
          "firewall": nft_table.main}


def test_each_check_returns_what_its_module_returns_alone(host, capsys):
    together = run_main(host_checks.main, host.options, capsys)
    assert together["changed"] is False and "failed" not in together
    assert together["checks_run"] == ["gpu", "cuda", "units", "zmq", "firewall"]
    # cuda fails (one container's kernel failed): its own result says so, the task does not fail.
    assert together["failed_checks"] == ["cuda"]
    for key, main in SINGLE.items():
        alone = run_main(main, host.options[key], capsys, check=key == "firewall")
        mine = together[key]
        assert mine["failed"] is bool(alone.pop("failed", False)), key
        assert isinstance(mine["elapsed_s"], float) and mine["elapsed_s"] >= 0
        mine = {k: v for k, v in mine.items() if k != "failed"}
        alone.pop("invocation", None)
        # exit_json adds the file's attributes to a result with a "path" (nft_table's file).
        for name in PATH_INFO:
            alone.pop(name, None)
        assert untimed(mine) == untimed(alone), key
    # What the report reads is there.
    assert together["gpu"]["available"] is True and together["gpu"]["vram_check"]["ok"] is True
    assert together["cuda"]["passed_count"] == 1 and together["cuda"]["failed_count"] == 1
    assert together["units"]["ok_count"] == 2
    zmq = together["zmq"]["containers"]
    assert [e["verdict"] for e in zmq["pc2-memory-system"]["endpoints"]] == ["healthy", "degraded"]
    assert zmq["pc2-redis"]["endpoints"][0]["reason"] == "connection refused"
    assert together["firewall"]["matches"] is True and together["firewall"]["file_matches"] is True


def test_checks_left_out_are_not_run_and_are_null(host, capsys):
    result = run_main(host_checks.main, {"units": host.options["units"], "gpu": None}, capsys)
    assert result["checks_run"] == ["units"]
    assert result["gpu"] is None and result["cuda"] is None and result["zmq"] is None
    assert result["firewall"] is None
    assert {c[0] for c in host.calls} == {"/usr/bin/systemctl", "/usr/bin/podman"}
    assert run_main(host_checks.main, {}, capsys)["msg"] == "no checks given"


def test_the_firewall_is_only_compared_even_outside_check_mode(host, capsys):
    host.nft_answer = (1, "", "Error: No such file or directory")
    result = run_main(host_checks.main, {"firewall": host.options["firewall"]}, capsys)
    firewall = result["firewall"]
    assert firewall["failed"] is False and firewall["present"] is False and firewall["matches"] is False
    assert firewall["loaded"] is False and firewall["file_written"] is False
    assert all(c[1:2] == ["-j"] for c in host.calls)


def test_a_check_that_raises_fails_alone_with_a_clear_message(host, capsys, monkeypatch):
    def broken(params):
        raise RuntimeError("NVML went away")

    monkeypatch.setattr(nvml_facts, "gather", broken)
    result = run_main(host_checks.main, host.options, capsys)
    assert "failed" not in result
    gpu = result["gpu"]
    assert gpu["failed"] is True
    assert gpu["msg"] == "gpu (gpu_facts) raised RuntimeError: NVML went away"
    assert "Traceback" in gpu["exception"]
    assert result["failed_checks"] == ["gpu", "cuda"]
    assert result["units"]["failed"] is False and result["units"]["ok_count"] == 2
    assert result["zmq"]["ok_count"] == 2 and result["firewall"]["matches"] is True


def test_invalid_options_fail_that_check_only(host, capsys):
    options = dict(host.options, cuda={"daemon_reload": "maybe"}, zmq={"containers": [], "endpoints": []})
    result = run_main(host_checks.main, options, capsys)
    assert result["failed_checks"] == ["cuda", "zmq"]
    assert result["cuda"]["msg"].startswith("invalid options for cuda (cuda_check): ")
    assert "containers" in result["cuda"]["msg"] and "daemon_reload" in result["cuda"]["msg"]
    assert result["zmq"]["msg"].startswith("invalid options for zmq (zmq_check): ")
    assert "mutually exclusive" in result["zmq"]["msg"]
    assert result["gpu"]["failed"] is False and result["units"]["failed"] is False


def test_a_failing_module_result_keeps_its_message(host, capsys):
    """unit_health with fail_on_error fails: the check carries failed and the module's msg."""
    host.units = units_t.FakeHost(blocks=[units_t.show_block(u["service"], active="failed", sub="failed",
                                                             result="exit-code") for u in units_t.UNITS],
                                  containers=[units_t.inspected("pc2-redis"), units_t.inspected("pc2-memory-system")])
    result = run_main(host_checks.main, {"units": dict(host.options["units"], fail_on_error=True)}, capsys)
    units = result["units"]
    assert units["failed"] is True and units["failed_count"] == 2
    assert units["msg"].splitlines()[0].startswith("ai-pc2-redis.service: unit is failed")


def test_checks_run_at_the_same_time():
    """Five checks of 0.3 s each take about 0.3 s together, not 1.5 s."""
    def slow(view):
        time.sleep(0.3)
        return {"changed": False, "seen": view.params["x"], "check_mode": view.check_mode}

    checks = [VerifyCheck(key, key, {"x": {"type": "int", "default": 1}}, slow,
                          check_mode=True if key == "e" else None) for key in "abcde"]

    class Module:
        params = {"a": {}, "b": {"x": "2"}, "c": {}, "d": {}, "e": {}}
        check_mode = False

    started = time.monotonic()
    result = hc.run_checks(Module(), checks)
    took = time.monotonic() - started
    assert took < 0.9, took
    assert result["b"]["seen"] == 2 and result["a"]["seen"] == 1
    assert [result[k]["check_mode"] for k in "abcde"] == [False] * 4 + [True]
    assert all(0.29 <= result[k]["elapsed_s"] < 0.9 for k in "abcde")
    assert result["elapsed_s"] < 0.9


def test_every_check_module_is_registered_once():
    assert [c.name for c in VERIFY_CHECKS] == ["gpu", "cuda", "units", "zmq", "firewall", "prometheus"]
    assert [c.module for c in VERIFY_CHECKS] == ["gpu_facts", "cuda_check", "unit_health", "zmq_check",
                                                 "nft_table", "prometheus_check"]
    assert VERIFY_CHECKS[1].argument_spec is cuda_check.ARGUMENT_SPEC is cuda_run.ARGUMENT_SPEC
    assert VERIFY_CHECKS[3].argument_spec is zmq_check.ARGUMENT_SPEC


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(host_checks.DOCUMENTATION)
    # Besides one option per check, plan, phases and settings, which the action plugin reads.
    assert set(doc["options"]) == set(host_checks.ARGUMENT_SPEC) == {c.name for c in VERIFY_CHECKS} | {
        "plan", "phases", "settings"}
    assert set(doc["options"]["settings"]["suboptions"]) == set(host_checks.SETTINGS_SPEC)
    returned = yaml.safe_load(host_checks.RETURN)
    assert {c.name for c in VERIFY_CHECKS} <= set(returned)
    yaml.safe_load(host_checks.EXAMPLES)


def test_the_health_probe_source_is_read_once_for_all_threads():
    """Containers are checked from several threads; the probe's source is read
    once under a lock (reading it from a zip payload is not thread-safe)."""
    from concurrent.futures import ThreadPoolExecutor

    from ansible_collections.ai_system.containers.plugins.module_utils.verify import zmq_run

    del zmq_run._SOURCE[:]
    with ThreadPoolExecutor(max_workers=16) as pool:
        texts = list(pool.map(lambda dummy: zmq_run._health_source(), range(64)))
    assert len(set(texts)) == 1 and "def judge_reply" in texts[0]
    assert len(zmq_run._SOURCE) == 1


def test_a_plan_reaching_the_module_is_refused(capsys):
    """plan, phases and settings are the action plugin's: the module on the host never takes them."""
    result = run_main(host_checks.main, {"plan": {"checks": {}}, "phases": ["verify_units"]}, capsys)
    assert result["failed"] is True and "action plugin on the controller" in result["msg"]
