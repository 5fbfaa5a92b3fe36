# -*- coding: utf-8 -*-
"""A real Prometheus (Debian's, which install-host-deps.sh installs for
promtool) scrapes a real exporter on loopback with the configuration the plan
writes and the shipped rules; prometheus_check then reads its targets and
alerts APIs. The exporter reads a stand-in systemd and Podman in which one
group is stopped."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest
import yaml

from ansible_collections.ai_system.containers.plugins.module_utils.monitoring import exporter as exp
from ansible_collections.ai_system.containers.plugins.module_utils.verify import prometheus_run
from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
RULES = os.path.join(REPO, "roles", "stack", "files", "ai-system-alerts.yml")
PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is absent "
                                "(scripts/install-host-deps.sh installs Debian's prometheus)")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def runner(argv):
    """systemctl show and podman inspect of two groups: core runs, store is stopped."""
    names = argv[argv.index("--") + 1:]
    if argv[0] == "systemctl":
        blocks = []
        for name in names:
            active = "inactive" if name == "ai-store.service" else "active"
            blocks.append("Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=%s\nNRestarts=0"
                          % (name, active, "dead" if active == "inactive" else "running"))
        return 0, "\n\n".join(blocks) + "\n", ""
    found = [{"Id": "c" * 64, "Name": "core", "State": {"Status": "running", "Health": {"Status": "healthy"}}}]
    return (125 if "store" in names else 0), json.dumps(found), "Error: no such container store\n"


def test_prometheus_scrapes_the_exporter_and_fires_group_down(tmp_path, inventory):
    for host in inventory.values():
        host["ai_monitoring"] = {"prometheus": {"host": "mainpc", "image": "localhost/p:1",
                                                "scrape_interval": "1s"}}
    plan = build_plan(inventory)["hosts"]
    exporter = exp.Exporter({
        "host": "pc2", "listen_address": "127.0.0.1", "port": 0, "collection_version": "0.1.0",
        "plan_hash": plan["pc2"]["monitoring"]["plan_hash"], "cache_seconds": 0.5,
        "probe_interval_seconds": 60.0, "probe_timeout_seconds": 1.0, "zmq": [], "links": [],
        "units": [{"group": g, "service": "ai-%s.service" % g, "container": g, "healthcheck": True}
                  for g in ("core", "store")],
        "vram_budgets_mib": {}, "gpus_expected": 0}, runner=runner)
    server = exp.serve(exporter, "127.0.0.1", 0)
    exporter_port = server.server_address[1]
    # The plan's prometheus.yml, pointed at this exporter, with GroupDown's
    # `for:` cut to 2 s (the promtool cases test the shipped durations).
    config = yaml.safe_load(plan["mainpc"]["config"]["monitoring/prometheus.yml"])
    config["scrape_configs"][0]["static_configs"] = [
        {"targets": ["127.0.0.1:%d" % exporter_port], "labels": {"host": "pc2"}}]
    config["rule_files"] = [str(tmp_path / "rules.yml")]
    with open(RULES, encoding="utf-8") as handle:
        rules = yaml.safe_load(handle)
    for rule in rules["groups"][0]["rules"]:
        if rule["alert"] == "AiSystemGroupDown":
            rule["for"] = "2s"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    log = open(tmp_path / "prometheus.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen([PROMETHEUS, "--config.file=%s" % (tmp_path / "prometheus.yml"),  # pylint: disable=consider-using-with
                             "--storage.tsdb.path=%s" % (tmp_path / "data"),
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        params = {"url": url, "exporters": ["pc2=127.0.0.1:%d" % exporter_port], "timeout": 5.0, "wait": 30.0}
        deadline = time.monotonic() + 60
        result = None
        while time.monotonic() < deadline:
            try:
                result = prometheus_run.check(params)
            except Exception:  # pylint: disable=broad-except  # not listening yet
                result = None
            if result and not result.get("failed") and result["firing"]:
                break
            time.sleep(1)
        assert result and not result.get("failed"), (result, (tmp_path / "prometheus.log").read_text()[-2000:])
        assert result["exporters"] == [{"host": "pc2", "instance": "127.0.0.1:%d" % exporter_port,
                                        "status": "passed", "reason": "scraped",
                                        "last_scrape": result["exporters"][0]["last_scrape"]}]
        assert [(a["alertname"], a["labels"].get("group")) for a in result["firing"]] == \
            [("AiSystemGroupDown", "store")]
        assert result["ok"] is False
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        server.shutdown()
        exporter.stop()
    assert result["firing"][0]["labels"]["host"] == "pc2"
