#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: file_set
short_description: Write a set of files in one pass, atomically, only those whose text changed
version_added: "0.1.0"
description:
  - Plumbing of the collection (the stack role's file writer), documented for those who read the roles; its options
    may change between releases. Your playbooks use the collection's roles and playbooks instead.
  - Makes a directory hold exactly the given files (name to text), in one task whatever the
    number of files, so that the cost does not grow with one round trip per file.
  - Each file is compared first and written with a temporary file and an atomic rename only
    when its text or mode differs; the result lists exactly which files were written,
    which were left alone and which were removed.
  - With O(prune=true), files under O(path) that carry O(marker) in their first lines and
    match O(prune_patterns) but are no longer in O(files) are removed, so files this
    collection did not write are never touched.
  - Every name, text and mode is checked, and every target path looked at, before the first
    file is written, so a task with one bad entry writes nothing.
options:
  path:
    description: Directory that receives the files; created when missing.
    type: path
    required: true
  files:
    description:
      - Mapping of file name, relative to O(path), to its full text. Names may contain
        sub-directories (C(groups/core-services/endpoints.json)).
      - A name must not be empty or absolute, nor hold C(..), C(.) or empty segments, nor
        control characters; a name must not also be the directory of another name.
    type: dict
    required: true
  mode:
    description:
      - Mode of the files written, as a quoted octal string such as V("0644") (V("644") and
        V("0o644") mean the same), from V("0000") to V("0777").
      - A number is refused, since YAML reads an unquoted C(0644) as the number 420; setuid,
        setgid and sticky bits are refused too.
    type: raw
    default: "0644"
  directory_mode:
    description:
      - Mode of directories created, as a quoted octal string such as V("0755"), with the
        same rules as O(mode).
    type: raw
    default: "0755"
  prune:
    description: Remove managed files that are no longer in O(files).
    type: bool
    default: false
  prune_patterns:
    description:
      - Shell patterns, relative to O(path), of the files that O(prune) may remove.
      - A pattern is matched one path segment at a time, so C(*) never crosses a C(/).
        C(ai-*.container) matches files directly in O(path) only, and
        C(groups/*/endpoints.json) matches C(groups/core/endpoints.json) but not
        C(groups/core/old/endpoints.json).
      - Patterns must be relative, without C(..), C(.) or empty segments.
    type: list
    elements: str
    default: ["*"]
  marker:
    description:
      - Text that marks a file as written by this collection; searched in the first 512 bytes
        of a file before it is pruned. Only regular files are pruned, never links, FIFOs or
        devices.
      - Must not be empty.
    type: str
    default: Managed by ai_system.containers
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode).
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Install this host's Quadlet units
  ai_system.containers.file_set:
    path: /etc/containers/systemd
    files: "{{ stack.plan[inventory_hostname].quadlet }}"
    mode: "0644"
    prune: true
    prune_patterns: ["ai-*.container", "ai-*.volume", "ai-*.build", "ai-system.network"]
  register: units
"""

RETURN = r"""
written:
  description: Files (relative names) created or changed, sorted.
  returned: always
  type: list
  elements: str
  sample: ["ai-core-services.container"]
unchanged:
  description: Files whose text and mode were already right.
  returned: always
  type: list
  elements: str
  sample: ["ai-system.network"]
removed:
  description: Managed files removed because they are no longer wanted.
  returned: always
  type: list
  elements: str
  sample: ["ai-old-group.container"]
path:
  description: The directory.
  returned: always
  type: str
  sample: /etc/containers/systemd
"""

import fnmatch
import os
import re
import stat
import tempfile
import unicodedata

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import fsync_directory

# An octal mode as text: "644", "0644" or "0o644"; fullmatch, so no sign, blank or newline.
_OCTAL = re.compile(r"(?:0[oO])?[0-7]+")
_MAX_MODE = 0o777


def _mode(value, option, example):
    """The mode ``value`` of ``option`` as an int; ValueError naming the option and the fix."""
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError('%s %d is a number, which is ambiguous (YAML reads an unquoted 0644 '
                             'as the number 420); quote it as an octal string, e.g. %s: "%s"'
                             % (option, value, option, example))
        raise ValueError('%s must be an octal string such as "%s", got %s'
                         % (option, example, type(value).__name__))
    if not _OCTAL.fullmatch(value):
        raise ValueError('%s %r is not an octal mode; quote it as an octal string, e.g. %s: "%s"'
                         % (option, value, option, example))
    mode = int(value, 8)
    if mode > _MAX_MODE:
        raise ValueError('%s %r is outside 0000-0777 (setuid, setgid and sticky bits are not '
                         'set by this module); use e.g. %s: "%s"' % (option, value, option, example))
    return mode


def _path_problem(name):
    """Why ``name`` is not a safe relative path (None when it is)."""
    if not isinstance(name, str):
        return "is not a string"
    if not name:
        return "is empty"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "contains a control character"
    if any(unicodedata.category(char) == "Cs" for char in name):
        return "is not valid Unicode text"
    if name.startswith("/"):
        return "is absolute"
    parts = name.split("/")
    if "" in parts:
        return "has an empty segment"
    if ".." in parts:
        return "has a '..' segment"
    if "." in parts:
        return "has a '.' segment"
    return None


def _matches(rel, pattern):
    """Whether ``rel`` matches the shell ``pattern`` segment by segment: ``*`` stays in one segment."""
    parts, wanted = rel.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(
        fnmatch.fnmatchcase(part, want) for part, want in zip(parts, wanted))


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(), stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None, None


def _managed_files(root, patterns, marker):
    """Relative names of regular files under root that match a pattern and carry the marker."""
    found = []
    marker_b = to_bytes(marker)
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if not any(_matches(rel, pattern) for pattern in patterns):
                continue
            try:
                # Only regular files: a link, a FIFO (whose open would block) or a device is never ours.
                if not stat.S_ISREG(os.lstat(full).st_mode):
                    continue
                with open(full, "rb") as handle:
                    head = handle.read(512)
            except OSError:
                continue  # unreadable: cannot be shown to be ours, so it stays
            if marker_b in head:
                found.append(rel)
    return sorted(found)


def _check_params(p):
    """Every problem with the parameters, before anything is written; ValueError with them all."""
    mode = _mode(p["mode"], "mode", "0644")
    dir_mode = _mode(p["directory_mode"], "directory_mode", "0755")
    if not p["marker"]:
        raise ValueError("marker must not be empty: it is what tells the files this collection "
                         "wrote from the others, and an empty one would let prune remove any file")
    bad = sorted(("%r %s" % (pattern, _path_problem(pattern)))
                 for pattern in p["prune_patterns"] if _path_problem(pattern))
    if bad:
        raise ValueError("prune_patterns must be relative to path, without '..', '.' or empty "
                         "segments: %s" % "; ".join(bad))
    files = p["files"]
    bad = sorted(("%r %s" % (name, _path_problem(name)))
                 for name in files if _path_problem(name))
    if bad:
        raise ValueError("file names must be relative paths without '..', '.' or empty segments "
                         "or control characters: %s" % "; ".join(bad))
    problems = []
    for name in sorted(files):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in files:
                problems.append("%r cannot be both a file and the directory of %r" % (parent, name))
    wanted = {}
    for name in sorted(files):
        text = files[name]
        if not isinstance(text, str):
            problems.append("file %s: content must be text, got %s" % (name, type(text).__name__))
            continue
        try:
            wanted[name] = to_bytes(text, errors="surrogate_or_strict")
        except UnicodeError:
            problems.append("file %s: content is not valid Unicode text" % name)
    if problems:
        raise ValueError("; ".join(problems))
    return mode, dir_mode, wanted


def _plan(root, wanted):
    """(name, full path, text now or None, mode now) for every file; ValueError if one cannot be written."""
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError("path %s exists and is not a directory" % root)
    plan, problems = [], []
    for name in sorted(wanted):
        parts = name.split("/")
        full = os.path.join(root, *parts)
        parents = (os.path.join(root, *parts[:depth]) for depth in range(1, len(parts)))
        blocked = next((d for d in parents if os.path.lexists(d) and not os.path.isdir(d)), None)
        if blocked:
            problems.append("file %s: %s is not a directory" % (name, blocked))
            continue
        if os.path.isdir(full):
            problems.append("file %s: %s is a directory" % (name, full))
            continue
        try:
            have, have_mode = _read(full)
        except OSError as exc:
            problems.append("file %s: cannot read %s: %s" % (name, full, exc.strerror or exc))
            continue
        plan.append((name, full, have, have_mode))
    if problems:
        raise ValueError("; ".join(problems))
    return plan


def _write(module, full, want, mode, dir_mode):
    directory = os.path.dirname(full)
    if not os.path.isdir(directory):
        os.makedirs(directory, dir_mode)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(full))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(want)
            # The data on disk before the rename, the rename after it: a power
            # cut leaves the old file or the new one, never an empty one.
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except OSError:
        os.unlink(tmp)
        raise
    module.atomic_move(tmp, full)
    os.chmod(full, mode)
    fsync_directory(directory)


def apply_file_set(module):
    """Make params.path hold params.files; return the result dict.

    Every name, text and mode is checked, and every target looked at, before the first
    file is written: bad input writes nothing.
    """
    p = module.params
    root = p["path"]
    try:
        mode, dir_mode, wanted = _check_params(p)
        plan = _plan(root, wanted)
    except ValueError as exc:
        module.fail_json(msg=to_text(exc))
    result = {"changed": False, "written": [], "unchanged": [], "removed": [], "path": root}
    diffs = []
    for name, full, have, have_mode in plan:
        want = wanted[name]
        if have == want and have_mode == mode:
            result["unchanged"].append(name)
            continue
        diffs.append({"before_header": full, "after_header": full,
                      "before": to_text(have) if have is not None else "",
                      "after": p["files"][name]})
        if not module.check_mode:
            try:
                _write(module, full, want, mode, dir_mode)
            except OSError as exc:
                module.fail_json(msg="file %s: cannot write %s: %s" % (name, full, exc.strerror or exc),
                                 written=result["written"], path=root)
        result["written"].append(name)
    if p["prune"] and os.path.isdir(root):
        for name in _managed_files(root, p["prune_patterns"], p["marker"]):
            if name in p["files"]:
                continue
            full = os.path.join(root, name)
            result["removed"].append(name)
            diffs.append({"before_header": full, "after_header": "%s (removed)" % full,
                          "before": to_text(_read(full)[0] or b""), "after": ""})
            if not module.check_mode:
                os.unlink(full)
    result["changed"] = bool(result["written"] or result["removed"])
    if module._diff and diffs:
        result["diff"] = diffs
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "files": {"type": "dict", "required": True},
            "mode": {"type": "raw", "default": "0644"},
            "directory_mode": {"type": "raw", "default": "0755"},
            "prune": {"type": "bool", "default": False},
            "prune_patterns": {"type": "list", "elements": "str", "default": ["*"]},
            "marker": {"type": "str", "default": "Managed by ai_system.containers"},
        },
        supports_check_mode=True,
    )
    module.exit_json(**apply_file_set(module))


if __name__ == "__main__":
    main()
