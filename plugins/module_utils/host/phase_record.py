# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record a role phase leaves on a host, and the one-call check against it.

A phase that ran in full and succeeded records what it left: the digest of
its inputs (the role's variables and files, computed on the controller), and
the observed state of what it manages or depends on -- files (checksum,
mode, owner, or absent), installed package versions, systemd unit states,
the output of a few cheap commands (the cgroup file system, the kind of
virtualisation) and the facts it gathered. The next run asks, in one module
call, whether the inputs and every recorded item are still the same; if so
the phase has nothing to do and is skipped.

Pure Python, no Ansible imports: ``run(argv) -> (rc, out, err)`` and
``which(name) -> path or None`` are passed in.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import posixpath
import re
import stat
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import file_sha256

Run = Callable[[Sequence[str]], Tuple[int, str, str]]
Which = Callable[[str], Optional[str]]

FORMAT = 1
PHASE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
# systemctl show properties that say whether a unit is as a role left it.
UNIT_PROPERTIES = ("LoadState", "UnitFileState", "ActiveState")


def record_path(directory: str, phase: str) -> str:
    return os.path.join(directory, "%s.json" % phase)


def inputs_digest(parts: Mapping[str, Any]) -> str:
    """sha256 of ``parts`` as canonical JSON (sorted keys; str() for the rest)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- observing -----------------------------------------------------------------
def file_state(path: str) -> Optional[Dict[str, Any]]:
    """What a role cares about in one path: None when absent; a symlink's
    target; a directory's or file's mode and owner, and a file's checksum."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return {"link": os.readlink(path)}
    state: Dict[str, Any] = {"mode": "%04o" % stat.S_IMODE(info.st_mode),
                             "uid": info.st_uid, "gid": info.st_gid}
    if stat.S_ISREG(info.st_mode):
        try:
            state["sha256"] = file_sha256(path)
        except OSError as exc:  # unreadable (e.g. a /proc file that vanished)
            state["error"] = exc.strerror or str(exc)
    elif stat.S_ISDIR(info.st_mode):
        state["type"] = "directory"
    else:
        state["type"] = "other"
    return state


def observe_files(patterns: Sequence[str]) -> Dict[str, Any]:
    """{path: state} for every path, and for every match of a glob pattern
    (a pattern with no match is recorded as matching nothing)."""
    found: Dict[str, Any] = {}
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            found[pattern] = {"matches": matches}
            for path in matches:
                found[path] = file_state(path)
        else:
            found[pattern] = file_state(pattern)
    return found


def _parse_dpkg(text: str) -> Dict[str, str]:
    versions = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[2] == "installed":
            versions[fields[0].split(":")[0]] = fields[1]
    return versions


def _parse_rpm(text: str) -> Dict[str, str]:
    versions = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 2 and fields[1]:
            versions[fields[0]] = fields[1]
    return versions


def observe_packages(names: Sequence[str], run: Run, which: Which) -> Tuple[Dict[str, Optional[str]], Optional[str]]:
    """({name: installed version or None}, error), from the package database
    only (dpkg-query or rpm: no package lists are read)."""
    if not names:
        return {}, None
    dpkg = which("dpkg-query")
    if dpkg:
        argv = [dpkg, "--show", "--showformat=${binary:Package}\t${Version}\t${db:Status-Status}\n"]
        parse = _parse_dpkg
    else:
        rpm = which("rpm")
        if not rpm:
            return {}, "neither dpkg-query nor rpm is on this host's PATH"
        argv = [rpm, "--query", "--queryformat=%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n"]
        parse = _parse_rpm
    # Both exit 1 when a name is not installed, and still print the others.
    rc, out, err = run(argv + list(names))
    if rc not in (0, 1):
        said = (err or out).strip() or "no output"
        return {}, "%s failed with exit status %d: %s" % (os.path.basename(argv[0]), rc, said)
    versions = parse(out)
    return {name: versions.get(name) for name in names}, None


def _parse_units(text: str, names: Sequence[str]) -> Dict[str, Dict[str, str]]:
    """``systemctl show`` output (blocks separated by blank lines, in the
    order asked) -> {unit: {property: value}}."""
    blocks = [block for block in re.split(r"\n\s*\n", text.strip()) if block.strip()] if text.strip() else []
    found: Dict[str, Dict[str, str]] = {}
    for name, block in zip(names, blocks):
        props = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep and key in UNIT_PROPERTIES:
                props[key] = value
        found[name] = props
    return found


def observe_units(names: Sequence[str], run: Run, which: Which) -> Tuple[Dict[str, Any], Optional[str]]:
    if not names:
        return {}, None
    systemctl = which("systemctl")
    if not systemctl:
        return {}, "systemctl is not on this host's PATH"
    argv = [systemctl, "show", "--property=" + ",".join(UNIT_PROPERTIES)] + ["--"] + list(names)
    rc, out, err = run(argv)
    if rc != 0:
        return {}, "systemctl show failed with exit status %d: %s" % (rc, (err or out).strip())
    units = _parse_units(out, names)
    if len(units) != len(names):
        return {}, "systemctl show answered for %d of %d units" % (len(units), len(names))
    return units, None


def observe_commands(commands: Sequence[Sequence[str]], run: Run, which: Which) -> Dict[str, Any]:
    """{argv joined: {rc, stdout}}: read-only commands whose answer the phase
    decided on (a missing command is recorded as such)."""
    found: Dict[str, Any] = {}
    for argv in commands:
        key = " ".join(argv)
        path = which(argv[0]) if not os.path.isabs(argv[0]) else argv[0]
        if not path or not os.path.exists(path):
            found[key] = {"missing": True}
            continue
        rc, out, dummy = run([path] + list(argv[1:]))
        found[key] = {"rc": rc, "stdout": out.strip()}
    return found


def observe(spec: Mapping[str, Any], run: Run, which: Which) -> Tuple[Dict[str, Any], Optional[str]]:
    """(state, error): the current state of everything ``spec`` names
    (keys files, packages, units, commands)."""
    packages, error = observe_packages(spec.get("packages") or [], run, which)
    if error:
        return {}, error
    units, error = observe_units(spec.get("units") or [], run, which)
    if error:
        return {}, error
    return {
        "files": observe_files(spec.get("files") or []),
        "packages": packages,
        "units": units,
        "commands": observe_commands(spec.get("commands") or [], run, which),
    }, None


# -- what the writing tasks reported --------------------------------------------
# The written paths' keys in a writing module's registered result: copy,
# template, file, deb822_repository, nft_table, hyperv_firewall (``dest``,
# ``path``, ``key_filename``); file_set (``path`` and the names under it);
# host_dirs (``created``, ``present``); yum_repository (its file is in
# ``diff.after_header``).
_PATH_KEYS = ("dest", "key_filename")
_NAMES_UNDER_PATH = ("written", "unchanged", "removed")
_DIR_LISTS = ("created", "present")


def _result_paths(result: Any, found: List[str]) -> None:
    if not isinstance(result, Mapping) or result.get("skipped"):
        return
    for item in result.get("results") or []:  # a loop: one result per item
        _result_paths(item, found)
    paths = [result.get(key) for key in _PATH_KEYS]
    base = result.get("path")
    names = [name for key in _NAMES_UNDER_PATH if isinstance(result.get(key), list) for name in result[key]]
    if isinstance(base, str) and names:
        paths.extend(posixpath.join(base, name) for name in names)
    else:
        paths.append(base)
    for key in _DIR_LISTS:
        if isinstance(result.get(key), list):
            paths.extend(result[key])
    diff = result.get("diff")
    if "repo" in result and isinstance(diff, Mapping):
        paths.append(diff.get("after_header"))
    for path in paths:
        if isinstance(path, str) and path.startswith("/") and path not in found:
            found.append(path)


def written_paths(results: Sequence[Any]) -> List[str]:
    """The absolute paths the writing tasks' registered results name, in
    order, each once; skipped tasks and items name none."""
    found: List[str] = []
    for result in results or []:
        _result_paths(result, found)
    return found


def record_files(files: Sequence[str], results: Sequence[Any]) -> List[str]:
    """``files`` followed by every written path (:func:`written_paths`) not
    among them: what a phase's record covers."""
    out = list(files or [])
    out.extend(path for path in written_paths(results) if path not in out)
    return out


# -- the record ----------------------------------------------------------------
def make_record(digest: str, spec: Mapping[str, Any], state: Mapping[str, Any],
                facts: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "format": FORMAT,
        "inputs": digest,
        "spec": {key: list(spec.get(key) or []) for key in ("files", "packages", "units", "commands")},
        "state": dict(state),
        "facts": dict(facts),
    }


def load_record(path: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(record, why not): why not is a reason the record cannot be used."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return None, "no record of a complete run of this phase yet"
    except (OSError, ValueError) as exc:
        return None, "the record %s cannot be read (%s)" % (path, exc)
    if not isinstance(record, dict) or record.get("format") != FORMAT \
            or not isinstance(record.get("spec"), dict) or not isinstance(record.get("state"), dict):
        return None, "the record %s is not in this collection's format" % path
    return record, None


def _describe(value: Any) -> str:
    if value is None:
        return "absent"
    if isinstance(value, dict):
        if "sha256" in value:
            return "sha256 %s…, mode %s, owner %s:%s" % (value["sha256"][:12], value.get("mode"),
                                                         value.get("uid"), value.get("gid"))
        if "link" in value:
            return "link to %s" % value["link"]
        if "matches" in value:
            return "%d match(es)" % len(value["matches"])
        return ", ".join("%s %s" % (k, v) for k, v in sorted(value.items()))
    return str(value)


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> List[str]:
    """What changed since the record, one plain line per item."""
    found = []
    labels = {"files": "file", "packages": "package", "units": "unit", "commands": "command"}
    for kind, label in labels.items():
        before = recorded.get(kind) or {}
        now = current.get(kind) or {}
        for name in sorted(set(before) | set(now)):
            if before.get(name) != now.get(name):
                found.append("%s %s: was %s, now %s" % (label, name, _describe(before.get(name)),
                                                        _describe(now.get(name))))
    return found


INPUTS_CHANGED = "the phase's inputs changed (inventory, role settings or the collection)"


def read(path: str, run: Run, which: Which, digest: Optional[str] = None) -> Dict[str, Any]:
    """{inputs, differences, facts}: the inputs digest recorded at ``path``
    (None without a usable record) and what changed on the host since.

    With ``digest``, a record made for other inputs is not compared with the
    host (the phase runs anyway)."""
    record, why_not = load_record(path)
    if record is None:
        return {"inputs": None, "differences": [why_not], "facts": {}}
    if digest is not None and record.get("inputs") != digest:
        return {"inputs": record.get("inputs"), "differences": [INPUTS_CHANGED], "facts": {}}
    state, error = observe(record["spec"], run, which)
    if error:
        return {"inputs": record.get("inputs"), "differences": ["the host could not be read: %s" % error],
                "facts": {}}
    found = differences(record["state"], state)
    return {"inputs": record.get("inputs"), "differences": found,
            "facts": record.get("facts") or {} if not found else {}}


def judge(reading: Mapping[str, Any], digest: str) -> Dict[str, Any]:
    """{converged, differences, facts}: a reading (from :func:`read`) judged
    against the inputs digest of this run."""
    found = list(reading.get("differences") or [])
    if reading.get("inputs") is not None and reading.get("inputs") != digest and INPUTS_CHANGED not in found:
        found.insert(0, INPUTS_CHANGED)
    return {"converged": not found, "differences": found, "facts": {} if found else dict(reading.get("facts") or {})}


def check(path: str, digest: str, run: Run, which: Which) -> Dict[str, Any]:
    """{converged, differences, facts}: whether the phase recorded at ``path``
    still holds for inputs ``digest`` and the host as it is now."""
    return judge(read(path, run, which, digest), digest)
