# -*- coding: utf-8 -*-
"""file_set: one pass, atomic, only changed files, managed-only pruning."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

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
    assert result["msg"] == (
        "file names must be relative paths without '..', '.' or empty segments or control "
        "characters: '../escape' has a '..' segment; '/abs' is absolute")


def test_bad_mode_is_refused(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {},
                                                "mode": "rw-r--r--"})
    assert failed and result["msg"] == (
        "mode 'rw-r--r--' is not an octal mode; quote it as an octal string, e.g. mode: \"0644\"")


def test_non_text_content_is_refused(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {"a": 5}})
    assert failed and result["msg"] == "file a: content must be text, got int"


# --------------------------------------------------------------------------
# Hostile and malformed input
# --------------------------------------------------------------------------


def _run(run_module, tmp_path, **args):
    return run_module(file_set.main, dict({"path": str(tmp_path), "files": {"a": MARK}}, **args))


def test_mode_int_644_is_refused_not_read_as_octal_1204(tmp_path, run_module):
    result, failed = _run(run_module, tmp_path, mode=644)
    assert failed and result["msg"] == (
        'mode 644 is a number, which is ambiguous (YAML reads an unquoted 0644 as the number 420); '
        'quote it as an octal string, e.g. mode: "0644"')
    assert os.listdir(tmp_path) == []


def test_mode_int_420_from_unquoted_yaml_0644_is_refused(tmp_path, run_module):
    result, failed = _run(run_module, tmp_path, mode=0o644)
    assert failed and result["msg"].startswith("mode 420 is a number, which is ambiguous")


def test_directory_mode_int_is_refused_with_its_own_example(tmp_path, run_module):
    result, failed = _run(run_module, tmp_path, directory_mode=755)
    assert failed and result["msg"] == (
        'directory_mode 755 is a number, which is ambiguous (YAML reads an unquoted 0644 as the '
        'number 420); quote it as an octal string, e.g. directory_mode: "0755"')


def test_mode_bool_is_refused(tmp_path, run_module):
    result, failed = _run(run_module, tmp_path, mode=True)
    assert failed and result["msg"] == 'mode must be an octal string such as "0644", got bool'


def test_mode_minus_one_is_refused_not_read_as_7777(tmp_path, run_module):
    result, failed = _run(run_module, tmp_path, mode="-1")
    assert failed and result["msg"] == (
        "mode '-1' is not an octal mode; quote it as an octal string, e.g. mode: \"0644\"")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("mode", ["4755", "01777", "7777", "0o4755", "1000"])
def test_mode_with_setuid_setgid_or_sticky_bit_is_refused(tmp_path, run_module, mode):
    result, failed = _run(run_module, tmp_path, mode=mode)
    assert failed and result["msg"] == (
        "mode %r is outside 0000-0777 (setuid, setgid and sticky bits are not set by this "
        "module); use e.g. mode: \"0644\"" % mode)


@pytest.mark.parametrize("mode", ["0644\n", " 644", "+644", "6_44", "0x1a4", "0o", "", "0889"])
def test_mode_string_with_sign_blank_underscore_or_non_octal_digit_is_refused(
        tmp_path, run_module, mode):
    result, failed = _run(run_module, tmp_path, mode=mode)
    assert failed and result["msg"] == (
        'mode %r is not an octal mode; quote it as an octal string, e.g. mode: "0644"' % mode)


@pytest.mark.parametrize(("mode", "expected"), [("0640", 0o640), ("640", 0o640), ("0o640", 0o640),
                                                ("0000", 0), ("0777", 0o777)])
def test_octal_mode_strings_are_accepted(tmp_path, run_module, mode, expected):
    result, failed = _run(run_module, tmp_path, mode=mode)
    assert not failed and result["written"] == ["a"]
    assert os.stat(tmp_path / "a").st_mode & 0o7777 == expected


def test_directory_mode_applies_to_created_directories(tmp_path, run_module):
    old = os.umask(0)
    try:
        result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {"d/a": MARK},
                                                    "directory_mode": "0750"})
    finally:
        os.umask(old)
    assert not failed
    assert os.stat(tmp_path / "d").st_mode & 0o7777 == 0o750


def test_bad_second_file_writes_nothing(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {
        "a.container": MARK, "b.container": ["not", "text"], "c.container": MARK}})
    assert failed and result["msg"] == "file b.container: content must be text, got list"
    assert os.listdir(tmp_path) == []


def test_bad_name_after_good_ones_writes_nothing(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {
        "a.container": MARK, "sub/b.json": "{}", "z/../../escape": "x"}})
    assert failed and result["msg"] == (
        "file names must be relative paths without '..', '.' or empty segments or control "
        "characters: 'z/../../escape' has a '..' segment")
    assert os.listdir(tmp_path) == []


def test_every_bad_content_is_named_at_once(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {
        "a": 5, "b": None, "c": MARK}})
    assert failed and result["msg"] == (
        "file a: content must be text, got int; file b: content must be text, got NoneType")


@pytest.mark.parametrize(("name", "why"), [
    ("", "is empty"),
    ("/etc/passwd", "is absolute"),
    ("..", "has a '..' segment"),
    ("a/../../b", "has a '..' segment"),
    ("a//b", "has an empty segment"),
    ("a/", "has an empty segment"),
    ("./a", "has a '.' segment"),
    ("a\nb", "contains a control character"),
    ("a\x00b", "contains a control character"),
    ("a\x1b[31m", "contains a control character"),
    ("a\x85", "contains a control character"),
])
def test_hostile_file_name_is_refused(tmp_path, run_module, name, why):
    result, failed = run_module(file_set.main, {"path": str(tmp_path),
                                                "files": {"ok": MARK, name: MARK}})
    assert failed and result["msg"] == (
        "file names must be relative paths without '..', '.' or empty segments or control "
        "characters: %r %s" % (name, why))
    assert os.listdir(tmp_path) == []


def _params(files):
    return {"mode": "0644", "directory_mode": "0755", "marker": "m", "prune_patterns": [],
            "files": files}


def test_file_name_that_is_not_a_string_is_refused():
    with pytest.raises(ValueError) as info:
        file_set._check_params(_params({1: "x"}))
    assert str(info.value) == (
        "file names must be relative paths without '..', '.' or empty segments or control "
        "characters: 1 is not a string")


def test_file_name_with_lone_surrogate_is_refused():
    # Ansible's own decoder refuses these in module arguments; the module does not rely on it.
    with pytest.raises(ValueError) as info:
        file_set._check_params(_params({"ok": MARK, "a\ud800": MARK}))
    assert str(info.value) == (
        "file names must be relative paths without '..', '.' or empty segments or control "
        "characters: 'a\\ud800' is not valid Unicode text")


def test_name_that_is_also_another_names_directory_writes_nothing(tmp_path, run_module):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {
        "a": MARK, "a/b": MARK, "a/b/c": MARK}})
    assert failed and result["msg"] == (
        "'a' cannot be both a file and the directory of 'a/b'; "
        "'a' cannot be both a file and the directory of 'a/b/c'; "
        "'a/b' cannot be both a file and the directory of 'a/b/c'")
    assert os.listdir(tmp_path) == []


def test_content_with_lone_surrogate_is_refused():
    with pytest.raises(ValueError) as info:
        file_set._check_params(_params({"a": MARK, "b": "x\ud800"}))
    assert str(info.value) == "file b: content is not valid Unicode text"


def test_existing_directory_in_place_of_a_file_writes_nothing(tmp_path, run_module):
    (tmp_path / "b").mkdir()
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {
        "a": MARK, "b": MARK}})
    assert failed and result["msg"] == "file b: %s is a directory" % (tmp_path / "b")
    assert sorted(os.listdir(tmp_path)) == ["b"]


def test_existing_file_in_place_of_a_directory_writes_nothing(tmp_path, run_module):
    (tmp_path / "groups").write_text("not a directory\n")
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {
        "a": MARK, "groups/core/endpoints.json": "{}"}})
    assert failed and result["msg"] == (
        "file groups/core/endpoints.json: %s is not a directory" % (tmp_path / "groups"))
    assert sorted(os.listdir(tmp_path)) == ["groups"]


def test_path_that_is_a_file_is_refused(tmp_path, run_module):
    (tmp_path / "plain").write_text("x")
    result, failed = run_module(file_set.main, {"path": str(tmp_path / "plain"), "files": {"a": MARK}})
    assert failed and result["msg"] == "path %s exists and is not a directory" % (tmp_path / "plain")


def test_unreadable_target_is_refused_before_writing(tmp_path, run_module, monkeypatch):
    real_read = file_set._read

    def read(path):
        if path.endswith("/b"):
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(file_set, "_read", read)
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {"a": MARK, "b": MARK}})
    assert failed and result["msg"] == "file b: cannot read %s: Permission denied" % (tmp_path / "b")
    assert os.listdir(tmp_path) == []


def test_write_error_fails_cleanly_and_names_what_was_written(tmp_path, run_module, monkeypatch):
    real_mkstemp = file_set.tempfile.mkstemp

    def mkstemp(dir, prefix):
        if prefix.startswith(".b."):
            raise OSError(28, "No space left on device")
        return real_mkstemp(dir=dir, prefix=prefix)

    monkeypatch.setattr(file_set.tempfile, "mkstemp", mkstemp)
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {"a": MARK, "b": MARK}})
    assert failed and result["msg"] == "file b: cannot write %s: No space left on device" % (tmp_path / "b")
    assert result["written"] == ["a"]
    assert os.listdir(tmp_path) == ["a"]


def test_empty_marker_is_refused_so_prune_cannot_take_every_file(tmp_path, run_module):
    (tmp_path / "user.container").write_text("# the user's own unit\n")
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {}, "prune": True,
                                                "marker": ""})
    assert failed and result["msg"] == (
        "marker must not be empty: it is what tells the files this collection wrote from the "
        "others, and an empty one would let prune remove any file")
    assert (tmp_path / "user.container").exists()


@pytest.mark.parametrize(("pattern", "why"), [
    ("/etc/*", "is absolute"),
    ("../*", "has a '..' segment"),
    ("groups//x", "has an empty segment"),
    ("", "is empty"),
])
def test_prune_pattern_outside_path_is_refused(tmp_path, run_module, pattern, why):
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {"a": MARK},
                                                "prune": True, "prune_patterns": ["ai-*", pattern]})
    assert failed and result["msg"] == (
        "prune_patterns must be relative to path, without '..', '.' or empty segments: %r %s"
        % (pattern, why))
    assert os.listdir(tmp_path) == []


def test_prune_star_does_not_cross_slash(tmp_path, run_module):
    (tmp_path / "ai-old.container").write_text(MARK)
    (tmp_path / "ai-sub").mkdir()
    (tmp_path / "ai-sub" / "user.container").write_text(MARK)
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "ai-x.container").write_text(MARK)
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {}, "prune": True,
                                                "prune_patterns": ["ai-*.container", "ai-*"]})
    assert not failed and result["removed"] == ["ai-old.container"]
    assert (tmp_path / "ai-sub" / "user.container").exists()
    assert (tmp_path / "keep" / "ai-x.container").exists()


def test_prune_default_star_matches_top_level_files_only(tmp_path, run_module):
    (tmp_path / "old").write_text(MARK)
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "old").write_text(MARK)
    result, dummy = run_module(file_set.main, {"path": str(tmp_path), "files": {}, "prune": True})
    assert result["removed"] == ["old"]
    assert (tmp_path / "deep" / "old").exists()


def test_prune_group_pattern_matches_one_directory_level(tmp_path, run_module):
    for rel in ("groups/core/endpoints.json", "groups/gone/endpoints.json",
                "groups/gone/nested/endpoints.json", "groups/endpoints.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('{"group": "x"}\n')
    result, dummy = run_module(file_set.main, {
        "path": str(tmp_path), "files": {"groups/core/endpoints.json": '{"group": "x"}\n'},
        "prune": True, "prune_patterns": ["groups/*/endpoints.json"], "marker": '"group":'})
    assert result["removed"] == ["groups/gone/endpoints.json"]
    assert (tmp_path / "groups/gone/nested/endpoints.json").exists()
    assert (tmp_path / "groups/endpoints.json").exists()


def test_prune_skips_fifo_instead_of_hanging_on_open(tmp_path, run_module):
    os.mkfifo(tmp_path / "ai-pipe.container")
    (tmp_path / "ai-old.container").write_text(MARK)
    result, dummy = run_module(file_set.main, {"path": str(tmp_path), "files": {}, "prune": True,
                                               "prune_patterns": ["ai-*.container"]})
    assert result["removed"] == ["ai-old.container"]
    assert (tmp_path / "ai-pipe.container").exists()


def test_prune_never_follows_or_removes_a_symlink(tmp_path, run_module):
    target = tmp_path / "outside"
    target.mkdir()
    (target / "victim").write_text(MARK)
    root = tmp_path / "root"
    root.mkdir()
    (root / "ai-link.container").symlink_to(target / "victim")
    result, dummy = run_module(file_set.main, {"path": str(root), "files": {}, "prune": True})
    assert result["removed"] == []
    assert (root / "ai-link.container").is_symlink() and (target / "victim").exists()


def test_prune_keeps_a_file_it_cannot_read(tmp_path, run_module, monkeypatch):
    (tmp_path / "ai-old.container").write_text(MARK)
    real_open = open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("ai-old.container"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    result, dummy = run_module(file_set.main, {"path": str(tmp_path), "files": {}, "prune": True})
    assert result["removed"] == []


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(file_set.DOCUMENTATION)
    assert set(doc["options"]) == {"path", "files", "mode", "directory_mode", "prune",
                                   "prune_patterns", "marker"}
    assert doc["options"]["mode"]["default"] == "0644"
    assert doc["options"]["directory_mode"]["default"] == "0755"
    yaml.safe_load(file_set.EXAMPLES)
    yaml.safe_load(file_set.RETURN)


def test_each_file_is_flushed_before_its_rename_and_its_directory_after(tmp_path, run_module, monkeypatch):
    """A power cut must leave the old text or the new, never an empty file."""
    events = []
    real_fsync = os.fsync

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("directory" if stat.S_ISDIR(info.st_mode) else "file", info.st_size))
        real_fsync(fd)

    from ansible_collections.ai_system.containers.plugins.module_utils.common import atomic_file
    monkeypatch.setattr(file_set.os, "fsync", fsync)
    monkeypatch.setattr(atomic_file.os, "fsync", fsync)
    text = MARK + "A\n"
    result, failed = run_module(file_set.main, {"path": str(tmp_path), "files": {"a.container": text}})
    assert not failed and result["written"] == ["a.container"]
    assert events == [("file", len(text)), ("directory", events[1][1])]
