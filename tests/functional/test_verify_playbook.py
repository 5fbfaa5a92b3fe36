# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/verify.yml through ansible-runner, both hosts on this machine.

Nothing of the stack runs here, so every check that can run must fail, and
the report must say so per host and phase, while the playbook itself
completes: every phase registers its result and the report judges it.
"""

from __future__ import annotations

import json
import sys

import yaml

REPORT_TASK = "Judge every host's results and write the report"
HOST_TASK = "Run the host's checks, all at the same time, in one call"
# 10 agent groups and Redis on mainpc, and each host's pod unit (ai_network_mode: pod)
UNITS = {"mainpc": 12, "pc2": 7}


def extra(tmp_path, **more):
    values = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
              "ai_verify_become": False, "ai_verify_report_dir": str(tmp_path / "reports"),
              "ai_verify_zmq_timeout": 0.5}
    values.update(more)
    return values


def test_nothing_running_fails_every_phase_and_writes_one_report(playbook, tmp_path):
    run = playbook("playbooks/verify.yml", "inventory/production", extra(tmp_path))
    assert run.rc != 0
    failures = run.failures()
    assert [f["task"] for f in failures] == ["Fail on the problems found"]
    res = run.task_results(REPORT_TASK)["mainpc"]
    assert res["ok"] is False and res["written"] is True
    assert res["counts"]["passed"] == 0 and res["counts"]["skipped"] == 0
    for host, count in UNITS.items():
        assert res["report"]["hosts"][host]["verified"] is True
        assert res["report"]["checks"]["units"]["failed"] == sum(UNITS.values())
        assert any(p.startswith("%s: GPU: " % host) for p in res["problems"])
        assert any(p.startswith("%s: CUDA in " % host) or p.startswith("%s: cuda_check did not run" % host)
                   for p in res["problems"])
    assert failures[0]["res"]["msg"].startswith("Verification FAILED: 0 passed, ")

    reports = tmp_path / "reports"
    names = sorted(p.name for p in reports.iterdir())
    assert names[:3] == ["latest.json", "latest.md", "latest.xml"] and len(names) == 6
    assert names[3].startswith("verify-") and names[3].endswith("Z.json")
    assert json.loads((reports / "latest.json").read_text()) == json.loads(
        (reports / names[3]).read_text())
    assert (reports / "latest.xml").read_text() == (reports / names[5]).read_text()
    markdown = (reports / "latest.md").read_text()
    assert "```mermaid\nflowchart LR\n" in markdown and '-.->|"broken ' in markdown
    shown = run.task_results("Show the report")["mainpc"]["msg"]
    assert shown[0].startswith("AI system verification ") and "FAILED" in shown[0]


def test_check_mode_judges_but_writes_nothing(playbook, tmp_path):
    run = playbook("playbooks/verify.yml", "inventory/production", extra(tmp_path), check=True)
    assert run.rc != 0
    res = run.task_results(REPORT_TASK)["mainpc"]
    assert res["written"] is False and res["problems"]
    assert res["text"][-1].endswith("(check mode: not written)")
    assert not (tmp_path / "reports").exists()


def test_report_alone_marks_every_phase_not_checked(playbook, tmp_path):
    run = playbook("playbooks/verify.yml", "inventory/production", extra(tmp_path), tags="verify_report")
    assert run.rc == 0, run.failures()
    res = run.task_results(REPORT_TASK)["mainpc"]
    assert res["ok"] is True and res["complete"] is False
    assert res["counts"]["passed"] == 0 and res["counts"]["failed"] == 0
    assert "pc2: units: not checked in this run (7 units)" in res["skipped_checks"]
    assert (tmp_path / "reports" / "latest.md").exists()


def test_tags_choose_the_checks_of_the_one_host_checks_call(playbook, tmp_path):
    """--tags verify_units,verify_report: host_checks runs the unit check only; the
    other phases are reported as not checked, never as passed."""
    run = playbook("playbooks/verify.yml", "inventory/production", extra(tmp_path),
                   tags="verify_units,verify_report")
    calls = run.task_results(HOST_TASK)
    assert sorted(calls) == ["mainpc", "pc2"]
    for host, res in calls.items():
        assert res["checks_run"] == ["units"], res["msg"]
        assert res["gpu"] is None and res["zmq"] is None and res["firewall"] is None
    res = run.task_results(REPORT_TASK)["mainpc"]
    assert res["report"]["checks"]["units"]["failed"] == sum(UNITS.values())
    assert res["counts"]["passed"] == 0
    assert "pc2: units: not checked in this run (7 units)" not in res["skipped_checks"]
    assert any(line.startswith("pc2: links: not checked in this run") for line in res["skipped_checks"])


def test_site_tag_verify_runs_every_check(playbook, tmp_path):
    """site.yml gives the whole of verify.yml the tag verify: --tags verify runs every check."""
    run = playbook("playbooks/verify.yml", "inventory/production", extra(tmp_path), tags="verify")
    calls = run.task_results(HOST_TASK)
    assert calls["mainpc"]["checks_run"] == ["gpu", "cuda", "units", "zmq", "firewall"]


def test_fail_on_skip_fails_a_run_with_skipped_checks(playbook, tmp_path):
    run = playbook("playbooks/verify.yml", "inventory/production",
                   extra(tmp_path, ai_verify_fail_on_skip=True), tags="verify_report")
    assert run.rc != 0
    assert run.task_results(REPORT_TASK)["mainpc"]["ok"] is False


def test_stack_report_fails_by_default_with_one_line_per_problem(playbook, tmp_path):
    book = tmp_path / "report.yml"
    book.write_text(yaml.safe_dump([{
        "name": "Report without results", "hosts": "ai_hosts", "gather_facts": False,
        "tasks": [
            {"name": "Plan", "ai_system.containers.stack_plan": None, "run_once": True,
             "register": "stack"},
            {"name": "Report", "ai_system.containers.stack_report": {
                "plan": "{{ stack.plan }}", "results": {}, "hosts": ["mainpc", "pc2"],
                "dest": str(tmp_path / "out")}, "run_once": True},
        ]}]))
    run = playbook(str(book), "inventory/production", {"ansible_connection": "local"})
    assert run.rc != 0
    failure = run.failures()[0]
    assert failure["task"] == "Report"
    lines = failure["res"]["msg"].splitlines()
    assert lines[0].startswith("Verification FAILED: 0 passed, ")
    assert lines[1:] == [
        "- mainpc: not verified: no results: unreachable, or failed before its checks ran (1 GPU check, "
        "2 CUDA checks, 12 units, 10 links, 48 health sockets, 1 firewall check)",
        "- pc2: not verified: no results: unreachable, or failed before its checks ran (1 GPU check, "
        "1 CUDA check, 7 units, 5 links, 27 health sockets, 1 firewall check)"]
    assert (tmp_path / "out" / "latest.json").exists()
