# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Presenting the verification report: the verdict, the terminal table, the
Markdown with its Mermaid diagram, the JSON and the files.

The renderers know no kind of check: the tests at the end add one that the
registry does not have and read it in every form.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET

import pytest
from markdown_it import MarkdownIt

from ansible_collections.ai_system.containers.plugins.module_utils.report import report_checks as rc
from ansible_collections.ai_system.containers.plugins.module_utils.report import report_render as rr
from ansible_collections.ai_system.containers.plugins.module_utils.report import report_views as rv
from ansible_collections.ai_system.containers.plugins.module_utils.verify import verify_checks as vc
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import (
    FAILED, MAX_TEXT, PASSED, Column, Edge, md_cell, md_code, md_text, mermaid_text, ratio, shown, status_cell,
    table,
)
from support.verify_results import (
    DEGRADED_SAYS, LAB_SKIP, NOW, degrade, degraded_health_socket, endpoint_result, fail_unit,
    lab_host, total_checks, unit_result,
)


def mermaid_of(md):
    return md.split("```mermaid\n", 1)[1].split("```", 1)[0].splitlines()


def edges_of(md):
    return [line for line in mermaid_of(md) if "-->" in line or "-.->" in line]


# --------------------------------------------------------------------------
# Healthy system
# --------------------------------------------------------------------------

def test_text_table_for_the_terminal(plan, results):
    lines = rr.render_text(rc.build_report(plan, results, now=NOW))
    assert lines[0] == ("AI system verification 2026-11-29T16:15:00Z -- PASSED: %d passed, 0 failed, "
                        "0 skipped" % total_checks(plan))
    assert "mainpc (192.168.100.16): PASSED" in lines
    header = next(line for line in lines if line.strip().startswith("GROUP"))
    assert header.split() == ["GROUP", "UNIT", "HEALTH", "RESTARTS", "CUDA", "LINKS", "SOCKETS", "RESULT"]
    row = next(line for line in lines if line.strip().startswith("pc2-ai-models "))
    assert row.split() == ["pc2-ai-models", "active/running", "healthy", "0", "passed", "1/1", "5/5",
                           "passed"]
    assert any("-> mainpc/SystemDigitalTwin 192.168.100.16:7120  0.25 ms" in line for line in lines)
    # GPU above the table, the links to other hosts under it.
    gpu = lines.index("  GPU: passed -- NVIDIA GeForce RTX 3060, driver 550.120, CUDA 12.4, 1039/12288 MiB used")
    assert lines[gpu + 1] == header and "  links to other hosts:" in lines[gpu + 2:]


def test_markdown_has_tables_and_a_mermaid_flowchart(plan, results):
    md = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert md.startswith("# AI system verification: PASSED\n")
    assert "| Host | Verified | GPU | CUDA | Units | Links | Health sockets | Firewall | Monitoring | Result |" in md
    assert "| pc2 | yes | 1/1 | 1/1 | 7/7 | 5/5 | 27/27 | 1/1 | - | passed |" in md
    assert "| Group | Unit | State | Health | Restarts | Active since | CUDA | Links | Health sockets | Result |" \
        in md
    mermaid = mermaid_of(md)
    assert mermaid[0] == "flowchart LR"
    assert sum(1 for line in mermaid if line.strip().startswith("subgraph ")) == 2
    assert '  subgraph h1["pc2 192.168.100.17"]' in mermaid
    nodes = [line for line in mermaid if re.match(r'^    n\d+\["', line)]
    assert len(nodes) == sum(len(p["units"]) for p in plan.values())
    edges = edges_of(md)
    assert len(edges) == sum(len(p["checks"]["links"]) for p in plan.values())
    assert all("-->|" in e for e in edges)
    # pc2-memory-system -> mainpc core-services, labelled with the agent and its RTT
    ids = {re.search(r'(n\d+)\["([^"<]+)', n).group(2): re.search(r'(n\d+)', n).group(1) for n in nodes}
    assert '  %s -->|"SystemDigitalTwin 0.25 ms"| %s' % (ids["pc2-memory-system"], ids["core-services"]) \
        in mermaid
    assert '  %s -->|"ErrorBusService ZMTP"| %s' % (ids["core-services"], ids["pc2-core-infrastructure"]) \
        in mermaid
    assert "  classDef passed fill:#dcfce7,stroke:#16a34a,color:#14532d" in mermaid
    assert not any(line.startswith("  linkStyle") for line in mermaid)
    # Per host: GPU, the groups, then CUDA, links and health sockets.
    pc2 = md.split("## pc2 (192.168.100.17)", 1)[1]
    order = [pc2.index(h) for h in ("### GPU", "### Groups", "### CUDA", "### Links", "### Health sockets")]
    assert order == sorted(order)


