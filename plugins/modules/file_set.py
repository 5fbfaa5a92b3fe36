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
  - Makes a directory hold exactly the given files (name to text), in one task whatever the
    number of files, so that the cost does not grow with one round trip per file.
  - Each file is compared first and written with a temporary file and an atomic rename only
    when its text or mode differs; the result lists exactly which files were written,
    which were left alone and which were removed.
  - With O(prune=true), files under O(path) that carry O(marker) in their first lines and
    match O(prune_patterns) but are no longer in O(files) are removed, so files this
    collection did not write are never touched.
options:
  path:
    description: Directory that receives the files; created when missing.
    type: path
    required: true
  files:
    description:
      - Mapping of file name, relative to O(path), to its full text. Names may contain
        sub-directories (C(groups/core-services/endpoints.json)) but not C(..).
    type: dict
    required: true
  mode:
    description: Mode of the files written.
    type: raw
    default: "0644"
  directory_mode:
    description: Mode of directories created.
    type: raw
    default: "0755"
  prune:
    description: Remove managed files that are no longer in O(files).
    type: bool
    default: false
  prune_patterns:
    description: Shell patterns (relative to O(path)) of the files that O(prune) may remove.
    type: list
    elements: str
    default: ["*"]
  marker:
    description: Text that marks a file as written by this collection; searched in the
      first 512 bytes of a file before it is pruned.
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
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text


def _mode(value, what):
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise ValueError("%s %r is not an octal mode such as '0644'" % (what, value))


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(), stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None, None


def _safe_name(name):
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "" not in parts


def _managed_files(root, patterns, marker):
    """Relative names of files under root that match a pattern and carry the marker."""
    found = []
    marker_b = to_bytes(marker)
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full) or not any(fnmatch.fnmatch(rel, p) for p in patterns):
                continue
            with open(full, "rb") as handle:
                if marker_b in handle.read(512):
                    found.append(rel)
    return sorted(found)


def apply_file_set(module):
    """Make params.path hold params.files; return the result dict."""
    p = module.params
    root = p["path"]
    try:
        mode = _mode(p["mode"], "mode")
        dir_mode = _mode(p["directory_mode"], "directory_mode")
    except ValueError as exc:
        module.fail_json(msg=to_text(exc))
    bad = sorted(n for n in p["files"] if not _safe_name(n))
    if bad:
        module.fail_json(msg="file names must be relative paths without '..': %s"
                         % ", ".join(bad))
    result = {"changed": False, "written": [], "unchanged": [], "removed": [], "path": root}
    diffs = []
    for name in sorted(p["files"]):
        text = p["files"][name]
        if not isinstance(text, str):
            module.fail_json(msg="file %s: content must be text, got %s"
                             % (name, type(text).__name__))
        full = os.path.join(root, name)
        want = to_bytes(text)
        have, have_mode = _read(full)
        if have == want and have_mode == mode:
            result["unchanged"].append(name)
            continue
        result["written"].append(name)
        diffs.append({"before_header": full, "after_header": full,
                      "before": to_text(have) if have is not None else "",
                      "after": text})
        if module.check_mode:
            continue
        directory = os.path.dirname(full)
        if not os.path.isdir(directory):
            os.makedirs(directory, dir_mode)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(full))
        with os.fdopen(fd, "wb") as handle:
            handle.write(want)
        os.chmod(tmp, mode)
        module.atomic_move(tmp, full)
        os.chmod(full, mode)
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
