# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the unit_health module does, as functions that return its result.

The module ai_system.containers.unit_health is a thin wrapper around :func:`run`;
ai_system.containers.host_checks calls :func:`run` too, for its ``units`` check.
Reading and judging the units is unit_state's.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import (
    Runner,
    judge,
    name_problem,
    read_unit_states,
)

ARGUMENT_SPEC: Dict[str, Any] = dict(
    units=dict(
        type="list",
        elements="dict",
        required=True,
        options=dict(
            service=dict(type="str", required=True),
            container=dict(type="str"),
            healthcheck=dict(type="bool"),
        ),
    ),
    scope=dict(type="str", choices=["system", "user"], default="system"),
    systemctl_path=dict(type="str", default="systemctl"),
    podman_path=dict(type="str", default="podman"),
    fail_on_error=dict(type="bool", default=True),
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
Which = Callable[[str], Optional[str]]


def validate(units: List[Dict[str, Any]]) -> Optional[str]:
    """The first problem with O(units), or None."""
    if not units:
        return "units must name at least one unit"
    seen = set()
    for index, unit in enumerate(units):
        service = (unit.get("service") or "").strip()
        if not service:
            return "units[%d].service must not be empty" % index
        problem = name_problem("units[%d].service" % index, service, "unit")
        if problem:
            return problem
        if service in seen:
            return "unit %s is listed twice" % service
        seen.add(service)
        container = unit.get("container")
        if container is not None:
            problem = name_problem("units[%d].container" % index, container.strip(), "container")
            if problem:
                return problem
    return None


def find_binary(name: str, which: Which, purpose: str) -> Tuple[Optional[str], Optional[str]]:
    """(path, error) of an executable given by name or absolute path."""
    if os.path.isabs(name):
        if os.access(name, os.X_OK):
            return name, None
        return None, "%s is not an executable file (%s)" % (name, purpose)
    path = which(name)
    if not path:
        return None, "%s not found in PATH (%s)" % (name, purpose)
    return path, None


def run_unit_health(params: Dict[str, Any], runner: Runner, which: Which,
                    monotonic: Callable[[], float] = time.monotonic) -> Tuple[Dict[str, Any], Optional[str]]:
    """(result, error) for the module's parameters; error is None on success."""
    empty: Dict[str, Any] = {"changed": False, "units": [], "ok_count": 0, "failed_count": 0, "summary": []}
    units = params["units"] or []
    error = validate(units)
    if error:
        return empty, error
    services = [u["service"].strip() for u in units]
    systemctl, error = find_binary(params["systemctl_path"], which, "unit_health needs systemd")
    if error:
        return empty, error
    pairs = [(service, u["container"].strip() if u.get("container") else None)
             for service, u in zip(services, units)]
    podman = None
    if any(container for dummy, container in pairs):
        podman, error = find_binary(params["podman_path"], which, "needed to read the containers")
        if error:
            return empty, error
    results, error = read_unit_states(runner, systemctl, podman, pairs, user=params["scope"] == "user",
                                      monotonic=monotonic)
    if error:
        return empty, error
    for entry, unit in zip(results, units):
        judgement = judge(entry, expect_health=unit.get("healthcheck"))
        entry["ok"], entry["problem"] = judgement.ok, judgement.problem
    failed = [r for r in results if not r["ok"]]
    return {
        "changed": False,
        "units": results,
        "ok_count": len(results) - len(failed),
        "failed_count": len(failed),
        "summary": ["%s: %s" % (r["service"], r["problem"]) for r in failed],
    }, None


def run(module: Any) -> Dict[str, Any]:
    """Everything unit_health does for an AnsibleModule ``module`` (its ``params``,
    ``run_command`` and ``get_bin_path``): the result it ends with, with
    ``failed: True`` and ``msg`` when the module fails."""

    def runner(argv: List[str]) -> Tuple[int, str, str]:
        return module.run_command(argv, environ_update=C_LOCALE, expand_user_and_vars=False)

    result, error = run_unit_health(module.params, runner, module.get_bin_path)
    if error:
        return {"failed": True, "msg": error, "changed": False}
    if result["failed_count"] and module.params["fail_on_error"]:
        return dict(result, failed=True, msg="\n".join(result["summary"]))
    return dict(result, msg="%d of %d units active and healthy" % (result["ok_count"], len(result["units"])))