def test_json_is_the_report(plan, results):
    report = rc.build_report(plan, results, now=NOW)
    assert json.loads(rr.render_json(report)) == json.loads(json.dumps(report))
    assert rr.render_json(report).endswith("}\n")


# --------------------------------------------------------------------------
# Broken links
# --------------------------------------------------------------------------

def test_broken_link_is_drawn_dotted_and_red(plan, results):
    entry, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin")
    endpoint.update(ok=False, verdict=None, stage_reached="resolve", failed_stage="tcp",
                    reason="connection refused", rtt_ms=None, reply=None, zmtp=None)
    report = rc.build_report(plan, results, now=NOW)
    md = rr.render_markdown(report)
    assert md.startswith("# AI system verification: FAILED\n")
    assert "## Problems\n\n- pc2: link pc2-memory-system -> mainpc/core-services" in md
    broken = [line for line in md.splitlines() if '-.->|"broken' in line]
    assert len(broken) == 1
    assert re.match(r'^  n\d+ -\.->\|"broken SystemDigitalTwin tcp: connection refused"\| n\d+$', broken[0])
    index = edges_of(md).index(broken[0])
    assert "  linkStyle %d stroke:#dc2626,stroke-width:2px,color:#dc2626" % index in md
    assert "| pc2-memory-system | SystemDigitalTwin | mainpc/core-services | 192.168.100.16:7120 | main " \
        "| **FAILED** | - | tcp | connection refused |" in md
    text = rr.render_text(report)
    assert "  broken links: 1" in text
    assert text[text.index("Problems (1):") + 1] == "  - " + report["problems"][0]


def test_markdown_escapes_the_detail(plan, results):
    dummy, endpoint = endpoint_result(results, "mainpc", "core-services", "SystemDigitalTwin", "health")
    endpoint.update(ok=False, verdict="failing", failed_stage="status",
                    reason="status not ok: initializing: Loading model", detail="reply | partial")
    md = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert "status not ok: initializing: Loading model (reply \\| partial)" in md


def test_a_container_without_zmq_checks_breaks_every_edge_from_it(plan, results):
    loop = results["mainpc"]["zmq"]["results"]
    entry = next(e for e in loop if e["item"]["container"] == "utility-services")
    for key in ("endpoints", "ok_count", "failed_count", "summary"):
        del entry[key]
    entry.update(msg="could not run the ZMQ checks inside container utility-services (rc=125): Error: "
                     "no container with name or ID \"utility-services\" found: no such container")
    md = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert md.count('-.->|"broken ') == 6
    assert '-.->|"broken AsyncProcessor container: could not run the ZMQ checks inside container ' \
        'utility-services rc=125 : Error: no container' in md


# --------------------------------------------------------------------------
# Degraded agents and reachable links
# --------------------------------------------------------------------------

def test_verdict_and_text_with_a_degraded_agent(plan, results):
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW)
    verdict = "PASSED with degraded agents: %d passed, 1 degraded (pc2/MemoryOrchestratorService), " \
        "0 failed, 0 skipped" % (total_checks(plan) - 1)
    assert rr.verdict(report) == verdict
    text = rr.render_text(report)
    assert text[0] == "AI system verification 2026-11-29T16:15:00Z -- " + verdict
    assert "pc2 (192.168.100.17): DEGRADED" in text
    row = next(line for line in text if line.strip().startswith("pc2-memory-system "))
    assert row.split()[-4:] == ["4/5,", "1", "degraded", "degraded"]
    assert text[text.index("Degraded (1):") + 1] == "  - " + report["degraded"][0]


def test_degraded_link_is_orange(plan, results):
    dummy, endpoint = endpoint_result(results, "mainpc", "memory-system", "MemoryOrchestratorService", "main")
    degrade(endpoint)
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW)
    assert "2 degraded (pc2/MemoryOrchestratorService)" in rr.verdict(report)
    text = rr.render_text(report)
    assert any("-> pc2/MemoryOrchestratorService 192.168.100.17:7140  0.25 ms, degraded: " + DEGRADED_SAYS
               in line for line in text)
    assert "  links to degraded agents: 1" in text
    md = rr.render_markdown(report)
    edges = edges_of(md)
    degraded = [line for line in edges if "degraded" in line]
    assert len(degraded) == 1
    assert re.match(r'^  n\d+ -->\|"MemoryOrchestratorService 0\.25 ms degraded"\| n\d+$', degraded[0])
    assert "  linkStyle %d stroke:#ea580c,stroke-width:2px,color:#c2410c" % edges.index(degraded[0]) in md
    assert "| memory-system | MemoryOrchestratorService | pc2/pc2-memory-system | 192.168.100.17:7140 | main " \
        "| DEGRADED | 0.25 ms | - | status degraded: %s |" % DEGRADED_SAYS in md


