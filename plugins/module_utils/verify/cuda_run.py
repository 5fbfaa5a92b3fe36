# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cuda_check module does, as functions that return its result.

The module ai_system.containers.cuda_check is a thin wrapper around :func:`run`;
ai_system.containers.host_checks calls :func:`run` too, for its ``cuda`` check.
The probe is cuda_probe's, the verdicts cuda_verdict's.
"""

from __future__ import annotations

import time

from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_probe
from ansible_collections.ai_system.containers.plugins.module_utils.verify.cuda_verdict import (
    container_result, merge_after_reload, summarize,
)
from ansible_collections.ai_system.containers.plugins.module_utils.host.unit_state import name_problem

ARGUMENT_SPEC = dict(
    containers=dict(type="list", elements="str", required=True),
    podman_path=dict(type="str", default="podman"),
    python=dict(type="str", default="python3"),
    timeout=dict(type="int", default=120),
    expect_gpus=dict(type="int"),
    kernel_elements=dict(type="int", default=cuda_probe.DEFAULT_ELEMENTS),
    require_injected=dict(type="bool", default=True),
    daemon_reload=dict(type="bool", default=False),
    settle_seconds=dict(type="int", default=2),
    lab=dict(type="bool", default=False),
    fail_on_skip=dict(type="bool", default=False),
    budgets=dict(type="dict", default={}),
    mps=dict(type="bool", default=False),
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
# `timeout` gives the probe this much longer than its own deadline.
KILL_GRACE = 5


def validate(params):
    """The first problem with the options, or None."""
    if not [c for c in params["containers"] if c and c.strip()]:
        return "containers must name at least one container"
    if any(not (c and c.strip()) for c in params["containers"]):
        return "containers must not contain empty names"
    for position, container in enumerate(params["containers"]):
        problem = name_problem("containers[%d]" % position, container, "container")
        if problem:
            return problem
    problem = name_problem("python", params["python"], "program")
    if problem:
        return problem
    if params["timeout"] < 1:
        return "timeout must be at least 1 second, got %d" % params["timeout"]
    if params["kernel_elements"] < 1:
        return "kernel_elements must be at least 1, got %d" % params["kernel_elements"]
    if params.get("expect_gpus") is not None and params["expect_gpus"] < 0:
        return "expect_gpus must not be negative, got %d" % params["expect_gpus"]
    if params["settle_seconds"] < 0:
        return "settle_seconds must not be negative, got %d" % params["settle_seconds"]
    budgets = params.get("budgets") or {}
    for container, mib in sorted(budgets.items()):
        if container not in params["containers"]:
            return "budgets names %r, which is not in containers" % (container,)
        if isinstance(mib, bool) or not isinstance(mib, int) or mib < 1:
            return "budgets[%r] must be a whole number of MiB above 0, got %r" % (container, mib)
    if params.get("mps") and not budgets:
        return "mps is true but budgets is empty: MPS enforces the containers' budgets"
    return None


def find_binaries(params, which):
    """(binaries, error): podman, timeout and, for daemon_reload, systemctl."""
    wanted = [("podman", params["podman_path"]), ("timeout", "timeout")]
    if params["daemon_reload"]:
        wanted.append(("systemctl", "systemctl"))
    found = {}
    for key, name in wanted:
        path = which(name)
        if not path:
            return found, "%s executable not found (looked for %r in PATH)" % (key, name)
        found[key] = path
    return found, None


def probe_argv(bins, container, params):
    argv = [
        bins["timeout"], "--kill-after=%d" % KILL_GRACE, str(params["timeout"] + KILL_GRACE),
        bins["podman"], "exec", "-i", "--", container, params["python"], "-",
        "--compact", "--elements", str(params["kernel_elements"]), "--deadline", str(params["timeout"]),
    ]
    if params["require_injected"]:
        argv.append("--require-injected")
    if params["lab"]:
        argv.append("--lab")
    budget = (params.get("budgets") or {}).get(container)
    if budget is not None:
        argv.extend(["--budget-mib", str(budget)])
        if params.get("mps"):
            argv.append("--mps")
    return argv


def check_containers(containers, runner, bins, params, source):
    results = []
    for container in containers:
        rc, stdout, stderr = runner(probe_argv(bins, container, params), source)
        results.append(container_result(container, rc, stdout, stderr, params["timeout"], python=params["python"],
                                        lab=params["lab"], expect_gpus=params.get("expect_gpus"),
                                        budget_mib=(params.get("budgets") or {}).get(container),
                                        mps=bool(params.get("mps"))))
    return results


def run_check(params, runner, which, check_mode=False, sleep=time.sleep, source=None):
    """Everything cuda_check does: (result, error message or None)."""
    reload_info = {"requested": params["daemon_reload"], "performed": False}
    base = {"results": [], "passed_count": 0, "failed_count": 0, "skipped_count": 0, "daemon_reload": reload_info,
            "msg": ""}
    error = validate(params)
    if error:
        return base, error
    bins, error = find_binaries(params, which)
    if error:
        return base, error
    source = source if source is not None else cuda_probe.probe_source()
    results = check_containers(params["containers"], runner, bins, params, source)
    if params["daemon_reload"] and check_mode:
        reload_info["reason"] = "not run in check mode"
    elif params["daemon_reload"]:
        rc, _out, err = runner([bins["systemctl"], "daemon-reload"], None)
        if rc != 0:
            summary = summarize(results, params["fail_on_skip"])[0]
            error = "systemctl daemon-reload failed (rc %d): %s" % (rc, (err or "").strip() or "no output")
            summary.update(daemon_reload=reload_info, msg=error)
            return summary, error
        reload_info["performed"] = True
        sleep(params["settle_seconds"])
        after = check_containers(params["containers"], runner, bins, params, source)
        results = merge_after_reload(results, after)
    summary, error = summarize(results, params["fail_on_skip"], reload_info["performed"])
    summary["daemon_reload"] = reload_info
    summary.setdefault("msg", error)
    return summary, error


def run(module, params=None, check_mode=None):
    """Everything cuda_check does with an AnsibleModule ``module`` (``params``: the
    module's options, ``module.params`` by default): the result it ends with,
    with ``failed: True`` and ``msg`` when the module fails."""
    params = module.params if params is None else params
    check_mode = module.check_mode if check_mode is None else check_mode

    def runner(argv, data):
        return module.run_command(argv, data=data, binary_data=True, environ_update=C_LOCALE)

    result, error = run_check(params, runner, module.get_bin_path, check_mode=check_mode)
    if error:
        return dict(dict((k, v) for k, v in result.items() if k != "msg"), failed=True, msg=error)
    return dict(result, changed=False)
