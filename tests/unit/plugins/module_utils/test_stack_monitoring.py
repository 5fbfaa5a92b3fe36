# -*- coding: utf-8 -*-
"""The ai_monitoring section: its refusals (located, before anything is
rendered) and what the plan makes of a sound one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.monitoring import stack_monitoring
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import PLAN_VARS, duration_seconds
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import (
    build_plan, plan_stack,
)
from support.quadlet import generated_service, needs_quadlet

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
IMAGE = "localhost/ai-system/lab-prometheus:latest"


def monitored(inventory, **prometheus):
    section = {"prometheus": dict({"host": "mainpc", "image": IMAGE}, **prometheus)}
    for host in inventory.values():
        host["ai_monitoring"] = section
    return section


def problems_of(inventory):
    result = build_plan(inventory)
    assert not result["ok"]
    assert result["hosts"] == {}, "nothing may be rendered from a broken inventory"
    return result["problems"]


def only_problem(inventory):
    found = problems_of(inventory)
    assert len(found) == 1, [p["text"] for p in found]
    return found[0]


# -- refusals -------------------------------------------------------------------

def test_an_unknown_prometheus_host_is_refused_with_a_suggestion(inventory):
    monitored(inventory, host="mainpcc")
    problem = only_problem(inventory)
    assert problem["field"] == "ai_monitoring.prometheus.host"
    assert problem["message"] == "ai_monitoring.prometheus.host names unknown host 'mainpcc'"
    assert problem["fix"] == "did you mean 'mainpc'?"


def test_an_exporter_port_that_is_an_agents_port_is_refused_on_that_host(inventory):
    section = monitored(inventory)
    section["exporter"] = {"port": 7140}  # pc2's Memory agent
    problem = only_problem(inventory)
    assert (problem["host"], problem["group"], problem["agent"]) == ("pc2", "store", "Memory")
    assert problem["field"] == "ai_monitoring.exporter.port"
    assert problem["message"] == "ai_monitoring.exporter.port 7140 is also the port of agent Memory"
    assert "host_vars/pc2/groups.yml" in problem["fix"]


def test_a_prometheus_port_that_is_a_health_port_is_refused_only_on_its_host(inventory):
    monitored(inventory, port=8120)  # mainpc's Twin health port
    problem = only_problem(inventory)
    assert (problem["host"], problem["group"], problem["agent"]) == ("mainpc", "core", "Twin")
    assert problem["message"] == \
        "ai_monitoring.prometheus.port 8120 is also the health_port of agent Twin"
    monitored(inventory, host="pc2", port=8120)  # pc2 has no such port
    assert build_plan(inventory)["ok"]


def test_a_port_of_a_service_clashes_too(inventory):
    section = monitored(inventory)
    section["exporter"] = {"port": 6379}
    problem = only_problem(inventory)
    assert (problem["host"], problem["group"]) == ("pc2", "redis")
    assert problem["message"] == "ai_monitoring.exporter.port 6379 is also the port redis of group redis"


def test_prometheus_and_its_exporter_on_one_port_are_refused(inventory):
    section = monitored(inventory, port=9464)
    section["exporter"] = {"port": 9464}
    problem = only_problem(inventory)
    assert problem["host"] == "mainpc"
    assert problem["message"] == "Prometheus and the exporter both use port 9464 on mainpc"


@pytest.mark.parametrize("image", [None, "", "  "])
def test_no_prometheus_image_is_refused(inventory, image):
    section = monitored(inventory)
    if image is None:
        del section["prometheus"]["image"]
    else:
        section["prometheus"]["image"] = image
    problem = only_problem(inventory)
    assert problem["field"] == "ai_monitoring.prometheus.image"
    assert problem["message"] == \
        "ai_monitoring.prometheus.image is missing: there is no Prometheus image to run"
    assert "lab-prometheus" in problem["fix"]


def test_other_bad_values_are_each_located(inventory):
    section = monitored(inventory, port=80, scrape_interval="often", volume="a b", colour="red")
    section["exporter"] = {"port": "x", "probe_timeout": "0s"}
    texts = sorted(p["text"] for p in problems_of(inventory))
    assert texts == sorted([
        "field colour: unknown key 'colour' in ai_monitoring.prometheus -- allowed keys: "
        "host, image, port, retention, scrape_interval, viewers, volume, web",
        "field ai_monitoring.prometheus.port: port 80 is privileged/reserved -- "
        "use a port between 1024 and 65535",
        "field ai_monitoring.exporter.port: port 'x' is not a whole number -- "
        "use a number between 1024 and 65535",
        "field ai_monitoring.prometheus.scrape_interval: ai_monitoring.prometheus.scrape_interval "
        "'often' is not a positive duration -- write a number with a unit, e.g. 30s, 2m or 1m30s",
        "field ai_monitoring.exporter.probe_timeout: ai_monitoring.exporter.probe_timeout '0s' "
        "is not a positive duration -- write a number with a unit, e.g. 30s, 2m or 1m30s",
        "field ai_monitoring.prometheus.volume: ai_monitoring.prometheus.volume 'a b' is not a "
        "volume name -- use letters, digits, '_', '.' and '-'",
    ])


def test_a_probe_timeout_longer_than_half_the_interval_is_refused(inventory):
    section = monitored(inventory)
    section["exporter"] = {"probe_interval": "10s", "probe_timeout": "6s"}
    problem = only_problem(inventory)
    assert problem["field"] == "ai_monitoring.exporter.probe_timeout"


def test_a_section_that_differs_between_hosts_is_refused(inventory):
    monitored(inventory)
    inventory["pc2"]["ai_monitoring"] = {"prometheus": {"host": "pc2", "image": IMAGE}}
    problem = only_problem(inventory)
    assert (problem["host"], problem["field"]) == ("pc2", "ai_monitoring")
    assert problem["fix"] == "define it once, in group_vars/all/"
    del inventory["pc2"]["ai_monitoring"]
    problem = only_problem(inventory)
    assert problem["message"] == "ai_monitoring is set on mainpc but not on pc2"


def test_a_section_that_is_not_a_mapping_is_refused(inventory):
    for host in inventory.values():
        host["ai_monitoring"] = "yes"
    assert only_problem(inventory)["field"] == "ai_monitoring"
    for host in inventory.values():
        host["ai_monitoring"] = {"exporter": {"port": 9464}}
    assert only_problem(inventory)["field"] == "ai_monitoring.prometheus"


def test_text_of_the_section_is_scanned_like_every_other(inventory):
    monitored(inventory, image="localhost/p:1\nExecStartPre=/bin/sh")
    texts = [p["text"] for p in problems_of(inventory)]
    assert any("ai_monitoring.prometheus.image" in t and "control character" in t for t in texts), texts


def test_the_plan_action_collects_the_section():
    assert "ai_monitoring" in PLAN_VARS


# -- the sound section ---------------------------------------------------------

def test_without_the_section_the_plan_is_unchanged(inventory):
    plain = build_plan(inventory)
    monitored(inventory)
    for host in inventory.values():
        host["ai_monitoring"] = False
    assert build_plan(inventory) == plain
    assert all(h["monitoring"] is None for h in plain["hosts"].values())


def test_every_host_gets_an_exporter_and_the_prometheus_host_prometheus(inventory):
    monitored(inventory)
    hosts = plan_stack(inventory).hosts
    main, pc2 = hosts["mainpc"], hosts["pc2"]
    assert main.monitoring.prometheus and not pc2.monitoring.prometheus
    assert set(main.quadlet) - set(pc2.quadlet) >= {"ai-prometheus.container", "ai-prometheus-data.volume"}
    assert "ai-prometheus.container" not in pc2.quadlet
    assert main.monitoring.prometheus_service == "ai-prometheus.service"
    assert main.monitoring.scrape_targets == ("mainpc=10.0.0.16:9464", "pc2=10.0.0.17:9464")
    assert [i.groups for i in main.images if i.image == IMAGE] == [("prometheus",)]
    assert not [i for i in pc2.images if i.image == IMAGE]
    prom = yaml.safe_load(main.config["monitoring/prometheus.yml"])
    assert prom["scrape_configs"][0]["static_configs"] == [
        {"targets": ["10.0.0.16:9464"], "labels": {"host": "mainpc"}},
        {"targets": ["10.0.0.17:9464"], "labels": {"host": "pc2"}},
    ]
    assert prom["rule_files"] == ["/etc/prometheus/ai-system/ai-system-alerts.yml"]
    assert "prometheus: %s at http://127.0.0.1:9090 (this host only)" % IMAGE \
        in "\n".join(main.as_dict()["summary"])


def test_prometheus_is_a_unit_of_its_host_restarted_by_its_configuration(inventory):
    plain = plan_stack(inventory).hosts
    monitored(inventory)
    hosts = plan_stack(inventory).hosts
    main = hosts["mainpc"]
    assert main.units[:-1] == plain["mainpc"].units and hosts["pc2"].units == plain["pc2"].units
    unit = main.units[-1]
    assert (unit.group, unit.service, unit.container, unit.image) == (
        "prometheus", "ai-prometheus.service", "ai-prometheus", IMAGE)
    assert unit.config_files == ("monitoring/prometheus.yml", "monitoring/ai-system-alerts.yml")
    assert not unit.healthcheck and not unit.agents and not unit.depends_on
    assert main.start_order[-1] == "prometheus"
    assert main.checks.units[-1].service == "ai-prometheus.service"
    doc = json.loads(main.config["monitoring/exporter.json"])
    assert doc["units"][-1] == {"group": "prometheus", "service": "ai-prometheus.service",
                                "container": "ai-prometheus", "healthcheck": False}


@pytest.mark.parametrize("name", ["prometheus", "ai-prometheus"])
def test_a_group_named_like_prometheus_is_refused_on_its_host(inventory, name):
    inventory["mainpc"]["ai_groups"][name] = {"agents": {"Extra": {"port": 7300, "health_port": 8300}}}
    monitored(inventory)
    problem = only_problem(inventory)
    assert (problem["host"], problem["group"]) == ("mainpc", name)
    assert problem["fix"] == "rename the group, or run Prometheus on another host"
    monitored(inventory, host="pc2")
    assert build_plan(inventory)["ok"]


def test_the_exporter_port_is_opened_to_the_prometheus_host_only(inventory):
    monitored(inventory, host="pc2")
    for name, host in plan_stack(inventory).hosts.items():
        mine = [o for o in host.firewall if o.group == "monitoring"]
        assert [(o.port, o.source, o.source_host) for o in mine] == [(9464, "10.0.0.17", "pc2")], name


def test_the_exporter_reads_the_plans_own_checks(inventory):
    monitored(inventory)
    for name, host in build_plan(inventory)["hosts"].items():
        doc = json.loads(host["config"]["monitoring/exporter.json"])
        assert doc["zmq"] == host["checks"]["zmq"]
        assert [u["service"] for u in doc["units"]] == [u["service"] for u in host["units"]]
        assert doc["vram_budgets_mib"] == host["gpu"]["vram_budgets"]
        assert doc["listen_address"] == host["lan_address"]
        assert doc["plan_hash"] == host["monitoring"]["plan_hash"]
        assert len(doc["plan_hash"]) == 64
    assert json.loads(build_plan(inventory)["hosts"]["mainpc"]["config"][
        "monitoring/exporter.json"])["gpus_expected"] == 1


def test_exporter_gpu_false_leaves_nvml_alone_and_expects_no_gpu(inventory):
    section = monitored(inventory)
    section["exporter"] = {"gpu": False}
    doc = json.loads(build_plan(inventory)["hosts"]["mainpc"]["config"]["monitoring/exporter.json"])
    assert doc["read_gpus"] is False and doc["gpus_expected"] == 0
    section["exporter"] = {"gpu": "no"}
    assert only_problem(inventory)["field"] == "ai_monitoring.exporter.gpu"


def test_the_plan_hash_follows_what_the_host_runs(inventory):
    monitored(inventory)
    before = plan_stack(inventory).hosts
    inventory["pc2"]["ai_groups"]["store"]["memory"] = "1g"
    after = plan_stack(inventory).hosts
    assert before["pc2"].monitoring.plan_hash != after["pc2"].monitoring.plan_hash
    assert before["mainpc"].monitoring.plan_hash == after["mainpc"].monitoring.plan_hash


def test_the_collection_version_is_galaxys():
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        assert yaml.safe_load(handle)["version"] == stack_monitoring.COLLECTION_VERSION


def test_seconds_of_durations():
    assert duration_seconds("1m30s") == 90
    assert duration_seconds("250ms") == 0.25
    assert duration_seconds("2h") == 7200


@needs_quadlet
def test_quadlet_accepts_the_prometheus_units(inventory, tmp_path):
    monitored(inventory)
    main = build_plan(inventory)["hosts"]["mainpc"]
    files = {n: t for n, t in main["quadlet"].items() if "prometheus" in n}
    service = generated_service(files, tmp_path, "ai-prometheus.service")
    assert "--network host" in service
    assert "-v ai-prometheus-data:/var/lib/prometheus" in service
    assert "--web.listen-address=127.0.0.1:9090" in service
    assert "Requires=ai-prometheus-data-volume.service" in service


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is absent")
def test_promtool_accepts_the_prometheus_configuration(inventory, tmp_path):
    monitored(inventory)
    text = build_plan(inventory)["hosts"]["mainpc"]["config"]["monitoring/prometheus.yml"]
    rules = os.path.join(REPO, "roles", "stack", "files", "ai-system-alerts.yml")
    (tmp_path / "prometheus.yml").write_text(
        text.replace("/etc/prometheus/ai-system/ai-system-alerts.yml", rules))
    run = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 1 rule files found" in run.stdout


def test_the_lab_monitoring_variables_plan_on_the_lab_inventory():
    """inventory/lab-monitoring.yml (extra variables of the lab's monitoring
    runs) plans cleanly on the lab, and keeps the lab's own image archives."""
    from support.inventory import load_inventory_dir
    inventory = load_inventory_dir(os.path.join(REPO, "inventory", "lab"))
    with open(os.path.join(REPO, "inventory", "lab-monitoring.yml")) as handle:
        extra = yaml.safe_load(handle)
    for host in inventory.values():
        lab_archives = host["stack_image_archives"]
        host.update(extra)
    assert set(lab_archives) < set(extra["stack_image_archives"])
    assert all(extra["stack_image_archives"][k] == v for k, v in lab_archives.items())
    plan = plan_stack(inventory)
    assert plan.ok, [str(p) for p in plan.problems]
    # 15 agent groups, the two Redis, Prometheus and MainPC's pod unit
    # (the lab's PC2 runs one network namespace per group)
    assert sum(len(h.units) for h in plan.hosts.values()) == 19
    main = plan.hosts["mainpc"]
    assert main.monitoring.prometheus and main.monitoring.prometheus_address == "10.89.100.16"
    assert extra["ai_monitoring"]["prometheus"]["image"] in extra["stack_image_archives"]