def test_reachable_link_shows_the_reply(plan, results):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin", "main")
    endpoint.update(ok=True, verdict="reachable", message="Unknown action: health_check",
                    stage_reached="reply", rtt_ms={"min": 0.3, "median": 0.41, "max": 0.5},
                    reply={"status": "error", "error": "Unknown action: health_check"})
    report = rc.build_report(plan, results, now=NOW)
    assert rr.verdict(report).startswith("PASSED: ")
    text = rr.render_text(report)
    line = next(t for t in text if t.strip().startswith("pc2-memory-system ") and "->" in t)
    assert line.endswith("-> mainpc/SystemDigitalTwin 192.168.100.16:7120  "
                         "0.41 ms, replied: Unknown action: health_check")
    md = rr.render_markdown(report)
    assert "| pc2-memory-system | SystemDigitalTwin | mainpc/core-services | 192.168.100.16:7120 | main " \
        "| passed | 0.41 ms | - | replied: Unknown action: health_check |" in md
    assert re.search(r'\n  n\d+ -->\|"SystemDigitalTwin 0\.41 ms reachable"\| n\d+\n', md)


def test_failing_agent_message_in_markdown(plan, results):
    message = "'MemoryOrchestratorService' object has no attribute 'error_bus_pub'"
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "MemoryOrchestratorService",
                                      "health")
    endpoint.update(ok=False, verdict="failing", message=message, failed_stage="status",
                    reason='status "error": ' + message, detail="healthy: ok, healthy; degraded: degraded",
                    reply={"status": "error", "error": message})
    md = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert "| MemoryOrchestratorService | 7141 | **FAILED** | 0.25 ms | status | status \"error\": %s " \
        "(healthy: ok, healthy; degraded: degraded) |" % message in md


def test_fail_on_degraded_verdict(plan, results):
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW, fail_on_degraded=True)
    assert rr.verdict(report) == (
        "FAILED: %d passed, 1 degraded (pc2/MemoryOrchestratorService), 0 failed, 0 skipped"
        % (total_checks(plan) - 1))
    assert rr.render_markdown(report).startswith("# AI system verification: FAILED\n")


def test_verdict_with_degraded_agents_and_skipped_checks(plan, results):
    degraded_health_socket(results)
    lab_host(results, "pc2")
    report = rc.build_report(plan, results, now=NOW)
    assert rr.verdict(report) == (
        "PASSED with degraded agents and skipped checks: %d passed, 1 degraded "
        "(pc2/MemoryOrchestratorService), 0 failed, 2 skipped" % (total_checks(plan) - 3))
    with_failure = copy.deepcopy(results)
    fail_unit(with_failure["pc2"]["units"]["units"][1], "unit is failed (failed)", active_state="failed",
              sub_state="failed")
    failed = rc.build_report(plan, with_failure, now=NOW)
    assert rr.verdict(failed).startswith("FAILED: %d passed, 1 degraded (pc2/MemoryOrchestratorService), "
                                         "1 failed, 2 skipped" % (total_checks(plan) - 4))


def test_verdict_names_at_most_five_degraded_agents(plan, results):
    for entry in results["pc2"]["zmq"]["results"]:
        for endpoint in entry["endpoints"]:
            if endpoint["kind"] == "health":
                degrade(endpoint)
    report = rc.build_report(plan, results, now=NOW)
    names = report["degraded_agents"]
    assert "27 degraded (%s, +22 more)" % ", ".join(names[:5]) in rr.verdict(report)


