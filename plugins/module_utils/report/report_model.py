# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vocabulary of the verification report, shared by the checks and the renderers.

Pure Python, no Ansible imports.

* the four statuses a check ends with, and how they add up (:func:`counts`,
  :func:`worst`);
* :class:`Cause`, one reason that several checks share (a host without
  results, a phase that did not run, a module that produced no data, a
  container in which the ZMQ checks could not run);
* :class:`Column` and :class:`Edge`, what a check contributes to the group
  tables and to the Mermaid diagram;
* the cells every table writes (:func:`ratio`, :func:`status_cell`,
  :func:`md_cell`, :func:`table`, :func:`mermaid_text`, :func:`rtt_text`);
* text that agents and hosts supplied, made inert: :func:`shown` (control
  characters and terminal escape sequences visible, length capped with the
  cut said), :func:`md_text` and :func:`md_code` (Markdown, and HTML inside
  it, escaped). Only :class:`Markup`, the report's own Markdown, passes as is.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

PASSED, DEGRADED, FAILED, SKIPPED = "passed", "degraded", "failed", "skipped"
STATUSES = (PASSED, DEGRADED, FAILED, SKIPPED)

NOT_CHECKED = "not checked in this run"
NOT_VERIFIED = "no results: unreachable, or failed before its checks ran"


def utc_stamp(now: Optional[datetime] = None) -> str:
    """``now`` (default: this moment) in UTC to the second, as the reports'
    ``generated_at`` (``2026-12-06T21:16:23Z``); a naive ``now`` is taken as UTC."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# One judged check: plain data, as it is written to the JSON report.
Item = Dict[str, Any]


@dataclass(frozen=True)
class Cause:
    """The one reason behind several checks, reported as one line.

    ``kind`` is one of :data:`HOST` (the host returned no results),
    :data:`PHASE` (``check``'s phase did not run), :data:`MODULE` (the
    module of ``check`` ran but produced no data) or :data:`CONTAINER` (the
    ZMQ checks could not run inside ``container``).
    """

    kind: str
    host: str
    check: Optional[str] = None
    container: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


HOST, PHASE, MODULE, CONTAINER = "host", "phase", "module", "container"


@dataclass(frozen=True)
class Column:
    """One column a check adds to a host's group table.

    ``cell(group_name, group, host)`` gives the cell from the group summary
    (``host["groups"][group_name]``) and the host's report; ``width`` is the
    least width of a terminal column.
    """

    header: str
    cell: Callable[[str, Mapping[str, Any], Mapping[str, Any]], Any]
    width: int = 0


@dataclass(frozen=True)
class Edge:
    """One edge of the Mermaid diagram, between two ``(host, group)`` nodes.

    ``label`` is Mermaid-safe text; ``style`` names one of the drawing
    check's ``edge_styles`` (``None``: the default line).
    """

    source: Tuple[str, str]
    target: Tuple[str, str]
    label: str
    dotted: bool = False
    style: Optional[str] = None


def counts(items: Iterable[Mapping[str, Any]]) -> Dict[str, int]:
    """How many of ``items`` ended with each status."""
    result = {status: 0 for status in STATUSES}
    for item in items:
        result[item["status"]] += 1
    return result


def worst(statuses: Iterable[str]) -> str:
    """Failed, else degraded (an answer that needs a look), else skipped, else passed."""
    seen = set(statuses)
    for status in (FAILED, DEGRADED, SKIPPED):
        if status in seen:
            return status
    return PASSED if seen else SKIPPED


# --------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------

def rtt_text(rtt: Optional[Mapping[str, Any]]) -> str:
    """A round trip's median, ``0.25 ms``, or ``""``."""
    if not rtt or rtt.get("median") is None:
        return ""
    return "%.2f ms" % float(rtt["median"])


def ratio(status_counts: Mapping[str, int]) -> str:
    """Passed out of all, and how many of the rest are degraded."""
    total = sum(status_counts.values())
    if not total:
        return "-"
    text = "%d/%d" % (status_counts[PASSED], total)
    if status_counts[SKIPPED] == total:
        return "skipped"
    if status_counts.get(DEGRADED):
        text += ", %d degraded" % status_counts[DEGRADED]
    return text


def status_cell(status: Optional[str]) -> "Markup":
    """A status as a Markdown cell: failures bold, the rest upper case."""
    return Markup({PASSED: "passed", DEGRADED: "DEGRADED", FAILED: "**FAILED**",
                   SKIPPED: "SKIPPED"}.get(status or "", "-"))


def join(reason: Any, detail: Any) -> str:
    """``reason (detail)``, or the reason alone."""
    return "%s (%s)" % (reason, detail) if detail else str(reason)


