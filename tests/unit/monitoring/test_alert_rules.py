# -*- coding: utf-8 -*-
"""The alert rules shipped with the stack role, through Prometheus's own
tools: ``promtool check rules`` and ``promtool test rules`` with the cases of
ai-system-alerts.test.yml (each alert firing and not firing)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
RULES = os.path.join(REPO, "roles", "stack", "files", "ai-system-alerts.yml")
CASES = os.path.join(HERE, "ai-system-alerts.test.yml")
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is absent "
                                "(scripts/install-host-deps.sh installs Debian's prometheus)")


def promtool(*args, cwd=None):
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False,
                          cwd=cwd, env={"PATH": os.environ.get("PATH", ""), "LANG": "C"})


def alerts_of(path):
    with open(path) as handle:
        doc = yaml.safe_load(handle)
    return [rule["alert"] for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_checks_the_rules():
    run = promtool("check", "rules", RULES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: %d rules found" % len(alerts_of(RULES)) in run.stdout


def test_every_alert_passes_its_promtool_cases():
    run = promtool("test", "rules", os.path.basename(CASES), cwd=HERE)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_every_alert_has_a_firing_and_a_quiet_case():
    with open(CASES) as handle:
        cases = yaml.safe_load(handle)
    firing, quiet = set(), set()
    for test in cases["tests"]:
        for case in test["alert_rule_test"]:
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    alerts = set(alerts_of(RULES))
    assert alerts - firing == set(), "alerts never seen firing"
    assert alerts - quiet == set(), "alerts never seen quiet"
    assert alerts == {"AiSystemExporterDown", "AiSystemGroupDown", "AiSystemGroupUnhealthy",
                      "AiSystemAgentFailing", "AiSystemAgentDegraded", "AiSystemLinkDown",
                      "AiSystemLinkSlow", "AiSystemRestartLoop", "AiSystemVramOverBudget",
                      "AiSystemGpuMissing"}


@pytest.mark.parametrize("alert, before, after", [
    ("AiSystemGroupDown", "for: 1m", "for: 5m"),
    ("AiSystemLinkSlow", "> 0.25", "> 0.5"),
    ("AiSystemRestartLoop", ">= 3", ">= 4"),
    ("AiSystemAgentDegraded", "for: 10m", "for: 1m"),
])
def test_the_cases_catch_a_changed_rule(tmp_path, alert, before, after):
    """A rule changed in its threshold or duration fails the cases: they test
    the rules, not only that promtool runs."""
    with open(RULES) as handle:
        doc = yaml.safe_load(handle)
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                text = yaml.safe_dump(rule)
                assert before in text
                rule.update(yaml.safe_load(text.replace(before, after)))
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(doc))
    with open(CASES) as handle:
        cases = yaml.safe_load(handle)
    cases["rule_files"] = ["rules.yml"]
    (tmp_path / "cases.yml").write_text(yaml.safe_dump(cases))
    run = promtool("test", "rules", "cases.yml", cwd=str(tmp_path))
    assert run.returncode != 0
    assert "alertname: %s" % alert in run.stdout + run.stderr
