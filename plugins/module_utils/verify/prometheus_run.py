# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the prometheus_check module does, as a function that returns its result.

The module ai_system.containers.prometheus_check is a thin wrapper around
:func:`run`; ai_system.containers.host_checks calls :func:`run` too, for its
``prometheus`` check. It asks the Prometheus of the plan, on the host that
runs it, for its scrape targets (``/api/v1/targets``) and its alerts
(``/api/v1/alerts``): every exporter of the plan must be a target that is up,
and no alert may be firing. A target not scraped yet (a Prometheus that has
just started) is waited for, up to ``wait`` seconds.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible.module_utils.urls import open_url

ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    # Basic auth, for a Prometheus opened to viewers (TLS and passwords).
    url_username=dict(type="str", default=""),
    url_password=dict(type="str", default="", no_log=True),
    exporters=dict(type="list", elements="str", required=True),
    timeout=dict(type="float", default=10.0),
    wait=dict(type="float", default=60.0),
)

# url -> parsed JSON document of a Prometheus API answer
Fetch = Callable[[str, float], Any]


def fetch_json(url: str, timeout: float, username: str = "", password: str = "") -> Any:
    auth: Dict[str, Any] = {}
    if username:
        auth = dict(url_username=username, url_password=password, force_basic_auth=True)
    reply = open_url(url, timeout=timeout, validate_certs=False, follow_redirects="none", **auth)
    return json.loads(reply.read().decode("utf-8"))


def _data(fetch: Fetch, url: str, timeout: float) -> Tuple[Optional[Any], Optional[str]]:
    try:
        doc = fetch(url, timeout)
    except Exception as exc:  # pylint: disable=broad-except  # urllib, socket and JSON errors alike
        return None, "%s: %s" % (url, exc)
    if not isinstance(doc, Mapping) or doc.get("status") != "success":
        return None, "%s answered %s" % (url, json.dumps(doc)[:200])
    return doc.get("data"), None


def _targets(data: Any) -> List[Dict[str, Any]]:
    active = data.get("activeTargets") if isinstance(data, Mapping) else None
    out = []
    for target in active or []:
        labels = target.get("labels") or {}
        out.append({"host": labels.get("host"), "instance": labels.get("instance"),
                    "job": labels.get("job"), "health": target.get("health"),
                    "last_error": target.get("lastError") or None,
                    "last_scrape": target.get("lastScrape")})
    return out


def _exporters(specs: List[str]) -> Dict[str, str]:
    """``host=address:port`` -> {address:port: host}; raises ValueError."""
    out = {}
    for spec in specs:
        host, sep, instance = str(spec).partition("=")
        if not sep or not host or ":" not in instance:
            raise ValueError("exporters entry %r is not host=address:port" % (spec,))
        out[instance] = host
    return out


def check(params: Mapping[str, Any], fetch: Fetch = fetch_json,
          sleep: Callable[[float], None] = time.sleep,
          monotonic: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """The module's result for ``params``."""
    base = params["url"].rstrip("/")
    try:
        wanted = _exporters(params["exporters"])
    except ValueError as exc:
        return {"failed": True, "changed": False, "msg": str(exc)}
    timeout = float(params["timeout"])
    if params.get("url_username") and fetch is fetch_json:
        user, password = params["url_username"], params.get("url_password") or ""

        def fetch(url: str, timeout: float) -> Any:  # pylint: disable=function-redefined
            return fetch_json(url, timeout, user, password)
    deadline = monotonic() + max(0.0, float(params["wait"]))
    while True:
        data, error = _data(fetch, base + "/api/v1/targets?state=active", timeout)
        if error:
            return {"failed": True, "changed": False, "msg": "Prometheus did not answer: %s" % error}
        targets = _targets(data)
        by_instance = {t["instance"]: t for t in targets}
        pending = [i for i in wanted if by_instance.get(i, {}).get("health") in (None, "unknown")]
        if not pending or monotonic() >= deadline:
            break
        sleep(2.0)
    exporters = []
    for instance, host in sorted(wanted.items(), key=lambda kv: kv[1]):
        target = by_instance.get(instance)
        if target is None:
            verdict, reason = "failed", "not a target of Prometheus"
        elif target["health"] == "up":
            verdict, reason = "passed", "scraped"
        elif target["health"] in (None, "unknown"):
            verdict, reason = "failed", "not scraped yet after %.0f s" % float(params["wait"])
        else:
            verdict, reason = "failed", "scrape %s: %s" % (target["health"], target["last_error"] or "no error given")
        exporters.append({"host": host, "instance": instance, "status": verdict, "reason": reason,
                          "last_scrape": (target or {}).get("last_scrape")})
    data, error = _data(fetch, base + "/api/v1/alerts", timeout)
    if error:
        return {"failed": True, "changed": False, "msg": "Prometheus did not answer: %s" % error,
                "exporters": exporters}
    firing = []
    for alert in (data or {}).get("alerts") or []:
        if alert.get("state") != "firing":
            continue
        labels = dict(alert.get("labels") or {})
        firing.append({"alertname": labels.pop("alertname", "?"), "labels": labels,
                       "summary": (alert.get("annotations") or {}).get("summary"),
                       "active_at": alert.get("activeAt")})
    firing.sort(key=lambda a: (a["alertname"], sorted(a["labels"].items())))
    return {"changed": False, "url": base, "exporters": exporters, "firing": firing,
            "targets": targets,
            "ok": all(e["status"] == "passed" for e in exporters) and not firing}


def run(module: Any) -> Dict[str, Any]:
    """Everything prometheus_check does for ``module.params``."""
    return check(module.params)
