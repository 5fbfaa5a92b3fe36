# -*- coding: utf-8 -*-
"""What the collection writes, for the production and lab inventories,
byte for byte against golden files: a refactor of the plan, the renderers
or the report must leave every one of them as it is.

Per inventory (tests/fixtures/golden/<inventory>/):

``lab-monitoring`` is the lab with inventory/lab-monitoring.yml as extra
variables: Prometheus, its web configuration and the exporter's document.

* ``plan.json``: the whole result of planning (every host's plan, the
  warnings), as the ``stack_plan`` module returns it;
* ``<host>/quadlet/*`` and ``<host>/config/*``: the Quadlet units and the
  endpoint maps, as playbooks/render.yml writes them;
* ``<host>/firewall.nft``: the nftables table file nft_table writes;
* ``<host>/firewalld.txt``: the firewalld rich rules of the host's openings;
* ``<host>/hyperv-firewall.ps1``: the Hyper-V firewall script of a WSL host;
* ``report/<case>.{md,txt,json,xml}``: the verify report of a healthy system
  and of one with a failed unit, a silent link and a degraded agent.

The Kubernetes manifests have golden files of their own
(tests/fixtures/kube/, test_kube_manifests.py). Each file carries ``.golden``
after its name. After an intended change, regenerate them with

    AI_SYSTEM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/golden

and review the diff.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.host.hyperv_firewall import hyperv_script
from ansible_collections.ai_system.containers.plugins.module_utils.host.nft_run import HEADER
from ansible_collections.ai_system.containers.plugins.module_utils.host.nft_state import render, wanted_table
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_checks import build_report
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_render import (
    render_json, render_junit, render_markdown, render_text,
)
from ansible_collections.ai_system.containers.plugins.module_utils.host.rich_rules import rich_rule
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support import verify_results as vr
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GOLDEN = os.path.join(REPO, "tests", "fixtures", "golden")
SUFFIX = ".golden"
INVENTORIES = ("production", "lab", "lab-monitoring")


def hostvars_of(name):
    """The inventory's variables; ``lab-monitoring``: the lab with
    inventory/lab-monitoring.yml as extra variables (docs/monitoring.md)."""
    if name == "lab-monitoring":
        with open(os.path.join(REPO, "inventory", "lab-monitoring.yml"), encoding="utf-8") as handle:
            extra = yaml.safe_load(handle)
        return {host: dict(hostvars, **extra) for host, hostvars in hostvars_of("lab").items()}
    return load_inventory_dir(os.path.join(REPO, "inventory", name))


def planned(name):
    result = build_plan(hostvars_of(name))
    assert result["ok"], result["errors"]
    return result


def host_files(host, plan):
    files = {}
    for kind in ("quadlet", "config"):
        for rel, text in plan[kind].items():
            files["%s/%s/%s" % (host, kind, rel)] = text
    files["%s/firewall.nft" % host] = render(
        wanted_table("ai_system", plan["lan_address"], plan["network"]["subnet"], plan["firewall"]),
        HEADER)
    files["%s/firewalld.txt" % host] = "".join(
        rich_rule(opening, plan["lan_address"]) + "\n" for opening in plan["firewall"])
    files["%s/hyperv-firewall.ps1" % host] = hyperv_script(host, plan["firewall"],
                                                           "/etc/ai-system/hyperv-firewall.ps1")
    return files


def first_endpoint(results, host, wanted):
    """The first endpoint of ``host``'s zmq results that ``wanted`` accepts."""
    return next(endpoint for entry in results[host]["zmq"]["results"]
                for endpoint in entry["endpoints"] if wanted(endpoint))


def broken(plan, results):
    """One unit failed, one cross-host link silent, one agent degraded."""
    results = copy.deepcopy(results)
    host, other = sorted(plan)[0], sorted(plan)[-1]
    unit = results[host]["units"]["units"][-1]
    vr.fail_unit(unit, "the container exited (status 1)", active_state="failed", sub_state="failed")
    first_endpoint(results, host, lambda e: e["kind"] != "health").update(
        ok=False, verdict=None, stage_reached="connect", failed_stage="zmtp", reason="timeout",
        detail="no ZMTP greeting within 2000 ms", zmtp=None, rtt_ms=None, reply=None)
    vr.degrade(first_endpoint(results, other, lambda e: e["kind"] == "health"))
    return results


def report_files(plan_hosts):
    healthy = {name: vr.healthy_host_results(host_plan) for name, host_plan in plan_hosts.items()}
    files = {}
    for case, results in (("healthy", healthy), ("broken", broken(plan_hosts, healthy))):
        report = build_report(plan_hosts, results, now=vr.NOW)
        files["report/%s.md" % case] = render_markdown(report)
        files["report/%s.txt" % case] = "\n".join(render_text(report)) + "\n"
        files["report/%s.json" % case] = render_json(report)
        files["report/%s.xml" % case] = render_junit(report)
    return files


def outputs(name):
    result = planned(name)
    files = {"plan.json": json.dumps(result, indent=1, sort_keys=True) + "\n"}
    for host, plan in sorted(result["hosts"].items()):
        files.update(host_files(host, plan))
    files.update(report_files(result["hosts"]))
    return files


def stored(folder):
    found = {}
    for root, dummy_dirs, names in os.walk(folder):
        for fname in names:
            path = os.path.join(root, fname)
            with open(path, encoding="utf-8", newline="") as handle:
                found[os.path.relpath(path, folder)[:-len(SUFFIX)]] = handle.read()
    return found


@pytest.mark.parametrize("name", INVENTORIES)
def test_every_output_is_byte_identical_to_its_golden_file(name):
    files = outputs(name)
    folder = os.path.join(GOLDEN, name)
    if os.environ.get("AI_SYSTEM_UPDATE_GOLDEN"):
        for rel in stored(folder):
            if rel not in files:
                os.unlink(os.path.join(folder, rel + SUFFIX))
        for rel, text in files.items():
            path = os.path.join(folder, rel + SUFFIX)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
    found = stored(folder)
    assert sorted(found) == sorted(files), "files added or missing (see this file's docstring)"
    differ = [rel for rel in sorted(files) if found[rel] != files[rel]]
    assert not differ, "differ from their golden files (see this file's docstring): %s" % ", ".join(differ)


def test_the_broken_case_breaks_what_it_says():
    """The second report is a failing one: the golden files cover the
    failing paths of every renderer, not two healthy reports."""
    plan_hosts = planned("production")["hosts"]
    healthy = {name: vr.healthy_host_results(host_plan) for name, host_plan in plan_hosts.items()}
    report = build_report(plan_hosts, broken(plan_hosts, healthy), now=vr.NOW)
    text = render_markdown(report)
    assert not report["ok"]
    assert "the container exited (status 1)" in text
    assert "no ZMTP greeting within 2000 ms" in text or "timeout" in text
    assert vr.DEGRADED_SAYS in text
