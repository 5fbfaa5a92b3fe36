# -*- coding: utf-8 -*-
"""Monitoring on the two-host lab: the stack deployed with
inventory/lab-monitoring.yml, Prometheus on mainpc scraping both exporters.

Needs the lab-prometheus archive besides the lab's others
(scripts/build-lab-images.sh --archives build/lab lab-prometheus).
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse

import pytest
import yaml

from support.ansible_run import REPO
from support.lab import LAB_IMAGES

MONITORING_VARS = os.path.join(REPO, "inventory", "lab-monitoring.yml")
# Prometheus listens on 127.0.0.1 of its host (no viewers in the lab inventory).
PROMETHEUS = "http://127.0.0.1:9090"
MAINPC_EXPORTER = ("10.89.100.16", 9464)
LEAF_GROUP = "pc2-ai-monitoring"  # nothing depends on it and no other host consumes it
LEAF_SERVICE = "ai-%s.service" % LEAF_GROUP
FETCH = ("import json, sys, urllib.request\n"
         "print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())\n")
CONNECT = ("import socket, sys\n"
           "s = socket.socket(); s.settimeout(3)\n"
           "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('connected')\n"
           "except OSError as exc:\n    print('refused: %s' % exc)\n")


def api(lab, path, **params):
    url = PROMETHEUS + path + ("?" + urllib.parse.urlencode(params) if params else "")
    out = lab.exec("mainpc", "python3", "-c", FETCH, url).stdout
    doc = json.loads(out)
    assert doc["status"] == "success", doc
    return doc["data"]


def query(lab, expr):
    return api(lab, "/api/v1/query", query=expr)["result"]


def wait_for(what, check, timeout, step=2.0):
    """(seconds it took, the value) once ``check()`` is truthy."""
    start = time.monotonic()
    value = None
    while time.monotonic() - start < timeout:
        value = check()
        if value:
            return time.monotonic() - start, value
        time.sleep(step)
    raise AssertionError("%s: not within %d s (last: %r)" % (what, timeout, value))


@pytest.fixture(scope="module")
def monitored(lab, lab_plan):
    if not os.path.exists(os.path.join(LAB_IMAGES, "lab-prometheus.tar")):
        pytest.fail("lab image archive lab-prometheus.tar is missing: run "
                    "`scripts/build-lab-images.sh --archives build/lab lab-prometheus`")
    with open(MONITORING_VARS) as handle:
        extravars = yaml.safe_load(handle)
    run = lab.playbook(extravars=extravars)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    lab.wait_all_healthy(lab_plan, timeout=120)
    return extravars


def test_prometheus_scrapes_both_exporters_and_sees_every_group_up_and_healthy(lab, lab_plan, monitored):
    def targets_up():
        active = api(lab, "/api/v1/targets", state="active")["activeTargets"]
        up = sorted(t["labels"]["host"] for t in active if t["health"] == "up")
        return up if up == ["mainpc", "pc2"] else None
    wait_for("both exporters up in Prometheus's targets", targets_up, 90)

    expected = sorted([(host, u["group"]) for host in lab.hosts
                       for u in lab_plan["hosts"][host]["units"]] + [("mainpc", "prometheus")])
    # The 16 agent groups, Redis, Prometheus and MainPC's pod unit (pod mode).
    assert len(expected) == 19

    def healthy_groups():
        result = query(lab, "ai_system_group_up == 1 and ai_system_group_healthy == 1")
        groups = sorted((r["metric"]["host"], r["metric"]["group"]) for r in result)
        return groups if groups == expected else None
    wait_for("every group up and healthy", healthy_groups, 90)
    assert query(lab, 'ALERTS{alertstate="firing"}') == []
    info = query(lab, "ai_system_build_info")
    assert {r["metric"]["version"] for r in info} == {"0.1.0"}


def test_a_second_run_and_a_check_mode_run_change_nothing(lab, monitored):
    run = lab.playbook(extravars=monitored)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    assert run.count("changed", "mainpc") == 0 and run.count("changed", "pc2") == 0
    run = lab.playbook(extravars=monitored, check=True, diff=True)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    assert run.count("changed", "mainpc") == 0 and run.count("changed", "pc2") == 0


def test_a_stopped_pc2_group_fires_group_down_and_starting_it_resolves_it(lab, monitored):
    # for: 1m, plus one scrape interval and one rule evaluation (10 s each in
    # inventory/lab-monitoring.yml), the exporter's cache (5 s) and this
    # loop's own polling.
    limit = 60 + 10 + 10 + 5 + 10

    def firing():
        result = query(lab, 'ALERTS{alertname="AiSystemGroupDown",alertstate="firing"}')
        return [r["metric"]["group"] for r in result if r["metric"]["host"] == "pc2"]
    lab.exec("pc2", "systemctl", "stop", LEAF_SERVICE)
    try:
        took, groups = wait_for("AiSystemGroupDown for %s" % LEAF_GROUP, firing, limit + 30)
        print("AiSystemGroupDown fired %.0f s after the stop (bound %d s)" % (took, limit))
        assert groups == [LEAF_GROUP]
        assert took <= limit, "fired after %.0f s, more than for + a scrape interval" % took
    finally:
        lab.exec("pc2", "systemctl", "start", LEAF_SERVICE, timeout=300)
    wait_for("AiSystemGroupDown resolved", lambda: not firing(), 60)


def test_an_exporter_port_answers_prometheus_only(lab, monitored):
    address, port = MAINPC_EXPORTER
    from_pc2 = lab.exec("pc2", "python3", "-c", CONNECT, address, str(port)).stdout.strip()
    assert from_pc2.startswith("refused"), from_pc2
    to_pc2 = lab.exec("mainpc", "python3", "-c", CONNECT, "10.89.100.17", str(port)).stdout.strip()
    assert to_pc2 == "connected"