def test_markdown_and_mermaid_mark_degraded_agents(plan, results):
    degraded_health_socket(results)
    md = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert md.startswith("# AI system verification: PASSED with degraded agents\n")
    assert "PASSED with degraded agents: %d passed, 1 degraded" % (total_checks(plan) - 1) in md
    assert "| pc2 | yes | 1/1 | 1/1 | 7/7 | 5/5 | 26/27, 1 degraded | 1/1 | - | DEGRADED |" in md
    assert "## Degraded\n\n- pc2: health socket pc2-memory-system/MemoryOrchestratorService" in md
    assert "| pc2-memory-system | MemoryOrchestratorService | 7141 | DEGRADED | 0.25 ms | - | " \
        "status degraded: %s |" % DEGRADED_SAYS in md
    assert "| pc2-memory-system | ai-pc2-memory-system.service | active/running | healthy | 0 | " \
        "Sun 2026-11-29 16:05:00 UTC | - | 1/1 | 4/5, 1 degraded | DEGRADED |" in md
    mermaid = mermaid_of(md)
    node = next(line for line in mermaid if '["pc2-memory-system<br/>' in line)
    assert node.endswith('<br/>active, healthy<br/>degraded: MemoryOrchestratorService"]')
    node_id = node.split("[")[0].strip()
    assert "  classDef degraded fill:#ffedd5,stroke:#ea580c,color:#7c2d12" in mermaid
    assert "  class %s degraded" % node_id in mermaid
    # The diagram's classes: degraded is apart from passed, and the only degraded group.
    passed = next(line for line in mermaid if line.endswith(" passed") and line.startswith("  class "))
    assert node_id not in passed.split()[1].split(",")


# --------------------------------------------------------------------------
# Skipped, units, hosts
# --------------------------------------------------------------------------

def test_skipped_checks_in_text_and_markdown(plan, results):
    lab_host(results, "pc2")
    report = rc.build_report(plan, results, now=NOW)
    text = rr.render_text(report)
    assert text[0].endswith("PASSED with skipped checks: %d passed, 0 failed, 2 skipped"
                            % (total_checks(plan) - 2))
    assert "pc2 (192.168.100.17): SKIPPED (lab)" in text
    assert "  - pc2: CUDA in pc2-ai-models: SKIPPED: " + LAB_SKIP in text
    row = next(line for line in text if line.strip().startswith("pc2-ai-models "))
    assert row.split()[4] == "skipped"
    md = rr.render_markdown(report)
    assert "| pc2-ai-models | SKIPPED | - | 550.120 | 10240 MiB, SKIPPED | %s |" % LAB_SKIP in md
    assert "| pc2-ai-models | ai-pc2-ai-models.service | active/running | healthy | 0 | " \
        "Sun 2026-11-29 16:05:00 UTC | SKIPPED | 1/1 | 5/5 | SKIPPED |" in md
    assert "## Skipped" in md
    assert "| pc2 | yes | skipped | skipped |" in md


def test_phases_not_run_draw_unchecked_edges(plan, results):
    results["mainpc"]["zmq"] = None
    md = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert md.count('-.->|"not checked ') == 10
    assert "linkStyle" in md and "stroke:#ca8a04" in md


def test_units_that_did_not_pass_are_listed_under_the_groups(plan, results):
    fail_unit(unit_result(results, "pc2", "ai-pc2-redis.service"),
              "unit is failed (failed), result exit-code, restarted 5 times",
              active_state="failed", sub_state="failed", result="exit-code", restarts=5)
    md = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert "## Warnings" in md
    line = "- `ai-pc2-redis.service`: **FAILED** unit is failed (failed), result exit-code, restarted 5 times"
    assert line in md
    pc2 = md.split("## pc2 (192.168.100.17)", 1)[1]
    assert pc2.index("### Groups") < pc2.index(line) < pc2.index("### CUDA")


def test_unreachable_host_in_text_and_markdown(plan, results):
    del results["pc2"]
    report = rc.build_report(plan, results, hosts=["mainpc", "pc2"], now=NOW)
    md = rr.render_markdown(report)
    assert '["pc2 192.168.100.17 not verified"]' in md
    assert '-.->|"broken SystemDigitalTwin not verified"|' in md
    assert "Not verified: no results" in md
    assert "pc2 (192.168.100.17): FAILED -- " + rc.NOT_VERIFIED in rr.render_text(report)


def test_limited_run_draws_the_other_host(plan, results):
    report = rc.build_report(plan, {"mainpc": results["mainpc"]}, hosts=["mainpc"], now=NOW)
    md = rr.render_markdown(report)
    assert '["pc2 192.168.100.17 not part of this run"]' in md
    # mainpc's links to pc2 are still drawn, to pc2's group nodes
    assert md.count('-->|"') == len(plan["mainpc"]["checks"]["links"])
    assert "  classDef unknown " in md


# --------------------------------------------------------------------------
# Cells and files
# --------------------------------------------------------------------------

def test_mermaid_text_cannot_break_the_diagram():
    text = mermaid_text('a "quoted" (x) | y; z <b> ..-> end # 1.5-2')
    assert text == "a quoted x y z b - end 1.5-2"
    assert '"' not in text and "|" not in text and ".-" not in text


def test_markdown_cells_escape_pipes_and_line_breaks():
    assert md_cell("a | b\nc") == "a \\| b c"
    assert md_cell(None) == "-" and md_cell(0) == "0"
    assert table(["A", "B"], [["x|y", None]]) == ["| A | B |", "|---|---|", "| x\\|y | - |"]


