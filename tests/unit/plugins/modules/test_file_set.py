# -*- coding: utf-8 -*-
"""file_set: one pass, atomic, only changed files, managed-only pruning."""

from __future__ import annotations

import os

from ansible_collections.ai_system.containers.plugins.modules import file_set

MARK = "# Managed by ai_system.containers\n"


def test_writes_then_reports_nothing_changed(tmp_path, run_module):
    files = {"a.container": MARK + "A\n", "sub/b.json": '{"group": 1}\n'}
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": files})
    assert not failed and result["changed"]
    assert result["written"] == ["a.container", "sub/b.json"]
    assert (tmp_path / "sub" / "b.json").read_text() == '{"group": 1}\n'
    assert oct(os.stat(tmp_path / "a.container").st_mode & 0o777) == "0o644"
    again, dummy = run_module(file_set.main, {"path": str(tmp_path), "files": files})
    assert again["changed"] is False and again["written"] == []
    assert again["unchanged"] == ["a.container", "sub/b.json"]


def test_only_the_changed_file_is_written(tmp_path, run_module):
    files = {"a.container": MARK + "A\n", "b.container": MARK + "B\n"}
    run_module(file_set.main, {"path": str(tmp_path), "files": files})
    before = os.stat(tmp_path / "a.container").st_ino
    files["b.container"] = MARK + "B2\n"
    result, dummy = run_module(file_set.main, {"path": str(tmp_path), "files": files}, diff=True)
    assert result["written"] == ["b.container"] and result["unchanged"] == ["a.container"]
    assert os.stat(tmp_path / "a.container").st_ino == before
    assert result["diff"] == [{"before_header": str(tmp_path / "b.container"),
                               "after_header": str(tmp_path / "b.container"),
                               "before": MARK + "B\n", "after": MARK + "B2\n"}]


def test_mode_change_alone_is_a_change(tmp_path, run_module):
    files = {"a": MARK}
    run_module(file_set.main, {"path": str(tmp_path), "files": files})
    result, dummy = run_module(file_set.main,
                               {"path": str(tmp_path), "files": files, "mode": "0600"})
    assert result["written"] == ["a"]
    assert os.stat(tmp_path / "a").st_mode & 0o777 == 0o600


def test_check_mode_writes_nothing(tmp_path, run_module):
    result, dummy = run_module(file_set.main, {"path": str(tmp_path / "new"), "files": {"a": MARK}},
                               check=True, diff=True)
    assert result["changed"] and result["written"] == ["a"]
    assert not (tmp_path / "new").exists()
    assert result["diff"][0]["after"] == MARK


def test_prune_removes_only_managed_matching_files(tmp_path, run_module):
    (tmp_path / "ai-old.container").write_text(MARK + "old\n")
    (tmp_path / "user.container").write_text("# the user's own unit\n")
    (tmp_path / "ai-keep.network").write_text(MARK)
    result, dummy = run_module(file_set.main, {
        "path": str(tmp_path), "files": {"ai-new.container": MARK}, "prune": True,
        "prune_patterns": ["ai-*.container"]})
    assert result["removed"] == ["ai-old.container"]
    assert sorted(os.listdir(tmp_path)) == ["ai-keep.network", "ai-new.container",
                                            "user.container"]


def test_prune_in_check_mode_keeps_files(tmp_path, run_module):
    (tmp_path / "ai-old.container").write_text(MARK)
    result, dummy = run_module(file_set.main, {"path": str(tmp_path), "files": {}, "prune": True},
                               check=True)
    assert result["removed"] == ["ai-old.container"] and result["changed"]
    assert (tmp_path / "ai-old.container").exists()


def test_unsafe_names_are_refused(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path),
                                                "files": {"../escape": "x", "/abs": "y"}})
    assert failed
    assert result["msg"] == "file names must be relative paths without '..': ../escape, /abs"


def test_bad_mode_is_refused(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {},
                                                "mode": "rw-r--r--"})
    assert failed and result["msg"] == "mode 'rw-r--r--' is not an octal mode such as '0644'"


def test_non_text_content_is_refused(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {"a": 5}})
    assert failed and result["msg"] == "file a: content must be text, got int"
