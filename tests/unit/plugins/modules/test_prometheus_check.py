# -*- coding: utf-8 -*-
"""prometheus_check against a loopback HTTP server that answers like
Prometheus's targets and alerts API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ai_system.containers.plugins.module_utils.verify import prometheus_run
from ansible_collections.ai_system.containers.plugins.modules import prometheus_check
from support.net import closed_port

EXPORTERS = ["mainpc=10.0.0.16:9464", "pc2=10.0.0.17:9464"]


def target(host, instance, health="up", error=""):
    return {"labels": {"host": host, "instance": instance, "job": "ai-system-exporter"},
            "health": health, "lastError": error, "lastScrape": "2026-11-30T20:00:00Z"}


class FakePrometheus:
    """``targets``: a list of answers, one per request (the last repeats)."""

    def __init__(self):
        self.targets = [[target("mainpc", "10.0.0.16:9464"), target("pc2", "10.0.0.17:9464")]]
        self.alerts = []
        self.paths = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                fake.paths.append(self.path)
                if self.path.startswith("/api/v1/targets"):
                    answer = fake.targets[0] if len(fake.targets) == 1 else fake.targets.pop(0)
                    body = {"status": "success", "data": {"activeTargets": answer, "droppedTargets": []}}
                elif self.path == "/api/v1/alerts":
                    body = {"status": "success", "data": {"alerts": fake.alerts}}
                else:
                    body = {"status": "error", "error": "not found"}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prom():
    fake = FakePrometheus()
    yield fake
    fake.close()


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit):
        prometheus_check.main()
    return json.loads(capsys.readouterr().out)


def test_every_exporter_scraped_and_nothing_firing_is_ok(prom, capsys):
    result = run_module(capsys, url=prom.url + "/", exporters=EXPORTERS)
    assert result["ok"] is True and not result.get("failed")
    assert [(e["host"], e["status"], e["reason"]) for e in result["exporters"]] == [
        ("mainpc", "passed", "scraped"), ("pc2", "passed", "scraped")]
    assert result["firing"] == [] and result["url"] == prom.url
    assert prom.paths == ["/api/v1/targets?state=active", "/api/v1/alerts"]


def test_a_down_exporter_and_a_firing_alert_are_reported(prom, capsys):
    prom.targets = [[target("mainpc", "10.0.0.16:9464"),
                     target("pc2", "10.0.0.17:9464", "down", "context deadline exceeded")]]
    prom.alerts = [
        {"labels": {"alertname": "AiSystemGroupDown", "host": "pc2", "group": "pc2-redis"},
         "annotations": {"summary": "Group pc2-redis on pc2 is down"}, "state": "firing",
         "activeAt": "2026-11-30T20:00:00Z"},
        {"labels": {"alertname": "AiSystemLinkSlow"}, "state": "pending"},
    ]
    result = run_module(capsys, url=prom.url, exporters=EXPORTERS)
    assert result["ok"] is False and not result.get("failed")
    assert result["exporters"][1] == {"host": "pc2", "instance": "10.0.0.17:9464", "status": "failed",
                                      "reason": "scrape down: context deadline exceeded",
                                      "last_scrape": "2026-11-30T20:00:00Z"}
    assert result["firing"] == [{"alertname": "AiSystemGroupDown",
                                 "labels": {"host": "pc2", "group": "pc2-redis"},
                                 "summary": "Group pc2-redis on pc2 is down",
                                 "active_at": "2026-11-30T20:00:00Z"}]


def test_an_exporter_prometheus_does_not_know_fails(prom, capsys):
    prom.targets = [[target("mainpc", "10.0.0.16:9464")]]
    result = run_module(capsys, url=prom.url, exporters=EXPORTERS, wait=0)
    assert result["exporters"][1]["reason"] == "not a target of Prometheus"
    assert result["ok"] is False


def test_targets_not_scraped_yet_are_waited_for(prom):
    fresh = [target("mainpc", "10.0.0.16:9464", "unknown"), target("pc2", "10.0.0.17:9464", "unknown")]
    prom.targets = [fresh, fresh, [target("mainpc", "10.0.0.16:9464"), target("pc2", "10.0.0.17:9464")]]
    slept = []
    result = prometheus_run.check({"url": prom.url, "exporters": EXPORTERS, "timeout": 5.0, "wait": 60.0},
                                  sleep=slept.append)
    assert result["ok"] is True and slept == [2.0, 2.0]
    prom.targets = [fresh]
    clock = iter([0.0, 0.0, 5.0, 11.0])
    result = prometheus_run.check({"url": prom.url, "exporters": EXPORTERS, "timeout": 5.0, "wait": 10.0},
                                  sleep=lambda s: None, monotonic=lambda: next(clock))
    assert [e["reason"] for e in result["exporters"]] == ["not scraped yet after 10 s"] * 2


def test_a_prometheus_that_does_not_answer_fails_the_module(capsys):
    url = "http://127.0.0.1:%d" % closed_port()
    result = run_module(capsys, url=url, exporters=EXPORTERS, timeout=2)
    assert result["failed"] is True
    assert result["msg"].startswith("Prometheus did not answer: %s/api/v1/targets?state=active: " % url)


def test_an_exporter_that_is_not_host_address_port_fails(prom, capsys):
    result = run_module(capsys, url=prom.url, exporters=["pc2:9464"])
    assert result["failed"] is True
    assert result["msg"] == "exporters entry 'pc2:9464' is not host=address:port"


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(prometheus_check.DOCUMENTATION)
    assert set(doc["options"]) == set(prometheus_run.ARGUMENT_SPEC)
    for name, spec in prometheus_run.ARGUMENT_SPEC.items():
        assert doc["options"][name]["type"] == spec["type"]
        assert doc["options"][name].get("default") == spec.get("default")
