# -*- coding: utf-8 -*-
"""prometheus_check against a real HTTP server that demands basic auth, as a
Prometheus opened to viewers does (its web config)."""

from __future__ import annotations

import base64
import http.server
import json
import threading

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.verify import prometheus_run

GOOD = "Basic " + base64.b64encode(b"viewer:secret").decode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.headers.get("Authorization") != GOOD:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="prometheus"')
            self.end_headers()
            return
        if self.path.startswith("/api/v1/targets"):
            data = {"activeTargets": [{"labels": {"host": "mainpc", "instance": "10.0.0.16:9464",
                                                  "job": "ai"}, "health": "up"}]}
        else:
            data = {"alerts": []}
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def params(url, **more):
    return dict({"url": url, "exporters": ["mainpc=10.0.0.16:9464"], "timeout": 5.0, "wait": 0.0,
                 "url_username": "", "url_password": ""}, **more)


def test_the_viewer_password_gets_an_answer(server):
    result = prometheus_run.check(params(server, url_username="viewer", url_password="secret"))
    assert result.get("ok") is True, result


@pytest.mark.parametrize("auth", [{}, {"url_username": "viewer", "url_password": "wrong"}])
def test_without_the_password_prometheus_does_not_answer(server, auth):
    result = prometheus_run.check(params(server, **auth))
    assert result["failed"] and "401" in result["msg"]
