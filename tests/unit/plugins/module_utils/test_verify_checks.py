# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""verify_checks: every verify check described once, and what host_checks,
the report, verify.yml and the bench derive from it."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ai_system.containers.plugins.module_utils.verify import verify_checks as vc
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_judging import CheckJudge
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_views import CheckView
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SETTINGS = ArgumentSpecValidator(vc.SETTINGS_SPEC).validate({}).validated_parameters
ALL = vc.phase_tags()


def plan_of(inventory, extra=None):
    hostvars = load_inventory_dir(os.path.join(REPO, "inventory", inventory))
    if extra:
        hostvars = {host: dict(values, **extra) for host, values in hostvars.items()}
    result = build_plan(hostvars)
    assert result["ok"], result["errors"]
    return result["hosts"]


@pytest.fixture(scope="module")
def production():
    return plan_of("production")


def test_each_check_keeps_its_names_tags_and_report_classes():
    assert [c.name for c in vc.VERIFY_CHECKS] == ["gpu", "cuda", "units", "zmq", "firewall", "prometheus"]
    # The tags docs/verify.md documents, in the playbook's order.
    assert ALL == ["verify_gpu", "verify_cuda", "verify_units", "verify_links", "verify_firewall",
                   "verify_monitoring"]
    assert [c.name for c in vc.REPORT_CHECKS] == ["gpu", "cuda", "units", "links", "health", "firewall",
                                                  "monitoring"]
    # Each report class reads its own check's result.
    for check in vc.VERIFY_CHECKS:
        for cls in check.report:
            assert cls.result_key == check.name
            assert issubclass(cls, CheckView) and issubclass(cls, CheckJudge)
    assert len({c.name for c in vc.VERIFY_CHECKS}) == len(vc.VERIFY_CHECKS)
    assert len(set(ALL)) == len(ALL)


def test_the_options_of_every_check_are_valid_for_its_module(production):
    for host, plan in production.items():
        options = vc.check_options(plan, ALL, SETTINGS)
        assert list(options) == [c.name for c in vc.VERIFY_CHECKS]
        for check in vc.VERIFY_CHECKS:
            if options[check.name] is None:
                continue
            validator = ArgumentSpecValidator(dict(check.argument_spec),
                                              mutually_exclusive=list(check.mutually_exclusive) or None,
                                              required_one_of=list(check.required_one_of) or None)
            assert not validator.validate(dict(options[check.name])).error_messages, (host, check.name)


def test_the_options_come_from_the_hosts_plan(production):
    plan = production["mainpc"]
    settings = dict(SETTINGS, lab=True, zmq_timeout=0.5, zmq_concurrency=3, prometheus_user="u")
    options = vc.check_options(plan, ALL, settings)
    assert options["gpu"] == {"required": False, "vram_budgets": plan["gpu"]["vram_budgets"] or None,
                              "vram_reserve_mib": plan["gpu"]["vram_reserve_mib"]}
    assert options["cuda"] == {"containers": plan["checks"]["cuda"], "lab": True, "daemon_reload": False,
                               "budgets": plan["checks"]["cuda_budgets"], "mps": plan["checks"]["vram_enforced"]}
    assert options["units"] == {"units": plan["checks"]["units"], "fail_on_error": False}
    assert options["zmq"] == {"containers": plan["checks"]["zmq"], "concurrency": 3, "timeout": 0.5,
                              "fail_on_error": False}
    assert options["firewall"] == {"lan_address": plan["lan_address"], "subnet": plan["network"]["subnet"],
                                   "network": plan["network"]["name"], "openings": plan["firewall"]}
    # No Prometheus in production: nothing to check there.
    assert options["prometheus"] is None


def test_phases_and_settings_leave_checks_out(production):
    plan = production["pc2"]
    options = vc.check_options(plan, ["verify_units", "verify_links"], SETTINGS)
    assert [name for name, value in options.items() if value is not None] == ["units", "zmq"]
    assert vc.check_options(plan, ALL, dict(SETTINGS, firewall_backend="none"))["firewall"] is None
    # A host with nothing planned has nothing to check but its firewall.
    empty = {"gpu": {"required": False, "model": None}, "checks": {"cuda": [], "units": [], "zmq": []},
             "network": {}, "firewall": []}
    assert [n for n, v in vc.check_options(empty, ALL, SETTINGS).items() if v is not None] == ["firewall"]


def test_the_monitoring_check_runs_on_the_prometheus_host_only():
    with open(os.path.join(REPO, "inventory", "lab-monitoring.yml"), encoding="utf-8") as handle:
        plans = plan_of("lab", yaml.safe_load(handle))
    settings = dict(SETTINGS, prometheus_user="ops", prometheus_password="secret")
    found = {host: vc.check_options(plan, ALL, settings)["prometheus"] for host, plan in plans.items()}
    runs = [host for host, options in found.items() if options is not None]
    assert len(runs) == 1
    options = found[runs[0]]
    monitoring = plans[runs[0]]["monitoring"]
    assert options == {"url": monitoring["prometheus_url"], "url_username": "ops", "url_password": "secret",
                       "exporters": monitoring["scrape_targets"]}


def test_results_are_each_checks_own_or_the_whole_failure():
    given = {"gpu": {}, "cuda": None, "units": {}, "zmq": None, "firewall": None, "prometheus": None}
    ran = {"checks_run": ["gpu", "units"], "msg": "2 check(s)", "gpu": {"available": False}, "units": {"units": []},
           "cuda": None}
    results = vc.check_results(given, ran)
    assert results == {"gpu": {"available": False}, "cuda": None, "units": {"units": []}, "zmq": None,
                       "firewall": None, "prometheus": None}
    # The module could not run at all: its failure is the result of each check it was given.
    failed = {"failed": True, "msg": "MODULE FAILURE", "module_stderr": "python3: not found"}
    results = vc.check_results(given, failed)
    assert results["gpu"] == failed and results["units"] == failed and results["gpu"] is not failed
    assert results["cuda"] is None and results["prometheus"] is None
    # Skipped: nothing was given.
    assert set(vc.check_results({}, {"skipped": True, "changed": False}).values()) == {None}