def test_ratio_and_status_cells():
    assert ratio({"passed": 0, "degraded": 0, "failed": 0, "skipped": 0}) == "-"
    assert ratio({"passed": 0, "degraded": 0, "failed": 0, "skipped": 2}) == "skipped"
    assert ratio({"passed": 3, "degraded": 1, "failed": 1, "skipped": 0}) == "3/5, 1 degraded"
    assert [status_cell(s) for s in ("passed", "degraded", "failed", "skipped", None)] == [
        "passed", "DEGRADED", "**FAILED**", "SKIPPED", "-"]


def test_report_files_are_named_by_utc_time(plan, results, tmp_path):
    report = rc.build_report(plan, results, now=NOW)
    md = rr.render_markdown(report)
    paths = rr.write_report(str(tmp_path / "reports"), report, md)
    assert paths == {
        "json": str(tmp_path / "reports" / "verify-20261129T161500Z.json"),
        "markdown": str(tmp_path / "reports" / "verify-20261129T161500Z.md"),
        "junit": str(tmp_path / "reports" / "verify-20261129T161500Z.xml"),
        "latest_json": str(tmp_path / "reports" / "latest.json"),
        "latest_markdown": str(tmp_path / "reports" / "latest.md"),
        "latest_junit": str(tmp_path / "reports" / "latest.xml"),
    }
    assert rr.report_paths(str(tmp_path / "reports"), report["generated_at"]) == paths
    assert (tmp_path / "reports" / "latest.json").read_text() == rr.render_json(report)
    assert (tmp_path / "reports" / "verify-20261129T161500Z.md").read_text() == md
    assert (tmp_path / "reports" / "latest.md").read_text() == md
    again = rr.write_report(str(tmp_path / "reports"), report, md)
    assert again["json"].endswith("verify-20261129T161500Z-2.json")
    assert again["markdown"].endswith("verify-20261129T161500Z-2.md")
    assert again["junit"].endswith("verify-20261129T161500Z-2.xml")
    assert (tmp_path / "reports" / "latest.xml").read_text() == rr.render_junit(report)
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "latest.json", "latest.md", "latest.xml", "verify-20261129T161500Z-2.json",
        "verify-20261129T161500Z-2.md", "verify-20261129T161500Z-2.xml",
        "verify-20261129T161500Z.json", "verify-20261129T161500Z.md", "verify-20261129T161500Z.xml"]


def test_json_counts_degraded_apart(plan, results, tmp_path):
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW)
    rr.write_report(str(tmp_path), report, rr.render_markdown(report))
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["counts"] == {"passed": total_checks(plan) - 1, "degraded": 1, "failed": 0, "skipped": 0}
    assert data["checks"]["health"]["degraded"] == 1 and data["checks"]["links"]["degraded"] == 0
    assert data["hosts"]["pc2"]["checks"]["health"] == {"passed": 26, "degraded": 1, "failed": 0, "skipped": 0}
    assert data["hosts"]["mainpc"]["counts"]["degraded"] == 0 and data["hosts"]["mainpc"]["degraded"] == []
    assert data["degraded"] == report["degraded"] and data["degraded_agents"] == ["pc2/MemoryOrchestratorService"]
    assert data["ok"] is True and data["fail_on_degraded"] is False


# --------------------------------------------------------------------------
# JUnit XML
# --------------------------------------------------------------------------

def junit_cases(report):
    root = ET.fromstring(rr.render_junit(report))
    return root, {(case.get("classname"), case.get("name")): case for case in root.iter("testcase")}


def test_junit_has_one_case_per_check_and_counts_them(plan, results):
    report = rc.build_report(plan, results, now=NOW)
    root, cases = junit_cases(report)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == (
        str(total_checks(plan)), "0", "0")
    assert len(cases) == total_checks(plan)
    suites = {suite.get("name") for suite in root.iter("testsuite")}
    assert {"%s.%s" % (h, c.name) for h in plan for c in vc.REPORT_CHECKS} == suites
    assert ("pc2.units", "pc2: unit ai-pc2-redis.service") in cases


def test_junit_shows_a_broken_link_as_a_failed_test(plan, results):
    entry, endpoint = endpoint_result(results, "pc2", "pc2-ai-models", "SystemDigitalTwin")
    endpoint.update(ok=False, verdict="failing", stage_reached="tcp", failed_stage="tcp",
                    error="connection refused", message=None, reply=None)
    entry["failed_count"] = 1
    report = rc.build_report(plan, results, now=NOW)
    root, cases = junit_cases(report)
    assert root.get("failures") == "1"
    failed = [case for case in cases.values() if case.find("failure") is not None]
    assert len(failed) == 1 and failed[0].get("classname") == "pc2.links"
    assert "SystemDigitalTwin" in failed[0].get("name")
    assert failed[0].find("failure").text == report["problems"][0]