# --------------------------------------------------------------------------
# Text from agents and hosts, made inert
# --------------------------------------------------------------------------

#: The most characters of one piece of supplied text (a reply, an error, a
#: reason) a report line or cell shows; the JSON report holds it whole.
MAX_TEXT = 500

# C0 and C1 control characters (ESC starts a terminal escape sequence, U+009B
# is CSI on its own), DEL, and the Unicode controls that reorder or hide text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class Markup(str):
    """Markdown the report itself wrote (``**FAILED**``): cells pass it as is."""


def _visible(match: "re.Match") -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


def _cut(value: Any, limit: Optional[int]) -> Tuple[str, str]:
    """``value`` as text of at most ``limit`` characters, and the note of the cut."""
    text = "" if value is None else str(value)
    if limit is None or len(text) <= limit:
        return text, ""
    more = len(text) - limit
    return text[:limit], "\u2026 (%d more character%s)" % (more, "" if more == 1 else "s")


def shown(value: Any, limit: Optional[int] = MAX_TEXT) -> str:
    """``value`` as text that is inert on a terminal: every control character
    (``ESC`` of an escape sequence, ``\\r``, a bidi override) written visibly as
    ``\\x1b``, ``\\r``, ``\\u202e``, and at most ``limit`` characters, the cut
    said: ``… (1234 more characters)``."""
    text, note = _cut(value, limit)
    return _CONTROL.sub(_visible, text) + note


# What can start Markdown's inline markup (emphasis, strikethrough, code, a
# link or image -- escaping the brackets leaves ``(``, ``!`` and ``:`` inert --
# a table cell's end, an escape) and HTML (a tag, a comment or an autolink
# opens with ``<``; an entity): escaped wherever they are. ``_`` between two
# letters or digits starts nothing, nor does ``>`` once no tag can open.
_MD_SPECIAL = re.compile(r"[\\`*~\[\]|<]|&(?=#?[A-Za-z0-9]+;)|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_HTML = {"<": "&lt;", "&": "&amp;"}
# What starts a block at the beginning of a line: a list item, a heading, a
# quote, a setext underline, a numbered list.
_MD_BLOCK_START = re.compile(r"^(\s*)(?:([-+=#>])|(\d+)([.)]))")


def _md_escape(match: "re.Match") -> str:
    char = match.group()
    return _HTML.get(char) or "\\" + char


def _block_escape(match: "re.Match") -> str:
    if match.group(2):
        return match.group(1) + "\\" + match.group(2)
    return match.group(1) + match.group(3) + "\\" + match.group(4)


def md_text(value: Any, limit: Optional[int] = MAX_TEXT, line_start: bool = True) -> str:
    """Supplied text as inert Markdown on one line: control characters shown
    (:func:`shown`), the characters that start Markdown's inline markup and
    HTML escaped (no link, image, tag, emphasis or code span can start), and
    with ``line_start`` (text that begins a line or a list item) what starts a
    block; capped at ``limit`` with the cut said."""
    if isinstance(value, Markup):
        return str(value)
    text, note = _cut(value, limit)
    # Line breaks and tabs are a space in Markdown's one line; every other
    # control character is shown.
    text = " ".join(re.split(r"[ \t]*[\n\t][ \t]*", text.strip(" \t\n")))
    text = _MD_SPECIAL.sub(_md_escape, _CONTROL.sub(_visible, text))
    if line_start:
        text = _MD_BLOCK_START.sub(_block_escape, text)
    return text + note


def md_code(value: Any, limit: Optional[int] = MAX_TEXT) -> str:
    """Supplied text as an inline code span: shown verbatim (control characters
    visible, capped), its fence longer than any run of backticks in it."""
    text = shown(value, limit)
    longest = max([len(run) for run in re.findall("`+", text)] or [0])
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return "%s%s%s%s%s" % (fence, pad, text, pad, fence)


def md_cell(value: Any) -> str:
    """A table cell: the report's own :class:`Markup` as is, any other value as
    inert text (:func:`md_text`) with its pipes escaped."""
    if value is None or value == "":
        return "-"
    if isinstance(value, Markup):
        return str(value).replace("|", "\\|")
    # A table cell holds inline content only: nothing there starts a block.
    return md_text(value, line_start=False)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> List[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out.extend("| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows)
    return out


def mermaid_text(text: str) -> str:
    """Text that is safe in a Mermaid label or edge text."""
    text = re.sub(r"[^A-Za-z0-9 _:/.,=+@-]", " ", str(text))
    text = re.sub(r"\.+(?=-)", " ", text)
    return " ".join(text.split())
