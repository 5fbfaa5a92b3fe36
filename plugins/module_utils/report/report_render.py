# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification report for people and for files.

Pure Python, no Ansible imports.  Every function here takes a report that
:func:`report_checks.build_report` judged, and presents it: :func:`verdict`
(one line), :func:`render_text` (the terminal), :func:`render_markdown` with
:func:`render_mermaid` (a diagram of hosts, groups and links),
:func:`render_json`, :func:`render_junit` (JUnit XML for CI systems), and
:func:`write_report` stores them.

Nothing here knows a kind of check: each renderer iterates the report's
checks (``checks``, by default ``verify_checks.REPORT_CHECKS``) and asks each
for its columns, its details and its edges.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import write_text
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_checks import checks_or_default
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import (
    DEGRADED, FAILED, NOT_VERIFIED, PASSED, SKIPPED, md_text, mermaid_text, ratio, shown, status_cell,
    table,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_views import (
    AFTER_GROUPS, BEFORE_GROUPS, UNDER_GROUPS, ReportCheck,
)

# How many degraded agents the one-line verdict names before "+N more".
VERDICT_NAMES = 5
# The most characters of one terminal line (it may quote an agent's reply).
TEXT_LINE_LIMIT = 1000
# The least width of the terminal's GROUP column.
GROUP_WIDTH = 26
LIST_SECTIONS = (("Problems", "problems"), ("Degraded", "degraded"), ("Skipped", "skipped"),
                 ("Warnings", "warnings"))
SECTIONS = (BEFORE_GROUPS, UNDER_GROUPS, AFTER_GROUPS)


def _verdict_word(report: Mapping[str, Any]) -> str:
    """``PASSED``, ``FAILED``, or ``PASSED with`` degraded agents and/or skipped checks."""
    if not report["ok"]:
        return "FAILED"
    notes = []
    if report["counts"].get(DEGRADED):
        notes.append("degraded agents")
    if not report["complete"]:
        notes.append("skipped checks")
    return "PASSED with %s" % " and ".join(notes) if notes else "PASSED"


def verdict(report: Mapping[str, Any]) -> str:
    """One line: the overall result and the counts, naming the degraded agents."""
    counts = report["counts"]
    text = "%s: %d passed" % (_verdict_word(report), counts[PASSED])
    if counts.get(DEGRADED):
        names = list(report.get("degraded_agents") or [])
        shown = ", ".join(names[:VERDICT_NAMES])
        if len(names) > VERDICT_NAMES:
            shown += ", +%d more" % (len(names) - VERDICT_NAMES)
        text += ", %d degraded" % counts[DEGRADED] + (" (%s)" % shown if shown else "")
    return text + ", %d failed, %d skipped" % (counts[FAILED], counts[SKIPPED])


def _placed(checks: Sequence[ReportCheck], *sections: str) -> List[ReportCheck]:
    """The checks of ``sections``, by section then in the order of ``checks``:
    the order of the columns and details of a host."""
    return [check for section in sections for check in checks if check.section == section]


# --------------------------------------------------------------------------
# Text for the terminal
# --------------------------------------------------------------------------

def _text_table(host: Mapping[str, Any], checks: Sequence[ReportCheck]) -> List[str]:
    """The host's groups, a row each: GROUP, every check's columns, RESULT."""
    columns = [column for check in _placed(checks, *SECTIONS) for column in check.text_columns]
    rows = [tuple(["GROUP"] + [c.header for c in columns] + ["RESULT"])]
    rows += [tuple([name] + [str(c.cell(name, group, host)) for c in columns] + [group["status"]])
             for name, group in host["groups"].items()]
    # Columns as wide as their widest cell (e.g. "4/5, 1 degraded"), at least their width.
    least = [GROUP_WIDTH] + [c.width for c in columns]
    widths = [max([width] + [len(r[i]) for r in rows]) for i, width in enumerate(least)]
    return ["  " + " ".join(cell.ljust(width) for cell, width in zip(r, widths)) + " " + r[-1] for r in rows]


def render_text(report: Mapping[str, Any], checks: Optional[Sequence[ReportCheck]] = None) -> List[str]:
    """A readable table for the terminal, one string per line."""
    checks = checks_or_default(checks)
    lines = ["AI system verification %s -- %s" % (report["generated_at"], verdict(report))]
    for name, host in report["hosts"].items():
        head = "%s (%s): %s" % (name, host["lan_address"], host["status"].upper())
        if not host["verified"]:
            head += " -- " + NOT_VERIFIED
        elif host["lab"]:
            head += " (lab)"
        lines.append(head)
        for check in _placed(checks, BEFORE_GROUPS):
            lines.extend(check.text_lines(host))
        lines.extend(_text_table(host, checks))
        for check in _placed(checks, UNDER_GROUPS, AFTER_GROUPS):
            lines.extend(check.text_lines(host))
    for title, key in LIST_SECTIONS:
        if report[key]:
            lines.append("%s (%d):" % (title, len(report[key])))
            lines.extend("  - %s" % line for line in report[key])
    # Agents' replies and errors are in these lines: control characters (a
    # terminal escape sequence) shown inert, each line capped.
    return [shown(line, TEXT_LINE_LIMIT) for line in lines]


# --------------------------------------------------------------------------
# Markdown with a Mermaid diagram
# --------------------------------------------------------------------------

STATUS_STYLE = {
    PASSED: "fill:#dcfce7,stroke:#16a34a,color:#14532d",
    # Amber/orange: answered, but degraded (apart from the yellow of skipped).
    DEGRADED: "fill:#ffedd5,stroke:#ea580c,color:#7c2d12",
    FAILED: "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    SKIPPED: "fill:#fef9c3,stroke:#ca8a04,color:#713f12",
    "unknown": "fill:#f3f4f6,stroke:#9ca3af,color:#374151",
}


def render_mermaid(report: Mapping[str, Any], checks: Optional[Sequence[ReportCheck]] = None) -> List[str]:
    """``flowchart LR``: a subgraph per host and a node per group, coloured by
    status and labelled by the checks; then every check's edges."""
    checks = checks_or_default(checks)
    lines = ["flowchart LR"]
    ids: Dict[Tuple[str, str], str] = {}
    classes: Dict[str, List[str]] = {}
    for h_index, (hname, topo) in enumerate(report["topology"].items()):
        host = report["hosts"].get(hname)
        title = "%s %s" % (hname, topo.get("lan_address") or "")
        if host is None:
            title += " not part of this run"
        elif not host["verified"]:
            title += " not verified"
        lines.append('  subgraph h%d["%s"]' % (h_index, mermaid_text(title)))
        for gname in topo["groups"]:
            node = "n%d" % len(ids)
            ids[(hname, gname)] = node
            group = host["groups"].get(gname) if host else None
            label = mermaid_text(gname)
            if group:
                for check in checks:
                    extra = check.diagram_label(group)
                    if extra:
                        label += "<br/>%s" % mermaid_text(extra)
            lines.append('    %s["%s"]' % (node, label))
            classes.setdefault(group["status"] if group else "unknown", []).append(node)
        lines.append("  end")
    styled: Dict[Tuple[str, str], List[str]] = {}
    count = 0
    for hname, host in report["hosts"].items():
        for check in checks:
            for edge in check.diagram_edges(hname, host):
                source, target = ids.get(edge.source), ids.get(edge.target)
                if not source or not target:
                    continue
                lines.append('  %s %s|"%s"| %s' % (source, "-.->" if edge.dotted else "-->", edge.label, target))
                if edge.style:
                    styled.setdefault((check.name, edge.style), []).append(str(count))
                count += 1
    for status in (PASSED, DEGRADED, FAILED, SKIPPED, "unknown"):
        if classes.get(status):
            lines.append("  classDef %s %s" % (status, STATUS_STYLE[status]))
            lines.append("  class %s %s" % (",".join(classes[status]), status))
    for check in checks:
        for style, css in check.edge_styles:
            if styled.get((check.name, style)):
                lines.append("  linkStyle %s %s" % (",".join(styled[(check.name, style)]), css))
    return lines


def render_markdown(report: Mapping[str, Any], checks: Optional[Sequence[ReportCheck]] = None) -> str:
    """The whole report as Markdown: verdict, per-host summary, problems,
    the Mermaid topology, then per host every check's details and the groups."""
    checks = checks_or_default(checks)
    word = "FAILED"
    if report["ok"]:
        word = "PASSED with degraded agents" if report["counts"].get(DEGRADED) else "PASSED"
    out = ["# AI system verification: %s" % word, "",
           "Generated %s. %s." % (report["generated_at"], md_text(verdict(report))), ""]
    out += table(["Host", "Verified"] + [c.heading for c in checks] + ["Result"],
                 [[name, "yes" if host["verified"] else "**no**"]
                  + [ratio(host["checks"][c.name]) for c in checks] + [status_cell(host["status"])]
                  for name, host in report["hosts"].items()])
    for title, key in LIST_SECTIONS:
        if report[key]:
            out += ["", "## %s" % title, ""]
            # Lines that quote agents' replies and errors: inert Markdown, capped.
            out += ["- %s" % md_text(line) for line in report[key]]
    out += ["", "## Topology", ""]
    legend = " ".join(c.diagram_legend for c in checks if c.diagram_legend)
    if legend:
        out += [legend, ""]
    out += ["```mermaid"] + render_mermaid(report, checks) + ["```"]
    columns = [column for check in _placed(checks, *SECTIONS) for column in check.markdown_columns]
    for name, host in report["hosts"].items():
        out += ["", "## %s (%s)%s" % (name, host["lan_address"], " -- lab" if host["lab"] else "")]
        if not host["verified"]:
            out += ["", "Not verified: %s." % NOT_VERIFIED]
        for check in _placed(checks, BEFORE_GROUPS):
            out += check.markdown_lines(host)
        out += ["", "### Groups", ""]
        out += table(["Group"] + [c.header for c in columns] + ["Result"],
                     [[g] + [c.cell(g, group, host) for c in columns] + [status_cell(group["status"])]
                      for g, group in host["groups"].items()])
        for check in _placed(checks, UNDER_GROUPS, AFTER_GROUPS):
            out += check.markdown_lines(host)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def render_json(report: Mapping[str, Any]) -> str:
    """The report as the JSON document that is written."""
    return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"


# --------------------------------------------------------------------------
# JUnit XML
# --------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all (reasons quote what peers sent).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: Any) -> str:
    return _NOT_XML.sub(lambda m: "\\x%02x" % ord(m.group()), str(text))


def _junit_items(host: Mapping[str, Any], check: ReportCheck) -> List[Mapping[str, Any]]:
    items = host.get(check.name)
    if check.single:
        return [items] if items else []
    return list(items or [])


def render_junit(report: Mapping[str, Any], checks: Optional[Sequence[ReportCheck]] = None) -> str:
    """JUnit XML: a test suite per host and kind of check, a test case per
    item, so a CI system lists each broken link or unhealthy unit as a failed
    test. Skipped checks are skipped test cases; degraded agents fail only
    when the report was judged with ``fail_on_degraded`` (they pass with a
    note otherwise)."""
    checks = checks_or_default(checks)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    root = ET.Element("testsuites", name="AI system verification",
                      timestamp=report["generated_at"])
    for hname, host in report["hosts"].items():
        for check in checks:
            items = _junit_items(host, check)
            suite = ET.SubElement(root, "testsuite", name="%s.%s" % (hname, check.name),
                                  timestamp=report["generated_at"], hostname=hname)
            counted = {"tests": len(items), "failures": 0, "skipped": 0}
            for item in items:
                case = ET.SubElement(suite, "testcase", classname="%s.%s" % (hname, check.name),
                                     name=_xml_text(check.describe(hname, item)))
                status, reason = item["status"], _xml_text(item.get("reason") or "")
                if status == FAILED or (status == DEGRADED and report.get("fail_on_degraded")):
                    counted["failures"] += 1
                    failure = ET.SubElement(case, "failure", message=reason, type=status)
                    failure.text = _xml_text(check.problem(hname, item))
                elif status == SKIPPED:
                    counted["skipped"] += 1
                    ET.SubElement(case, "skipped", message=reason)
                elif status == DEGRADED:
                    ET.SubElement(case, "system-out").text = "degraded: %s" % reason
            for key, value in counted.items():
                suite.set(key, str(value))
                totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def report_paths(dest: str, generated_at: str) -> Dict[str, str]:
    """Where a report is written: ``verify-<UTC stamp>.json``, ``.md`` and
    ``.xml`` (JUnit) plus ``latest.json``, ``latest.md`` and ``latest.xml``,
    under ``dest`` (made absolute)."""
    stamp = generated_at.replace("-", "").replace(":", "")
    base = os.path.abspath(os.path.expanduser(dest))
    return {
        "json": os.path.join(base, "verify-%s.json" % stamp),
        "markdown": os.path.join(base, "verify-%s.md" % stamp),
        "junit": os.path.join(base, "verify-%s.xml" % stamp),
        "latest_json": os.path.join(base, "latest.json"),
        "latest_markdown": os.path.join(base, "latest.md"),
        "latest_junit": os.path.join(base, "latest.xml"),
    }


def write_report(dest: str, report: Mapping[str, Any], markdown: str) -> Dict[str, str]:
    """Write the report's JSON, Markdown and JUnit XML (and the ``latest``
    copies); return the paths.

    A second report in the same second gets a ``-2``, ``-3``... suffix rather
    than replacing the first.
    """
    paths = report_paths(dest, report["generated_at"])
    os.makedirs(os.path.dirname(paths["json"]), exist_ok=True)
    suffix = 1
    stamped = ("json", "markdown", "junit")
    while any(os.path.exists(paths[key]) for key in stamped):
        suffix += 1
        for key in stamped:
            root, ext = os.path.splitext(report_paths(dest, report["generated_at"])[key])
            paths[key] = "%s-%d%s" % (root, suffix, ext)
    document = render_json(report)
    junit = render_junit(report)
    for key, text in (("json", document), ("markdown", markdown), ("junit", junit)):
        write_text(paths[key], text)
        write_text(paths["latest_" + key], text)
    return paths