def test_junit_skips_what_the_lab_skipped(plan, results):
    lab_host(results, "pc2")
    root, cases = junit_cases(rc.build_report(plan, results, now=NOW))
    skipped = [case for case in cases.values() if case.find("skipped") is not None]
    assert root.get("skipped") == "2" and len(skipped) == 2
    assert all(case.find("skipped").get("message") for case in skipped)


@pytest.mark.parametrize("fail_on_degraded,failures", [(False, "0"), (True, "1")])
def test_junit_fails_degraded_agents_only_when_asked(plan, results, fail_on_degraded, failures):
    degraded_health_socket(results)
    report = rc.build_report(plan, results, now=NOW, fail_on_degraded=fail_on_degraded)
    root, cases = junit_cases(report)
    assert root.get("failures") == failures
    noted = [case for case in cases.values() if case.find("system-out") is not None]
    assert len(noted) == (0 if fail_on_degraded else 1)


def test_junit_survives_control_characters_a_peer_sent(plan, results):
    entry, endpoint = endpoint_result(results, "pc2", "pc2-ai-models", "SystemDigitalTwin")
    endpoint.update(ok=False, verdict="failing", stage_reached="status", failed_stage="status",
                    error="status 'bad\x1b[31m\x00'", message=None)
    entry["failed_count"] = 1
    root, cases = junit_cases(rc.build_report(plan, results, now=NOW))
    assert root.get("failures") == "1"


# --------------------------------------------------------------------------
# The registry is the one source of the checks
# --------------------------------------------------------------------------

def test_every_check_of_the_registry_shows_in_every_form(plan, results):
    report = rc.build_report(plan, results, now=NOW)
    text = "\n".join(rr.render_text(report))
    md = rr.render_markdown(report)
    data = json.loads(rr.render_json(report))
    header = md.splitlines()[4]
    for check in vc.REPORT_CHECKS:
        assert check.name in data["checks"] and check.name in data["hosts"]["pc2"]
        assert "| %s |" % check.heading in header
        for column in check.text_columns:
            assert " %s " % column.header in text
        for column in check.markdown_columns:
            assert "| %s |" % column.header in md
        assert rc.build_report(plan, results, now=NOW, checks=[check])["checks"] == {check.name: data["checks"][
            check.name]}


class DiskCheck(rv.ReportCheck):
    """A kind of check the registry does not have: free disk per group, from
    a module whose result is ``{"free": {group: MiB}}``."""

    name, title, noun, result_key = "disk", "disk space", "disk check", "disk"
    text_columns = (Column("DISK", lambda g, group, host: group["disk"] or "-", 6),)
    markdown_columns = (Column("Disk", lambda g, group, host: status_cell(group["disk"])),)
    edge_styles = (("full", "stroke:#000000"),)
    diagram_legend = "Black edges: a group whose disk is full."

    def judge(self, host, result):
        items = []
        for unit in host.plan["units"]:
            item = self.item(host, group=unit["group"], free_mib=None)
            items.append(item)
            if result is not None:
                free = result["free"].get(unit["group"], 0)
                item.update(cause=None, free_mib=free, status=PASSED if free >= 100 else FAILED,
                            reason="%d MiB free" % free)
        return items

    def describe(self, host, item):
        return "%s: disk of %s" % (host, item["group"])

    def group_items(self, items, unit):
        return [i for i in items if i["group"] == unit["group"]]

    def group_fields(self, items):
        return {"disk": items[0]["status"] if items else None}

    def markdown_lines(self, host):
        return ["", "### %s" % self.heading, ""] + table(
            ["Group", "Free MiB", "Result"], [[i["group"], i["free_mib"], status_cell(i["status"])]
                                              for i in host[self.name]])

    def diagram_label(self, group):
        return "disk %s" % group["disk"] if group["disk"] == FAILED else None

    def diagram_edges(self, host, report):
        return [Edge((host, i["group"]), (host, i["group"]), "full", style="full")
                for i in report[self.name] if i["status"] == FAILED]


