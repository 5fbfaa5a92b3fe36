# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the verification report shows each kind of check.

Pure Python, no Ansible imports.  A view says how a check's items appear:
its heading, the lines that name an item and its problem, the notes on
items that passed, its columns in the terminal and Markdown group tables,
its lines in a host's section, and how it draws in the Mermaid diagram.
The judging is in ``report_judging`` and ``report_zmq_judging``; a check's
report class (``verify_checks``) is its view and its judge together, views
first, so :class:`ReportCheck` is the base of a check that needs neither.
The renderers (``report_render``) only iterate the report classes.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.report.report_judging import (
    BUDGET_NOT_ENFORCED, CheckJudge,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import (
    DEGRADED, FAILED, PASSED, SKIPPED, Column, Edge, Item, Markup, join, md_cell, md_code, md_text, mermaid_text,
    ratio, rtt_text, status_cell, table,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_zmq_judging import (
    VERDICT_REACHABLE,
)

# Where a check comes in a host's section: before the group table (a
# host-wide check), the group's own unit (its columns first, its details right
# under the table), or after.  Columns and details follow the sections, then
# the order of the checks.
BEFORE_GROUPS, UNDER_GROUPS, AFTER_GROUPS = "before_groups", "under_groups", "after_groups"


class CheckView:
    """How one kind of check is shown.  A view reads the judge's ``name``,
    ``title`` and ``single``; every method has a default that adds nothing."""

    # Set by the judge it is combined with (views come first in a report class).
    name: str
    title: str
    single: bool

    #: Where the columns and details go in a host's section (``BEFORE_GROUPS``...).
    section = AFTER_GROUPS
    #: Columns of the group table in the terminal and in Markdown.
    text_columns: Tuple[Column, ...] = ()
    markdown_columns: Tuple[Column, ...] = ()
    #: ``(style name, Mermaid linkStyle)`` of the edges the check draws, in order.
    edge_styles: Tuple[Tuple[str, str], ...] = ()
    #: What the check's edges mean, under the diagram's title.
    diagram_legend = ""

    @property
    def heading(self) -> str:
        """The title as a heading or column: ``Units``, ``Health sockets``."""
        return self.title[:1].upper() + self.title[1:]

    def describe(self, host: str, item: Item) -> str:
        """One line naming an item: host, kind of check and what it is about."""
        return "%s: %s" % (host, self.title)

    def problem(self, host: str, item: Item) -> str:
        """The problem line of a failed item."""
        return "%s: %s" % (self.describe(host, item), item["reason"])

    def notes(self, host: str, items: Sequence[Item]) -> List[str]:
        """Things that passed but deserve a look."""
        return []

    def text_lines(self, host: Mapping[str, Any]) -> List[str]:
        """The check's lines in a host's terminal section: for a single-item
        check, ``  Heading: status -- reason``."""
        item = host.get(self.name) if self.single else None
        return ["  %s: %s -- %s" % (self.heading, item["status"], item["reason"])] if item else []

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        """The check's details in a host's Markdown section."""
        return []

    def markdown_table(self, header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> List[str]:
        """The check's heading and a table under it, in a host's Markdown section."""
        return ["", "### %s" % self.heading, ""] + table(header, rows)

    def diagram_label(self, group: Mapping[str, Any]) -> Optional[str]:
        """A line the check adds to a group's node, or None."""
        return None

    def diagram_edges(self, host: str, report: Mapping[str, Any]) -> List[Edge]:
        """The edges the check draws from the host's report."""
        return []


class ReportCheck(CheckView, CheckJudge):
    """A check of the report: its view and its judge.  A new kind of check
    subclasses it (or a view and its judge) and sets what its judge needs."""


# --------------------------------------------------------------------------
# GPU
# --------------------------------------------------------------------------

class GpuView(CheckView):
    """The GPU check: a line before the groups, a table in Markdown."""

    section = BEFORE_GROUPS

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        gpu = host.get(self.name)
        if not gpu:
            return []
        return self.markdown_table(
            ["Expected", "Found", "Driver", "CUDA", "Result", "Detail"],
            [[gpu["expected_model"], ", ".join(str(g.get("name")) for g in gpu["gpus"]),
              gpu["driver_version"], gpu["cuda_driver_version"], status_cell(gpu["status"]), gpu["reason"]]])


# --------------------------------------------------------------------------
# CUDA
# --------------------------------------------------------------------------

class CudaView(CheckView):
    """CUDA: a column of the group tables, a table of containers in Markdown."""

    text_columns = (Column("CUDA", lambda g, group, host: group["cuda"] or "-", 8),)
    markdown_columns = (Column("CUDA", lambda g, group, host: status_cell(group["cuda"]) if group["cuda"]
                               else "-"),)

    def notes(self, host: str, items: Sequence[Item]) -> List[str]:
        return ["%s: CUDA in %s: %s" % (host, i["container"], i["budget_reason"] or
                                        "VRAM budget of %s MiB not enforced" % i["budget_mib"])
                for i in items if i.get("budget") == BUDGET_NOT_ENFORCED]

    def describe(self, host: str, item: Item) -> str:
        return "%s: CUDA in %s" % (host, item["container"])

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        if not host.get(self.name):
            return []
        return self.markdown_table(
            ["Container", "Result", "GPUs", "Driver", "VRAM budget", "Reason"],
            [[c["container"], status_cell(c["status"]), ", ".join(str(g) for g in c["gpus"]),
              c["driver_version"], budget_cell(c.get("budget_mib"), c.get("budget")), c["reason"]]
             for c in host[self.name]])


_BUDGET_CELLS = {"enforced": "enforced", BUDGET_NOT_ENFORCED: "NOT ENFORCED (no MPS)", "skipped": "SKIPPED",
                 "failed": Markup("**FAILED**")}


def budget_cell(mib: Any, status: Optional[str]) -> str:
    """A container's VRAM budget and its verdict as a Markdown cell."""
    if mib is None:
        return "-"
    return Markup("%s MiB, %s" % (md_text(mib), _BUDGET_CELLS.get(status or "", "not checked")))


# --------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------

def _unit_state(group: Mapping[str, Any]) -> str:
    if group["unit"] == SKIPPED or group["active_state"] is None:
        return "-" if group["unit"] != FAILED else "?"
    return "%s/%s" % (group["active_state"], group["sub_state"] or "?")


def _active_since(name: str, host: Mapping[str, Any]) -> Any:
    return next((u["active_since"] for u in host["units"] if u["group"] == name), None)


class UnitsView(CheckView):
    """Units: the first columns of the group tables, what did not pass under them."""

    section = UNDER_GROUPS
    text_columns = (
        Column("UNIT", lambda g, group, host: _unit_state(group), 20),
        Column("HEALTH", lambda g, group, host: group["health"] or "-", 10),
        Column("RESTARTS", lambda g, group, host: "-" if group["restarts"] is None else str(group["restarts"]),
               8),
    )
    markdown_columns = (
        Column("Unit", lambda g, group, host: group["service"]),
        Column("State", lambda g, group, host: _unit_state(group)),
        Column("Health", lambda g, group, host: group["health"]),
        Column("Restarts", lambda g, group, host: group["restarts"]),
        Column("Active since", lambda g, group, host: _active_since(g, host)),
    )

    def notes(self, host: str, items: Sequence[Item]) -> List[str]:
        return ["%s: unit %s was restarted %d times by systemd" % (host, i["service"], i["restarts"])
                for i in items if i["restarts"]]

    def describe(self, host: str, item: Item) -> str:
        return "%s: unit %s" % (host, item["service"])

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        units = [u for u in host[self.name] if u["status"] != PASSED]
        if not units:
            return []
        return ["", "Units that did not pass:", ""] + [
            "- %s: %s %s" % (md_code(u["service"]), status_cell(u["status"]), md_cell(u["reason"])) for u in units]

    def diagram_label(self, group: Mapping[str, Any]) -> Optional[str]:
        if not group.get("active_state"):
            return None
        return group["active_state"] + (", " + group["health"] if group["health"] else "")


# --------------------------------------------------------------------------
# Links and health sockets (zmq_check)
# --------------------------------------------------------------------------

def answer_text(item: Mapping[str, Any]) -> str:
    """What a link or health socket answered, for passed and degraded ones:
    the round trip, and the agent's words when it was degraded or replied
    something else than a health answer (a ``reachable`` link)."""
    text = rtt_text(item.get("rtt_ms"))
    said = item.get("message")
    if item["status"] == DEGRADED:
        said = "degraded" + (": %s" % said if said else "")
    elif item.get("verdict") == VERDICT_REACHABLE and said:
        said = "replied: %s" % said
    else:
        said = None
    return ", ".join(t for t in (text, said) if t)


def zmq_reason(item: Mapping[str, Any]) -> Optional[str]:
    """The Reason cell of a link or health socket: why it did not pass, or
    what a reachable link's agent replied."""
    if item["status"] == PASSED:
        if item.get("verdict") == VERDICT_REACHABLE and item.get("message"):
            return "replied: %s" % item["message"]
        return None
    if item["status"] == DEGRADED:
        return item["reason"]
    return join(item["reason"], item.get("detail"))


class ZmqView(CheckView):
    """What links and health sockets share: the address, the failed stage."""

    def where(self, item: Item) -> str:
        return "%s:%s (%s)" % (item["address"], item["port"], item["kind"])

    def problem(self, host: str, item: Item) -> str:
        text = "%s: %s failed: %s" % (self.describe(host, item), item["failed_stage"], item["reason"])
        if item.get("detail"):
            text += " (%s)" % item["detail"]
        return text


LINK_EDGE_STYLES = (
    ("broken", "stroke:#dc2626,stroke-width:2px,color:#dc2626"),
    ("degraded", "stroke:#ea580c,stroke-width:2px,color:#c2410c"),
    ("unchecked", "stroke:#ca8a04"),
)


class LinksView(ZmqView):
    """Links: a column, the links to other hosts, a table, the diagram's edges."""

    text_columns = (Column("LINKS", lambda g, group, host: ratio(group["links"]), 7),)
    markdown_columns = (Column("Links", lambda g, group, host: ratio(group["links"])),)
    edge_styles = LINK_EDGE_STYLES
    diagram_legend = (
        "Solid edges: the link answered (agent, median round trip; `reachable` when the agent "
        "answered the health request with something else, orange and `degraded` when it said it "
        "is degraded). Dotted: broken (the stage that failed) or not checked. Orange groups run "
        "a degraded agent or link to one.")

    def describe(self, host: str, item: Item) -> str:
        return "%s: link %s -> %s/%s %s %s" % (host, item["from_group"], item["to_host"], item["to_group"],
                                               item["name"], self.where(item))

    def text_lines(self, host: Mapping[str, Any]) -> List[str]:
        links = host[self.name]
        lines = []
        remote = [i for i in links if i["cross_host"]]
        if remote:
            lines.append("  links to other hosts:")
            for item in remote:
                answer = answer_text(item) if item["status"] in (PASSED, DEGRADED) else ""
                lines.append("    %-26s -> %s/%s %s:%s  %s" % (
                    item["from_group"], item["to_host"], item["name"], item["address"], item["port"],
                    answer or item["status"]))
        broken = sum(1 for i in links if i["status"] == FAILED)
        if broken:
            lines.append("  broken links: %d" % broken)
        degraded = sum(1 for i in links if i["status"] == DEGRADED)
        if degraded:
            lines.append("  links to degraded agents: %d" % degraded)
        return lines

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        if not host[self.name]:
            return []
        return self.markdown_table(
            ["From", "Agent", "To", "Address", "Kind", "Result", "RTT median", "Failed stage", "Reason"],
            [[i["from_group"], i["name"], "%s/%s" % (i["to_host"], i["to_group"]),
              "%s:%s" % (i["address"], i["port"]), i["kind"], status_cell(i["status"]),
              rtt_text(i.get("rtt_ms")), i.get("failed_stage"), zmq_reason(i)] for i in host[self.name]])

    def diagram_edges(self, host: str, report: Mapping[str, Any]) -> List[Edge]:
        """Solid with the agent and round trip (orange when the agent is
        degraded); dotted and red when broken; dotted when not checked."""
        edges = []
        for item in report[self.name]:
            source, target = (host, item["from_group"]), (item["to_host"], item["to_group"])
            agent = mermaid_text(item["name"])
            if item["status"] in (PASSED, DEGRADED):
                rtt = rtt_text(item.get("rtt_ms")) or ("ZMTP" if item["kind"] == "greeting" else "ok")
                style = None
                if item["status"] == DEGRADED:
                    rtt += " degraded"
                    style = "degraded"
                elif item.get("verdict") == VERDICT_REACHABLE:
                    rtt += " reachable"
                edges.append(Edge(source, target, "%s %s" % (agent, mermaid_text(rtt)), style=style))
            elif item["status"] == FAILED:
                why = "%s: %s" % (item["failed_stage"], item["reason"]) if item.get("failed_stage") \
                    else "not verified"
                edges.append(Edge(source, target, "broken %s %s" % (agent, mermaid_text(why)), dotted=True,
                                  style="broken"))
            else:
                edges.append(Edge(source, target, "not checked %s" % agent, dotted=True, style="unchecked"))
        return edges


class HealthSocketsView(ZmqView):
    """Health sockets: a column, a table, the degraded agents in the diagram."""

    text_columns = (Column("SOCKETS", lambda g, group, host: ratio(group["health_sockets"]), 7),)
    markdown_columns = (Column("Health sockets", lambda g, group, host: ratio(group["health_sockets"])),)

    def describe(self, host: str, item: Item) -> str:
        return "%s: health socket %s/%s %s" % (host, item["group"], item["name"], self.where(item))

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        if not host[self.name]:
            return []
        return self.markdown_table(
            ["Group", "Agent", "Port", "Result", "RTT median", "Failed stage", "Reason"],
            [[i["group"], i["name"], i["port"], status_cell(i["status"]), rtt_text(i.get("rtt_ms")),
              i.get("failed_stage"), zmq_reason(i)] for i in host[self.name]])

    def diagram_label(self, group: Mapping[str, Any]) -> Optional[str]:
        agents = group.get("degraded_agents")
        return "degraded: " + " ".join(agents) if agents else None


# --------------------------------------------------------------------------
# Firewall
# --------------------------------------------------------------------------

class FirewallView(CheckView):
    """The firewall check: a line, a table, the missing and extra lines in Markdown."""

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        item = host.get(self.name)
        if not item:
            return []
        lines = self.markdown_table(
            ["Table", "File", "Result", "Detail"],
            [[item["table"], item["path"], status_cell(item["status"]), item["reason"]]])
        for label, key in (("Missing", "missing"), ("Not planned", "extra")):
            if item[key] and item["present"] is not False:
                lines += ["", "%s:" % label, ""] + ["- %s" % md_code(line) for line in item[key]]
        return lines


class MonitoringView(CheckView):
    """The monitoring check: a line, a table of exporters and the firing alerts in Markdown."""

    def markdown_lines(self, host: Mapping[str, Any]) -> List[str]:
        item = host.get(self.name)
        if not item:
            return []
        lines = self.markdown_table(
            ["Exporter", "Address", "Result", "Detail"],
            [[e.get("host"), e.get("instance"), status_cell(e.get("status")), e.get("reason")]
             for e in item["exporters"]] or [["-", "-", status_cell(item["status"]), item["reason"]]])
        if item["firing"]:
            lines += ["", "Firing alerts:", ""] + [
                "- %s %s" % (md_code(a.get("alertname")), md_text(a.get("summary") or ""))
                for a in item["firing"]]
        return lines
