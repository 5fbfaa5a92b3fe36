# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every verify check, described once: :data:`VERIFY_CHECKS`.

A :class:`VerifyCheck` holds everything that wires a check through verify:

* ``name``: its one name, the option and the result key of ``host_checks``
  and the key of a host's results that its report classes read;
* ``module``, ``argument_spec``, ``run`` (with ``mutually_exclusive``,
  ``required_one_of`` and ``check_mode``): the module that runs it alone and
  the module_utils part that ``host_checks`` runs in its own thread;
* ``options(plan, settings)``: its module's options on a host with that plan
  (``stack_plan``'s plan of the host, mostly its ``checks``), ``None`` when
  the host has nothing to check; ``settings`` are the verify playbook's
  (:data:`SETTINGS_SPEC`);
* ``tag``: the tag that selects it in ``playbooks/verify.yml``
  (``verify_<name>`` unless it says otherwise);
* ``report``: its report classes (a view of ``report_views`` and a judge of
  ``report_judging`` together), in the order of the report.

``host_checks`` (module_utils, module and action), the report
(``report_checks.build_report`` and the renderers), ``playbooks/verify.yml``
(through the ``verify_checks`` lookup and the ``host_checks`` action) and
``bench/verify_scale.py`` all derive from :data:`VERIFY_CHECKS`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.host import nft_run
from ansible_collections.ai_system.containers.plugins.module_utils.verify import cuda_run, gpu_run, prometheus_run, unit_health_run, zmq_run
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_judging import (
    CudaJudge, FirewallJudge, GpuJudge, MonitoringJudge, UnitsJudge,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_views import (
    CudaView, FirewallView, GpuView, HealthSocketsView, LinksView, MonitoringView, ReportCheck, UnitsView,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_zmq_judging import (
    HealthSocketsJudge, LinksJudge,
)

#: A module's options on one host, or None: nothing to check there.
Options = Optional[Dict[str, Any]]

#: The verify playbook's settings that the checks' options read.
SETTINGS_SPEC: Dict[str, Any] = {
    # A lab host stands in a CDI device for the GPU: no driver, CUDA skipped.
    "lab": {"type": "bool", "default": False},
    "zmq_timeout": {"type": "float", "default": 3.0},
    "zmq_concurrency": {"type": "int", "default": 8},
    # stack_firewall_backend: none leaves the firewall unchecked.
    "firewall_backend": {"type": "str", "default": "auto"},
    "prometheus_user": {"type": "str", "default": ""},
    "prometheus_password": {"type": "str", "default": "", "no_log": True},
}


def _nothing(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> Options:
    return None


class VerifyCheck(NamedTuple):
    """One verify check (see the module's docstring)."""

    name: str
    module: str
    argument_spec: Mapping[str, Any]
    #: run(view) -> the module's result (``failed`` and ``msg`` when it fails).
    run: Callable[[Any], Dict[str, Any]]
    options: Callable[[Mapping[str, Any], Mapping[str, Any]], Options] = _nothing
    report: Tuple[type, ...] = ()
    tag: str = ""
    mutually_exclusive: Sequence[Sequence[str]] = ()
    required_one_of: Sequence[Sequence[str]] = ()
    #: True: always run in check mode (read-only), whatever the task's mode.
    check_mode: Optional[bool] = None
    #: Its report reads whether the host is a WSL2 host (verify reads it when the check runs).
    reads_wsl: bool = False

    @property
    def phase_tag(self) -> str:
        """The tag that selects the check in playbooks/verify.yml."""
        return self.tag or "verify_" + self.name


def _checks(plan: Mapping[str, Any]) -> Mapping[str, Any]:
    return plan.get("checks") or {}


def gpu_options(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> Options:
    gpu = plan.get("gpu") or {}
    if not gpu.get("required") and gpu.get("model") is None:
        return None
    return {"required": False, "vram_budgets": gpu.get("vram_budgets") or None,
            "vram_reserve_mib": gpu.get("vram_reserve_mib")}


def cuda_options(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> Options:
    checks = _checks(plan)
    if not checks.get("cuda"):
        return None
    return {"containers": checks["cuda"], "lab": settings["lab"], "daemon_reload": False,
            "budgets": checks.get("cuda_budgets"), "mps": checks.get("vram_enforced")}


def units_options(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> Options:
    units = _checks(plan).get("units")
    return {"units": units, "fail_on_error": False} if units else None


def zmq_options(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> Options:
    containers = _checks(plan).get("zmq")
    if not containers:
        return None
    return {"containers": containers, "concurrency": settings["zmq_concurrency"],
            "timeout": settings["zmq_timeout"], "fail_on_error": False}


def firewall_options(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> Options:
    if settings["firewall_backend"] == "none":
        return None
    network = plan.get("network") or {}
    return {"lan_address": plan.get("lan_address"), "subnet": network.get("subnet"),
            "network": network.get("name"), "openings": plan.get("firewall")}


def prometheus_options(plan: Mapping[str, Any], settings: Mapping[str, Any]) -> Options:
    monitoring = plan.get("monitoring") or {}
    if not monitoring.get("prometheus"):
        return None
    return {"url": monitoring.get("prometheus_url"), "url_username": settings["prometheus_user"],
            "url_password": settings["prometheus_password"], "exporters": monitoring.get("scrape_targets")}


# The report classes: a view and a judge each.

class GpuCheck(GpuView, GpuJudge):
    """``gpu_facts``: a usable driver, the planned GPU model and VRAM budgets that fit."""


class CudaCheck(CudaView, CudaJudge):
    """``cuda_check``: a CUDA kernel ran in every GPU container, VRAM budgets enforced."""


class UnitsCheck(UnitsView, UnitsJudge):
    """``unit_health``: every group's unit active, its container running and healthy."""


class LinksCheck(LinksView, LinksJudge):
    """``zmq_check`` in each consuming container: every agent a group ``connects_to`` answers."""


class HealthSocketsCheck(HealthSocketsView, HealthSocketsJudge):
    """``zmq_check`` in each container: every agent's own health socket answers healthy."""


class FirewallCheck(FirewallView, FirewallJudge):
    """``nft_table`` in check mode: the host's nftables table is loaded as the plan wants it."""


class MonitoringCheck(MonitoringView, MonitoringJudge):
    """``prometheus_check`` on the Prometheus host: every exporter scraped, no alert firing."""


#: Every verify check, in the order of host_checks' results and of the report.
VERIFY_CHECKS: Tuple[VerifyCheck, ...] = (
    VerifyCheck("gpu", "gpu_facts", gpu_run.ARGUMENT_SPEC, gpu_run.run, gpu_options, (GpuCheck,)),
    VerifyCheck("cuda", "cuda_check", cuda_run.ARGUMENT_SPEC, cuda_run.run, cuda_options, (CudaCheck,)),
    VerifyCheck("units", "unit_health", unit_health_run.ARGUMENT_SPEC, unit_health_run.run, units_options,
                (UnitsCheck,)),
    VerifyCheck("zmq", "zmq_check", zmq_run.ARGUMENT_SPEC, zmq_run.run, zmq_options,
                (LinksCheck, HealthSocketsCheck), tag="verify_links",
                mutually_exclusive=zmq_run.MUTUALLY_EXCLUSIVE, required_one_of=zmq_run.REQUIRED_ONE_OF,
                reads_wsl=True),
    # Compares the loaded table and its file with the plan; never writes nor loads.
    VerifyCheck("firewall", "nft_table", nft_run.ARGUMENT_SPEC, nft_run.run, firewall_options,
                (FirewallCheck,), check_mode=True, reads_wsl=True),
    # On the Prometheus host: its targets and alerts (reads its HTTP API only).
    VerifyCheck("prometheus", "prometheus_check", prometheus_run.ARGUMENT_SPEC, prometheus_run.run,
                prometheus_options, (MonitoringCheck,), tag="verify_monitoring"),
)

#: The report's checks, one object per report class, in the order of the report.
REPORT_CHECKS: Tuple[ReportCheck, ...] = tuple(cls() for check in VERIFY_CHECKS for cls in check.report)


def phase_tags(checks: Sequence[VerifyCheck] = VERIFY_CHECKS) -> list:
    """The tags that select the checks, in order."""
    return [check.phase_tag for check in checks]


def check_options(plan: Mapping[str, Any], phases: Sequence[str], settings: Mapping[str, Any],
                  checks: Sequence[VerifyCheck] = VERIFY_CHECKS) -> Dict[str, Options]:
    """Each check's options on the host of ``plan`` (name -> options), None
    for a check whose tag is not in ``phases`` or that has nothing to check.
    ``settings`` hold every key of :data:`SETTINGS_SPEC`."""
    return dict((check.name, check.options(plan, settings) if check.phase_tag in phases else None)
                for check in checks)


def check_results(given: Mapping[str, Options], result: Mapping[str, Any],
                  checks: Sequence[VerifyCheck] = VERIFY_CHECKS) -> Dict[str, Optional[Mapping[str, Any]]]:
    """Each check's result (name -> result) from host_checks' ``result``
    for the options ``given``: its own result; when the call returned none
    at all (the module could not run), the call's failure for each check
    given; None for a check not given."""
    out: Dict[str, Optional[Mapping[str, Any]]] = {}
    for check in checks:
        if "checks_run" in result:
            out[check.name] = result.get(check.name)
        elif "msg" in result and given.get(check.name) is not None:
            out[check.name] = dict(result)
        else:
            out[check.name] = None
    return out
