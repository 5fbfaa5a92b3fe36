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
  :func:`md_cell`, :func:`table`, :func:`mermaid_text`, :func:`rtt_text`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

PASSED, DEGRADED, FAILED, SKIPPED = "passed", "degraded", "failed", "skipped"
STATUSES = (PASSED, DEGRADED, FAILED, SKIPPED)
NOT_CHECKED = "not checked in this run"
NOT_VERIFIED = "no results: unreachable, or failed before its checks ran"

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


def status_cell(status: Optional[str]) -> str:
    """A status as a Markdown cell: failures bold, the rest upper case."""
    return {PASSED: "passed", DEGRADED: "DEGRADED", FAILED: "**FAILED**",
            SKIPPED: "SKIPPED"}.get(status or "", "-")


def join(reason: Any, detail: Any) -> str:
    """``reason (detail)``, or the reason alone."""
    return "%s (%s)" % (reason, detail) if detail else str(reason)


def md_cell(value: Any) -> str:
    """A table cell: no line breaks, pipes escaped."""
    if value is None or value == "":
        return "-"
    return " ".join(str(value).split()).replace("|", "\\|")


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
