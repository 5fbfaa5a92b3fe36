# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for host_dirs: the host directories a host's groups mount, created
in one call on a real file system."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.ai_system.containers.plugins.modules import host_dirs

ROOT = os.geteuid() == 0


def _mode(path):
    return "%04o" % stat.S_IMODE(os.stat(path).st_mode)


def test_missing_directories_are_created_with_their_owner_group_and_mode(run_module, tmp_path):
    me, my_group = str(os.getuid()), str(os.getgid())
    dirs = [{"path": str(tmp_path / "data"), "owner": me, "group": my_group, "mode": "0750"},
            {"path": str(tmp_path / "parent" / "shared"), "owner": me, "group": my_group, "mode": "1777"}]
    result, failed = run_module(host_dirs.main, {"dirs": dirs, "host": "mainpc"}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["created"] == [d["path"] for d in dirs] and result["present"] == []
    assert _mode(tmp_path / "data") == "0750"
    assert _mode(tmp_path / "parent" / "shared") == "1777"
    assert result["diff"][0]["before"] == "absent\n"
    assert result["diff"][0]["after"] == "directory %s:%s 0750\n" % (me, my_group)


def test_existing_directories_are_left_exactly_as_they_are(run_module, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o1777)
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": str(data), "mode": "0755"}]})
    assert not failed
    assert result["changed"] is False and result["present"] == [str(data)]
    assert _mode(data) == "1777"


def test_check_mode_creates_nothing(run_module, tmp_path):
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": str(tmp_path / "new")}]}, check=True)
    assert not failed
    assert result["changed"] is True and result["created"] == [str(tmp_path / "new")]
    assert not (tmp_path / "new").exists()


def test_a_file_in_the_way_fails_naming_it_and_creates_nothing(run_module, tmp_path):
    (tmp_path / "file").write_text("x")
    dirs = [{"path": str(tmp_path / "new")}, {"path": str(tmp_path / "file")}]
    result, failed = run_module(host_dirs.main, {"dirs": dirs, "host": "pc2"})
    assert failed
    assert result["msg"] == ("host pc2: %s is the source of a group's volume but not a directory; move it "
                             "away or change the volume's source in the inventory" % (tmp_path / "file"))
    assert not (tmp_path / "new").exists()


def test_an_unknown_owner_is_refused(run_module, tmp_path):
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": str(tmp_path / "d"),
                                                           "owner": "no-such-user-here"}]})
    assert failed
    assert "owner 'no-such-user-here'" in result["msg"]
    assert not (tmp_path / "d").exists()


@pytest.mark.skipif(not ROOT, reason="chown to another user needs root")
def test_as_root_a_created_directory_belongs_to_the_volume_owner(run_module, tmp_path):
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": str(tmp_path / "agent"), "owner": "1000",
                                                           "group": "1000", "mode": "2750"}]})
    assert not failed
    info = os.stat(tmp_path / "agent")
    assert (info.st_uid, info.st_gid, _mode(tmp_path / "agent")) == (1000, 1000, "2750")


# --------------------------------------------------------------------------
# Symlinks: refused, and one swapped in during the call changes nothing else
# --------------------------------------------------------------------------

from ansible_collections.ai_system.containers.plugins.module_utils.common import safe_dirs  # noqa: E402


@pytest.mark.parametrize("where", ["parent", "path itself"])
def test_a_path_through_a_symlink_is_refused_naming_the_component(run_module, tmp_path, where):
    victim = tmp_path / "etc"
    victim.mkdir()
    victim.chmod(0o755)
    if where == "parent":
        (tmp_path / "shared").symlink_to(victim)
        path, link = tmp_path / "shared" / "agent", tmp_path / "shared"
    else:
        path = link = tmp_path / "agent"
        link.symlink_to(victim)
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": str(path), "mode": "1777"}],
                                                 "host": "pc2"})
    assert failed
    assert result["msg"] == (
        "host pc2: %s: %s is a symlink; host directories are created and given their owner without following "
        "symlinks (one swapped in by a container could redirect them): name the real directory in the "
        "volume's source (readlink -f %s)" % (path, link, path))
    assert os.listdir(victim) == [] and _mode(victim) == "0755"


def test_a_symlink_swapped_in_after_the_mkdir_cannot_redirect_the_chown_and_chmod(run_module, tmp_path,
                                                                                  monkeypatch):
    """The race: a container that can write ``shared`` replaces it by a symlink to
    another directory between the module's mkdir and its chown/chmod."""
    shared = tmp_path / "shared"
    shared.mkdir()
    victim = tmp_path / "victim"
    (victim / "agent").mkdir(parents=True)
    (victim / "agent").chmod(0o700)
    path = shared / "agent"
    real_mkdir = os.mkdir
    swapped = []

    def mkdir_then_swap(name, mode=0o777, *, dir_fd=None):
        real_mkdir(name, mode, dir_fd=dir_fd)
        if name == "agent" and not swapped:
            os.rename(str(shared), str(tmp_path / "moved"))
            os.symlink(str(victim), str(shared))
            swapped.append(os.path.realpath(str(path)))

    monkeypatch.setattr(safe_dirs.os, "mkdir", mkdir_then_swap)
    me, my_group = str(os.getuid()), str(os.getgid())
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": str(path), "owner": me, "group": my_group,
                                                           "mode": "1777"}]})
    monkeypatch.undo()
    assert not failed, result
    # The swap did happen: by path, the new directory is now the victim's.
    assert swapped == [str(victim / "agent")]
    # The mode went to the directory that was created, not through the symlink.
    assert _mode(victim / "agent") == "0700"
    assert _mode(tmp_path / "moved" / "agent") == "1777"


def test_a_missing_parent_is_created_0755_without_following_symlinks(run_module, tmp_path):
    path = tmp_path / "a" / "b" / "agent"
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": str(path), "mode": "0750"}]})
    assert not failed and result["created"] == [str(path)]
    assert (_mode(tmp_path / "a"), _mode(tmp_path / "a" / "b"), _mode(path)) == ("0755", "0755", "0750")


def test_a_dotdot_path_is_refused(run_module, tmp_path):
    path = "%s/x/../agent" % tmp_path
    result, failed = run_module(host_dirs.main, {"dirs": [{"path": path}]})
    assert failed and "contains '..'" in result["msg"]
