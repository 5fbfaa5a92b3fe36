# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quadlet unit text from (section, [(key, value), ...]) lists.

Pure Python, no Ansible imports. Lists become repeated keys, booleans are
written lower-case, values that need it are quoted the way systemd reads them.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence, Tuple, Union

Value = Union[str, int, float, bool]
Section = Tuple[str, Sequence[Tuple[str, Value]]]

MANAGED_MARKER = "Managed by ai_system.containers"
HEADER = (
    "# %s -- do not edit: changes are overwritten on the next run.\n"
    "# Edit the inventory (host_vars/<host>.yml: ai_groups) instead.\n" % MANAGED_MARKER
)


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = ("%.3f" % value).rstrip("0").rstrip(".")
        return text or "0"
    text = str(value)
    if "\n" in text:
        raise ValueError("a unit file value cannot span lines: %r" % text)
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
            out.append("%s=%s" % (key, format_value(value)))
    return "\n".join(out) + "\n"


def service_name(unit_file: str) -> str:
    """The systemd service Quadlet generates for a unit file."""
    stem, dummy, kind = unit_file.rpartition(".")
    if kind == "container":
        return stem + ".service"
    return "%s-%s.service" % (stem, kind)
