# -*- coding: utf-8 -*-
"""atomic_file.write_text: the old text or the new, never a part."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.common import atomic_file


@pytest.mark.parametrize("durable", [False, True])
def test_replaces_the_text_and_sets_the_mode(tmp_path, durable):
    path = tmp_path / "record.json"
    path.write_text("old")
    atomic_file.write_text(str(path), "new", mode=0o600, durable=durable)
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["record.json"]


def test_a_failed_write_leaves_the_old_text_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "latest.json"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_file.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_file.write_text(str(path), "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["latest.json"]


def test_the_data_reaches_the_disk_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    """A power cut must leave the old file or the new one, never an empty one."""
    path = tmp_path / "record.json"
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        kind = "directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append("fsync " + kind)
        real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_file.os, "fsync", fsync)
    monkeypatch.setattr(atomic_file.os, "replace", replace)
    atomic_file.write_text(str(path), "new")
    assert events == ["fsync file", "rename", "fsync directory"]
    assert path.read_text() == "new"
