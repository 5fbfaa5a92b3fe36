# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which versions of some packages are installed, and which the package sources offer.

Pure functions (no Ansible imports) over the text that ``apt-cache policy``,
``rpm --query`` and ``dnf repoquery`` print, plus ``probe()``, which runs
those commands through callables it is given, so that every decision and
every error message is unit tested.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

MANAGERS = ("auto", "apt", "dnf")

# Every command runs with these, so that its output is not translated.
COMMAND_ENV = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}

# rpm gets a newline character to end each entry with; dnf repoquery gets
# the escape, which it expands.
RPM_QUERYFORMAT = "%{NAME} %{VERSION}\n"
DNF_QUERYFORMAT = "%{name} %{version}\\n"

# rpm exits with the number of packages that are not installed and says so
# on stdout for each of them.
RPM_NOT_INSTALLED = "is not installed"

_APT_NONE = "(none)"
_APT_FIELD = re.compile(r"^\s+(Installed|Candidate):\s*(\S+)\s*$")
_NAME_VERSION = re.compile(r"^(\S+) ([0-9]\S*)$")
_EPOCH = re.compile(r"^[0-9]+:")
_NUMERIC = re.compile(r"^[0-9]+(?:\.[0-9]+)*")

Run = Callable[[List[str]], Tuple[int, str, str]]
Which = Callable[[str], Optional[str]]


def parse_apt_policy(text: str) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
    """``apt-cache policy NAME...`` output -> {name: (installed, candidate)}.

    A package apt does not know at all is not in the output (apt prints
    nothing for it). ``(none)`` becomes None.
    """
    found: Dict[str, Tuple[Optional[str], Optional[str]]] = {}
    name = None
    fields: Dict[str, Optional[str]] = {}
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            if name is not None:
                found[name] = (fields.get("Installed"), fields.get("Candidate"))
            name, fields = line[:-1], {}
            continue
        match = _APT_FIELD.match(line)
        if name is not None and match:
            value = match.group(2)
            fields[match.group(1)] = None if value == _APT_NONE else value
    if name is not None:
        found[name] = (fields.get("Installed"), fields.get("Candidate"))
    return found


def parse_name_versions(text: str) -> Dict[str, str]:
    """Lines ``NAME VERSION`` (rpm and dnf query formats) -> {name: newest version}.

    Other lines (``package X is not installed``, blank lines) are ignored.
    A name printed more than once (several architectures, several installed
    versions) keeps its highest version.
    """
    found: Dict[str, str] = {}
    for line in text.splitlines():
        match = _NAME_VERSION.match(line.strip())
        if not match:
            continue
        name, version = match.groups()
        if name not in found or _key(numeric_version(version)) > _key(numeric_version(found[name])):
            found[name] = version
    return found


def numeric_version(version: Optional[str]) -> Optional[str]:
    """The leading dotted number of a package version, without the epoch.

    ``1:2.3.4+ds1-2`` -> ``2.3.4``; ``5.4.2+ds1-2+b2`` -> ``5.4.2``; None when
    there is no version or it does not begin with a digit.
    """
    if not version:
        return None
    match = _NUMERIC.match(_EPOCH.sub("", version))
    return match.group(0) if match else None


def _key(version: Optional[str]) -> Tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")) if version else ()


def newest(installed: Optional[str], candidate: Optional[str]) -> Optional[str]:
    """The higher of two numeric versions; the installed one when they are equal."""
    if candidate and (not installed or _key(candidate) > _key(installed)):
        return candidate
    return installed


def describe(names: Sequence[str], installed: Mapping[str, Optional[str]],
             candidate: Mapping[str, Optional[str]]) -> Dict[str, object]:
    """The module's result for ``names``: one entry per package and the missing ones."""
    packages = {}
    missing = []
    for name in names:
        have, offered = installed.get(name), candidate.get(name)
        have_version, offered_version = numeric_version(have), numeric_version(offered)
        available = bool(have or offered)
        packages[name] = {
            "installed": have,
            "candidate": offered,
            "installed_version": have_version,
            "candidate_version": offered_version,
            "newest_version": newest(have_version, offered_version),
            "available": available,
        }
        if not available and name not in missing:
            missing.append(name)
    return {"packages": packages, "missing": missing}


