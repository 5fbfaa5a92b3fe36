# -*- coding: utf-8 -*-
"""The preflight_report action: one controller step writes preflight.json and
preflight.md from every host's preflight result, nothing in check mode, and
a host without a result fails naming it."""

from __future__ import annotations

import json

from ansible_collections.ai_system.containers.plugins.action import preflight_report
from support.actions import make_action


def _run(args, check_mode=False):
    return make_action(preflight_report, args, check_mode).run(task_vars={})


def host_result(host, ready):
    status = "ready" if ready else "not ready"
    return {
        "ready": ready,
        "counts": {"ready": 8 if ready else 7, "not ready": 0 if ready else 1, "warning": 0, "skipped": 1},
        "platform": {"os": "Ubuntu 22.04.5 LTS", "wsl": 2 if host == "mainpc" else None},
        "items": [{"name": "disk", "title": "free disk", "status": status, "evidence": "12 GiB free",
                   "fix": None if ready else "free 8 GiB", "reason": None}],
        "markdown": "## %s: %s\n\n| item | status |\n|---|---|\n| disk | %s |\n" % (
            host, status.upper(), status),
        # What the report does not keep.
        "text": ["%s: %s" % (host, status.upper())],
        "failing": [], "warning_lines": [], "changed": False,
    }


def test_both_files_are_written_in_the_hosts_order(tmp_path):
    results = {"pc2": host_result("pc2", False), "mainpc": host_result("mainpc", True)}
    got = _run({"results": results, "hosts": ["mainpc", "pc2"], "dest": str(tmp_path / "reports")})
    assert not got.get("failed"), got.get("msg")
    assert got["changed"] is False and got["written"] is True and got["ready"] is False
    document = json.loads((tmp_path / "reports" / "preflight.json").read_text())
    assert document["format"] == 1 and document["ready"] is False
    assert sorted(document["hosts"]) == ["mainpc", "pc2"]
    assert document["hosts"]["mainpc"] == {key: results["mainpc"][key]
                                           for key in ("ready", "counts", "platform", "items")}
    markdown = (tmp_path / "reports" / "preflight.md").read_text()
    assert markdown.startswith("# AI system preflight %s\n\n## mainpc: READY" % document["generated_at"])
    assert markdown.index("## mainpc: READY") < markdown.index("## pc2: NOT READY")
    assert got["files"] == {"json": str(tmp_path / "reports" / "preflight.json"),
                            "markdown": str(tmp_path / "reports" / "preflight.md")}


def test_check_mode_writes_nothing(tmp_path):
    got = _run({"results": {"pc2": host_result("pc2", True)}, "hosts": ["pc2"],
                "dest": str(tmp_path / "reports")}, check_mode=True)
    assert not got.get("failed") and got["written"] is False and got["ready"] is True
    assert not (tmp_path / "reports").exists()


def test_a_host_without_a_preflight_result_fails_naming_it(tmp_path):
    results = {"mainpc": host_result("mainpc", True), "pc2": {"skipped": True, "changed": False}}
    got = _run({"results": results, "hosts": ["mainpc", "pc2"], "dest": str(tmp_path)})
    assert got["failed"]
    assert got["msg"] == ("results[pc2] is not the preflight module's result: ready, counts, platform, "
                          "items, markdown missing (did the host's preflight task run?)")
    assert not (tmp_path / "preflight.json").exists()


def test_an_unwritable_directory_fails_saying_where(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    got = _run({"results": {"pc2": host_result("pc2", True)}, "hosts": ["pc2"], "dest": str(blocker)})
    assert got["failed"] and got["msg"].startswith("Cannot write the preflight report under %s: " % blocker)
