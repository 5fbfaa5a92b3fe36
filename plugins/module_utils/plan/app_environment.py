# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the application in each group's containers reads: its environment
(the application contract's variables, the plan's own, one ``AI_ENDPOINT_*``
URL per consumed agent) and its endpoint map (``endpoints.json``). The
Quadlet units (host_render) and the Kubernetes manifests give the same.

Pure Python, no Ansible imports.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Mapping, Optional, Sequence

from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    CONTAINER_CONFIG, Group, Host,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_rules import Link


def env_name(agent: str) -> str:
    """MemoryOrchestratorService -> AI_ENDPOINT_MEMORY_ORCHESTRATOR_SERVICE."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", agent)
    return "AI_ENDPOINT_" + snake.upper()


def contract_environment(host: Host, hosts: Mapping[str, Host],
                         addresses: bool = True) -> Dict[str, str]:
    """What the application reads from its environment to find the hosts:
    each ai_host_address_env variable with its host's LAN address (unless
    ``addresses`` is false), and BIND_ADDRESS (ai_bind_address)."""
    env = {var: hosts[target].lan_address for var, target in host.address_env
           if target in hosts and addresses}
    if host.bind_address:
        env["BIND_ADDRESS"] = host.bind_address
    return env


def group_environment(group: Group, host: str,
                      endpoints: Mapping[str, Mapping[str, Any]],
                      contract: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment every container of a group gets: the inventory's env,
    the application's contract (CONTAINER_GROUP, the hosts' addresses,
    BIND_ADDRESS), the plan's own variables and one AI_ENDPOINT_* URL per
    consumed agent."""
    env = dict(group.env)
    env.update(contract or {})
    env.update({
        "CONTAINER_GROUP": group.app_group or group.name,
        "AI_SYSTEM_GROUP": group.name,
        "AI_SYSTEM_HOST": host,
        "AI_SYSTEM_CONFIG": CONTAINER_CONFIG,
        "AI_SYSTEM_AGENTS": ",".join(
            "%s:%d:%s" % (a.name, a.port, a.health_port or "")
            for a in sorted(group.agents.values(), key=lambda a: a.name)),
    })
    for aname, endpoint in endpoints.items():
        env[env_name(aname)] = endpoint["url"]
    if group.gpu:
        env["NVIDIA_DRIVER_CAPABILITIES"] = ",".join(group.gpu.capabilities)
    return env


def endpoint_document(group: Group, host: str, links: Sequence[Link],
                      endpoints: Mapping[str, Mapping[str, Any]]) -> str:
    """A group's endpoint map (endpoints.json): its own agents with their
    health ports and policies (what the health probe reads) and where each
    agent it connects to is reached."""
    doc = {
        "group": group.name,
        "host": host,
        "agents": {a.name: {"port": a.port, "health_port": a.health_port,
                            "socket": a.socket, "health_policy": a.policy.as_dict()}
                   for a in sorted(group.agents.values(), key=lambda a: a.name)},
        "connects_to": sorted(lk.agent.name for lk in links),
        "endpoints": dict(endpoints),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
