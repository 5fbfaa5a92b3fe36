# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack plan: every host's inventory in, every host's files out.

Pure Python, no Ansible imports. :func:`plan_stack` validates the whole
topology (all problems at once) and, when it is sound, returns per host the
Quadlet files, the endpoint map each group receives, the ports to publish and
the firewall openings, the secrets needed and the checks ``verify`` runs.

A host's plan is a :class:`plan_contract.HostPlan`, a tree of frozen
dataclasses, rendered by ``host_render.py``; its ``as_dict()`` is the plain
JSON data the roles and playbooks read, and :func:`build_plan` returns the
whole plan that way. :func:`with_monitoring` adds the exporter and
Prometheus to a host's plan.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.monitoring import stack_monitoring
from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.plan.host_render import HostRenderer
from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    FirewallOpening, HostPlan, ImageUse, Json, MonitoringPlan, UnitCheck, UnitPlan, plain_data,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.model_load import (
    check_contract, load_hosts,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import Host, Problem
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_rules import (
    Link, check_all, gpu_warnings,
)


@dataclass(frozen=True)
class StackPlan:
    """The whole stack: the inventory's problems, or every host's plan."""

    problems: Tuple[Problem, ...]
    warnings: Tuple[str, ...]
    hosts: Mapping[str, HostPlan]  # empty when there is any problem

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> Dict[str, Json]:
        return {
            "ok": self.ok,
            "errors": [str(p) for p in self.problems],
            "problems": [p.as_dict() for p in self.problems],
            "warnings": list(self.warnings),
            "hosts": {name: plan.as_dict() for name, plan in self.hosts.items()},
        }


def plan_stack(all_hostvars: Mapping[str, Mapping[str, Any]]) -> StackPlan:
    """Validate every host and, when sound, render every host's plan.

    Nothing is rendered from an inventory that is wrong: ``hosts`` is empty
    when there is any problem."""
    return plan_with_model(all_hostvars)[0]


def plan_with_model(all_hostvars: Mapping[str, Mapping[str, Any]]
                    ) -> Tuple[StackPlan, Dict[str, Host], List[Link]]:
    """:func:`plan_stack`, with the normalized hosts and the links between
    groups it was made from (for outputs other than Quadlet, such as the
    Kubernetes manifests)."""
    hosts, problems = load_hosts(all_hostvars)
    links = check_all(hosts, problems)
    check_contract(hosts, problems)
    monitoring = stack_monitoring.parse_monitoring(all_hostvars, problems)
    if monitoring is not None:
        stack_monitoring.check_monitoring(monitoring, hosts, problems)
    warnings = tuple(w for h in sorted(hosts) for w in gpu_warnings(hosts[h]))
    if problems:
        return (StackPlan(problems=tuple(problems.items), warnings=warnings,
                          hosts=MappingProxyType({})), hosts, links)
    consumed: Dict[str, List[Link]] = {name: [] for name in hosts}
    provided: Dict[str, List[Link]] = {name: [] for name in hosts}
    for lk in links:
        consumed[lk.consumer_host].append(lk)
        provided[lk.host].append(lk)
    rendered = {name: HostRenderer(hosts[name], hosts, consumed[name], provided[name]).render()
                for name in sorted(hosts)}
    if monitoring is not None:
        rendered = {name: with_monitoring(plan, monitoring, hosts) for name, plan in rendered.items()}
    return (StackPlan(problems=(), warnings=warnings, hosts=MappingProxyType(rendered)),
            hosts, links)


def with_monitoring(plan: HostPlan, mon: "stack_monitoring.Monitoring",
                    hosts: Mapping[str, Host]) -> HostPlan:
    """``plan`` with the host's exporter and, on the Prometheus host, Prometheus:
    their files, the exporter port opened to the Prometheus host only."""
    host = hosts[plan.host]
    digest = stack_monitoring.plan_hash({"quadlet": dict(plan.quadlet), "config": dict(plan.config)})
    quadlet_files = dict(plan.quadlet)
    config = dict(plan.config)
    on_prometheus = plan.host == mon.host
    gpus = host.gpu.count if host.gpu else 0

    prometheus_service = None
    units, order = plan.units, plan.start_order
    if on_prometheus:
        quadlet_files.update(stack_monitoring.prometheus_files(mon, host))
        config[stack_monitoring.PROMETHEUS_CONFIG] = stack_monitoring.prometheus_document(mon, hosts)
        if mon.viewers:
            config[stack_monitoring.WEB_CONFIG] = stack_monitoring.web_document(mon)
        unit_file = stack_monitoring.container_file_name(host)
        prometheus_service = quadlet.service_name(unit_file)
        # A unit of the plan like the groups': stack_units starts it, restarts
        # it when its configuration or rules change, and verify checks it.
        units += (UnitPlan(
            group=stack_monitoring.UNIT_GROUP, unit_file=unit_file, service=prometheus_service,
            container=stack_monitoring.CONTAINER_NAME, image=mon.image, build=False, depends_on=(),
            gpu=False, cdi_devices=(), vram_mib=None, secrets=(),
            config_files=(stack_monitoring.PROMETHEUS_CONFIG, stack_monitoring.RULES_FILE)
            + ((stack_monitoring.WEB_CONFIG,) if mon.viewers else ()),
            restart_on_change=(), healthcheck=False, agents=()),)
        order += (stack_monitoring.UNIT_GROUP,)
    openings = tuple(FirewallOpening(**o) for o in
                     stack_monitoring.firewall_openings(mon, hosts)[plan.host])
    images = plan.images
    if on_prometheus and mon.image not in {i.image for i in images}:
        images = tuple(sorted(images + (ImageUse(image=mon.image, groups=("prometheus",)),),
                              key=lambda i: i.image))
    monitoring = MonitoringPlan(
        exporter_port=mon.exporter_port,
        exporter_service=stack_monitoring.EXPORTER_SERVICE,
        exporter_config=stack_monitoring.EXPORTER_CONFIG,
        plan_hash=digest,
        prometheus=on_prometheus,
        prometheus_host=mon.host,
        prometheus_address=hosts[mon.host].lan_address,
        prometheus_port=mon.port,
        prometheus_image=mon.image,
        prometheus_service=prometheus_service,
        prometheus_config=stack_monitoring.PROMETHEUS_CONFIG if on_prometheus else None,
        rules_file=stack_monitoring.RULES_FILE if on_prometheus else None,
        scrape_targets=tuple("%s=%s:%d" % (h, hosts[h].lan_address, mon.exporter_port)
                             for h in sorted(hosts)),
        prometheus_url="%s://%s:%d" % ("https" if mon.viewers else "http",
                                       stack_monitoring.listen_address(mon, hosts[mon.host]),
                                       mon.port),
        prometheus_viewers=mon.viewers,
    )
    checks = dataclasses.replace(plan.checks, units=tuple(
        UnitCheck(service=u.service, container=u.container, healthcheck=u.healthcheck) for u in units))
    plan = dataclasses.replace(plan, units=units, start_order=order, checks=checks)
    # The exporter watches every unit of the host, Prometheus's too.
    config[stack_monitoring.EXPORTER_CONFIG] = json.dumps(
        stack_monitoring.exporter_document(mon, plain_data(plan), digest, gpus),
        indent=2, sort_keys=True) + "\n"
    return dataclasses.replace(plan, quadlet=MappingProxyType(quadlet_files),
                               config=MappingProxyType(config),
                               firewall=plan.firewall + openings, images=images,
                               monitoring=monitoring)


def build_plan(all_hostvars: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """:func:`plan_stack` as plain data, for Ansible.

    Returns ``{"ok": bool, "errors": [text], "problems": [dict],
    "warnings": [text], "hosts": {name: host plan dict}}``.
    """
    return plan_stack(all_hostvars).as_dict()