def test_a_new_check_class_renders_without_touching_the_renderers(plan, results):
    checks = vc.REPORT_CHECKS + (DiskCheck(),)
    for name, host in results.items():
        host["disk"] = {"changed": False, "free": {u["group"]: 500 for u in plan[name]["units"]}}
    results["pc2"]["disk"]["free"]["pc2-redis"] = 10
    results["mainpc"]["disk"] = None
    report = rc.build_report(plan, results, now=NOW, checks=checks)

    assert report["checks"]["disk"] == {"passed": len(plan["pc2"]["units"]) - 1, "degraded": 0, "failed": 1,
                                        "skipped": len(plan["mainpc"]["units"])}
    assert report["problems"] == ["pc2: disk of pc2-redis: 10 MiB free"]
    assert report["skipped"] == ["mainpc: disk space: not checked in this run (%d disk checks)"
                                 % len(plan["mainpc"]["units"])]
    assert report["hosts"]["pc2"]["groups"]["pc2-redis"]["disk"] == "failed"
    assert report["hosts"]["pc2"]["groups"]["pc2-redis"]["status"] == "failed"

    text = rr.render_text(report, checks)
    header = next(line for line in text if line.strip().startswith("GROUP"))
    assert header.split() == ["GROUP", "UNIT", "HEALTH", "RESTARTS", "CUDA", "LINKS", "SOCKETS", "DISK", "RESULT"]
    row = next(line for line in text if line.strip().startswith("pc2-redis "))
    assert row.split()[-2:] == ["failed", "failed"]

    md = rr.render_markdown(report, checks)
    assert "| Host | Verified | GPU | CUDA | Units | Links | Health sockets | Firewall | Monitoring | Disk space | Result |" in md
    assert "| pc2 | yes | 1/1 | 1/1 | 7/7 | 5/5 | 27/27 | 1/1 | - | 6/7 | **FAILED** |" in md
    assert "| Group | Unit | State | Health | Restarts | Active since | CUDA | Links | Health sockets | Disk " \
        "| Result |" in md
    assert "### Disk space\n\n| Group | Free MiB | Result |" in md and "| pc2-redis | 10 | **FAILED** |" in md
    assert "Black edges: a group whose disk is full." in md
    mermaid = mermaid_of(md)
    node = next(line for line in mermaid if '["pc2-redis<br/>' in line)
    assert node.endswith('<br/>disk failed"]')
    full = [i for i, line in enumerate(edges_of(md)) if '|"full"|' in line]
    assert len(full) == 1 and "  linkStyle %d stroke:#000000" % full[0] in mermaid

    data = json.loads(rr.render_json(report))
    assert data["hosts"]["pc2"]["disk"][0]["check"] == "disk"
    assert data["hosts"]["mainpc"]["disk"][0]["cause"] == {
        "kind": "phase", "host": "mainpc", "check": "disk", "container": None}
    # Without the class, the same results render as before: nothing else knows it.
    plain = rr.render_markdown(rc.build_report(plan, results, now=NOW))
    assert "| Host | Verified | GPU | CUDA | Units | Links | Health sockets | Firewall | Monitoring | Result |" in plain
    assert "Disk" not in plain


# --------------------------------------------------------------------------
# Hostile agent text: inert in the Markdown and on the terminal, capped
# --------------------------------------------------------------------------

HOSTILE = {
    "script": "<script>alert(document.cookie)</script>",
    "javascript link": "[click here](javascript:alert(1))",
    "remote image": "![x](http://remote.example/pixel.png)",
    "autolink": "<http://remote.example/>",
    "html comment": "<!-- hide the rest",
    "entity": "&lt;b&gt;bold&lt;/b&gt;",
    "emphasis and code": "**all** _good_ `rm -rf /` ~~gone~~",
    "table break": "ok | injected | cells",
    "heading": "# PASSED",
    "terminal escapes": "\x1b[2J\x1b[1;1H\x1b]0;owned\x07all passed\r\x9b31m",
    "bidi": "abc\u202edcba",
}


