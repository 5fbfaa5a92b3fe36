# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quadlet unit text from (section, [(key, value), ...]) lists.

Pure Python, no Ansible imports. Lists become repeated keys, booleans are
written lower-case, values that need it are quoted the way systemd reads them.

A value never leaves its line: control characters (tab aside) and a trailing
backslash are refused, ``%`` is written ``%%`` (systemd expands specifiers in
every directive Quadlet writes) and, in the sections Quadlet turns into the
``podman`` command line, ``$`` is written ``$$`` (systemd expands variables
there). The inventory model refuses such values first, with their location;
the checks here make a unit that escapes its line impossible to write.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Sequence, Tuple, Union

Value = Union[str, int, float, bool]
Section = Tuple[str, Sequence[Tuple[str, Value]]]

MANAGED_MARKER = "Managed by ai_system.containers"
HEADER = (
    "# %s -- do not edit: changes are overwritten on the next run.\n"
    "# Edit the inventory (host_vars/<host>/groups.yml: ai_groups) instead.\n" % MANAGED_MARKER
)


# systemd ends a line at LF, CR and NUL; tab is the one control character a
# value may hold.
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Sections whose values Quadlet copies into ExecStart=, where systemd expands
# $VAR and ${VAR}.
COMMAND_SECTIONS = ("Container", "Network", "Volume", "Build", "Pod", "Kube", "Image")


def line_problem(text: str) -> str:
    """Why ``text`` cannot be one unit file value, or '' when it can."""
    match = CONTROL_RE.search(text)
    if match:
        return "holds the control character %r, which would end the unit file line" % (
            match.group(),)
    if text.endswith("\\"):
        return "ends with a backslash, which would join the next unit file line onto it"
    return ""


def format_value(value: Value, section: str = "") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = ("%.3f" % value).rstrip("0").rstrip(".")
        return text or "0"
    text = str(value)
    problem = line_problem(text)
    if problem:
        raise ValueError("unit file value %r %s" % (text, problem))
    text = text.replace("%", "%%")
    if section in COMMAND_SECTIONS:
        text = text.replace("$", "$$")
    return text


def quote(text: str) -> str:
    """Quote one word for systemd-style splitting when it needs it."""
    if text and not any(c in text for c in " \t\"'\\;"):
        return text
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def env_assignment(name: str, value: str) -> str:
    """Environment=NAME=value, quoted as a whole when the value needs it."""
    return quote("%s=%s" % (name, value))


def render(sections: Iterable[Section], header: str = HEADER) -> str:
    out: List[str] = [header.rstrip("\n")]
    for title, pairs in sections:
        pairs = list(pairs)
        if not pairs:
            continue
        out.append("")
        out.append("[%s]" % title)
        for key, value in pairs:
            out.append("%s=%s" % (key, format_value(value, title)))
    return "\n".join(out) + "\n"


def service_name(unit_file: str) -> str:
    """The systemd service Quadlet generates for a unit file."""
    stem, dummy, kind = unit_file.rpartition(".")
    if kind == "container":
        return stem + ".service"
    return "%s-%s.service" % (stem, kind)


# "converting \"ai-core.container\": unsupported key 'Foo' in group 'Container' in /dir/..."
_CONVERTING_RE = re.compile(r'converting "([^"]+)": (.*?)(?: in /\S+)?$')


def dryrun_problems(files: Iterable[str], stdout: str, stderr: str) -> List[Tuple[str, str]]:
    """(file, reason) for every unit file the generator rejected or skipped.

    ``files``: the names of the unit files given to ``quadlet -dryrun``;
    ``stdout`` lists each generated service as ``---name.service---``, and
    ``stderr`` says why a file was not converted. A file whose service is
    missing without a reason is reported as skipped.
    """
    generated = set(re.findall(r"^---(.+?)---$", stdout, re.MULTILINE))
    reasons = {}
    for line in stderr.splitlines():
        match = _CONVERTING_RE.search(line.strip())
        if match:
            reasons.setdefault(match.group(1), match.group(2))
    out = []
    for name in sorted(files):
        if name in reasons:
            out.append((name, reasons[name]))
        elif name.rpartition(".")[2] in ("container", "network", "volume", "build", "pod",
                                         "kube", "image") and service_name(name) not in generated:
            out.append((name, "the generator skipped it without saying why"))
    return out