def invalid_names(names: Sequence[str]) -> List[str]:
    """Names that a command would read as an option or as several words."""
    return [name for name in names if not name or name.startswith("-") or re.search(r"\s", name)]


def apt_policy_argv(apt_cache: str, names: Sequence[str]) -> List[str]:
    return [apt_cache, "policy"] + list(names)


def rpm_query_argv(rpm: str, names: Sequence[str]) -> List[str]:
    return [rpm, "--query", "--queryformat", RPM_QUERYFORMAT] + list(names)


def dnf_repoquery_argv(dnf: str, names: Sequence[str]) -> List[str]:
    return [dnf, "--quiet", "repoquery", "--latest-limit=1", "--queryformat", DNF_QUERYFORMAT] + list(names)


def _failure(command: Sequence[str], rc: int, out: str, err: str) -> str:
    said = (err or out).strip() or "no output"
    return "%s failed with exit status %d: %s" % (" ".join(command), rc, said)


def _tools(manager: str, tools: Sequence[str], which: Which) -> Tuple[List[str], Optional[str]]:
    """(paths, error): the paths of the commands ``manager`` needs."""
    paths = []
    for tool in tools:
        path = which(tool)
        if not path:
            return [], "manager=%s needs %s, which is not on this host's PATH" % (manager, tool)
        paths.append(path)
    return paths, None


def _probe_apt(names: Sequence[str], run: Run, which: Which) -> Tuple[Optional[dict], Optional[str]]:
    paths, error = _tools("apt", ["apt-cache"], which)
    if error:
        return None, error
    rc, out, err = run(apt_policy_argv(paths[0], names))
    if rc != 0:
        return None, _failure(["apt-cache", "policy"], rc, out, err)
    policy = parse_apt_policy(out)
    installed = {name: versions[0] for name, versions in policy.items()}
    candidate = {name: versions[1] for name, versions in policy.items()}
    return describe(names, installed, candidate), None


def _probe_dnf(names: Sequence[str], run: Run, which: Which) -> Tuple[Optional[dict], Optional[str]]:
    paths, error = _tools("dnf", ["rpm", "dnf"], which)
    if error:
        return None, error
    rpm, dnf = paths
    rc, out, err = run(rpm_query_argv(rpm, names))
    if rc != 0 and RPM_NOT_INSTALLED not in out:
        return None, _failure(["rpm", "--query"], rc, out, err)
    installed = parse_name_versions(out)
    rc, out, err = run(dnf_repoquery_argv(dnf, names))
    if rc != 0:
        return None, _failure(["dnf", "repoquery"], rc, out, err)
    return describe(names, installed, parse_name_versions(out)), None


def choose_manager(manager: str, which: Which) -> Tuple[Optional[str], Optional[str]]:
    """(manager, error): ``auto`` is apt where apt-cache exists, dnf where rpm does."""
    if manager != "auto":
        return manager, None
    if which("apt-cache"):
        return "apt", None
    if which("rpm"):
        return "dnf", None
    return None, "manager=auto found neither apt-cache nor rpm on this host's PATH"


def probe(names: Sequence[str], manager: str, run: Run, which: Which) -> Tuple[dict, Optional[str]]:
    """(result, error) for ``names`` asked of ``manager`` (``auto``, ``apt`` or ``dnf``).

    ``run(argv)`` returns (rc, stdout, stderr); ``which(command)`` returns the
    command's path or None. The result always has ``manager``, ``packages``
    and ``missing``; when error is set, the last two are empty.
    """
    empty = {"packages": {}, "missing": []}
    bad = invalid_names(names)
    if bad:
        return dict(empty, manager=manager), "not package names: %s" % ", ".join(repr(n) for n in bad)
    chosen, error = choose_manager(manager, which)
    if error:
        return dict(empty, manager=manager), error
    if not names:
        return dict(empty, manager=chosen), None
    probe_one = _probe_apt if chosen == "apt" else _probe_dnf
    found, error = probe_one(names, run, which)
    if error:
        return dict(empty, manager=chosen), error
    return dict(found, manager=chosen), None