def markdown_html(text, inline=True):
    """``text`` as a CommonMark renderer with GFM tables and strikethrough
    turns it into HTML (raw HTML allowed, as on most Markdown viewers)."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return md.renderInline(text) if inline else md.render(text)


def assert_inert(text, inline=True):
    """No tag at all in ``text``'s HTML (beyond a list item's), and no raw control character."""
    html = markdown_html(text, inline)
    if not inline:
        assert html.startswith("<ul>\n<li>") and html.endswith("</li>\n</ul>\n"), html
        html = html[len("<ul>\n<li>"):-len("</li>\n</ul>\n")]
    assert "<" not in html, (text, html)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", html), (text, html)


def hostile_report(plan, results, message):
    dummy, endpoint = endpoint_result(results, "pc2", "pc2-memory-system", "SystemDigitalTwin", "main")
    endpoint.update(ok=False, verdict="failing", message=message, failed_stage="status",
                    reason='status "error": ' + message, detail=None,
                    reply={"status": "error", "error": message})
    return rc.build_report(plan, results, now=NOW)


def reply_cell(md):
    row = next(line for line in md.splitlines() if line.startswith("| pc2-memory-system | SystemDigitalTwin |"))
    return re.split(r"(?<!\\)\|", row)[-2].strip()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_reply_is_inert_in_the_markdown(plan, results, name):
    md = rr.render_markdown(hostile_report(plan, results, HOSTILE[name]))
    cell = reply_cell(md)
    problem = next(line for line in md.splitlines() if line.startswith("- pc2: link pc2-memory-system"))
    assert_inert(cell)
    assert_inert(problem, inline=False)
    # The table keeps its columns: the reply stays in its cell.
    row = next(line for line in md.splitlines() if line.startswith("| pc2-memory-system | SystemDigitalTwin |"))
    assert len(re.split(r"(?<!\\)\|", row)) == 11


def test_the_escaped_reply_still_reads_as_what_the_agent_sent(plan, results):
    md = rr.render_markdown(hostile_report(plan, results, HOSTILE["script"] + " " + HOSTILE["remote image"]))
    assert reply_cell(md) == ('status "error": &lt;script>alert(document.cookie)&lt;/script> '
                              '!\\[x\\](http://remote.example/pixel.png)')


def test_terminal_escapes_are_shown_not_sent_to_the_terminal(plan, results):
    report = hostile_report(plan, results, HOSTILE["terminal escapes"] + HOSTILE["bidi"])
    text = "\n".join(rr.render_text(report))
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", text)
    assert "\\x1b[2J\\x1b[1;1H\\x1b]0;owned\\x07all passed\\r\\x9b31mabc\\u202edcba" in text
    md = rr.render_markdown(report)
    assert "\\\\x1b\\[2J\\\\x1b\\[1;1H\\\\x1b\\]0;owned\\\\x07all passed\\\\r\\\\x9b31mabc\\\\u202edcba" in md


def test_a_long_reply_is_capped_and_the_cut_said(plan, results):
    message = "A" * 5000
    report = hostile_report(plan, results, message)
    md = rr.render_markdown(report)
    cell = reply_cell(md)
    assert len(cell) < 600
    assert cell.endswith("A\u2026 (%d more characters)" % (len('status "error": ') + 5000 - MAX_TEXT))
    line = next(t for t in rr.render_text(report) if "A" * 100 in t)
    assert len(line) < rr.TEXT_LINE_LIMIT + 40 and re.search("\u2026 \\(\\d+ more characters\\)$", line)
    # The JSON report keeps the whole reply.
    assert message in rr.render_json(report)


def test_a_newline_in_a_reply_cannot_start_a_line_of_its_own():
    assert md_text("ok\n# FAILED\n- x") == "ok # FAILED - x"
    assert md_text("# FAILED") == "\\# FAILED"
    assert md_text("- x") == "\\- x" and md_text("1. x") == "1\\. x" and md_text("> q") == "\\> q"
    assert shown("ok\nFAILED: 0 passed") == "ok\\nFAILED: 0 passed"


def test_a_code_span_holds_any_backticks():
    assert md_code("a`b``c") == "```a`b``c```"
    assert md_code("`x") == "`` `x ``"
    assert md_code("<b>\x1b") == "`<b>\\x1b`"


def test_a_silent_port_says_what_the_container_listens_on(plan, results):
    """zmq_check found nothing on the declared port and read the container's listeners."""
    text = "SystemDigitalTwin: nothing on 8120; the container listens on 7190, 8190"
    dummy, endpoint = endpoint_result(results, "mainpc", "core-services", "SystemDigitalTwin", "health")
    endpoint.update(ok=False, verdict=None, failed_stage="tcp", reason="connection refused", rtt_ms=None,
                    reply=None, zmtp=None, message=None, detail=None,
                    listening={"container": "core-services", "ports": [7190, 8190], "listeners": [],
                               "error": None, "text": text})
    report = rc.build_report(plan, results, now=NOW)
    item = next(i for i in report["hosts"]["mainpc"]["health"] if i["name"] == "SystemDigitalTwin")
    assert item["reason"] == "connection refused; " + text
    assert item["listening"] == {"container": "core-services", "ports": [7190, 8190]}
    assert "mainpc: health socket core-services/SystemDigitalTwin 127.0.0.1:8120 (health): tcp failed: " \
        "connection refused; " + text in report["problems"]
    assert any(line.endswith(text) for line in rr.render_text(report))
    assert "| connection refused; %s |" % text in rr.render_markdown(report)
