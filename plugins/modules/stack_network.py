#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_network
short_description: Make the host's container network have the plan's subnet
version_added: "0.1.0"
description:
  - Reads the real IPv4 subnets of the Podman network O(name) (C(podman network inspect)).
    Quadlet creates the network with C(--ignore), which keeps an existing network as it is,
    so a network left from before, or one made before the plan's subnet changed, would keep
    the containers on a subnet the firewall table does not guard.
  - Where the network does not exist, or has exactly O(subnet), nothing changes.
  - Otherwise it stops the units of O(services) whose containers are attached to the network,
    removes the network, runs C(systemctl daemon-reload) and restarts O(network_service)
    (Quadlet's unit, which creates the network with the plan's subnet), and checks the new
    subnet. The stack role starts the stopped units again in the same run.
  - A container attached to the network that no unit of O(services) runs (or that lacks the
    plan's label) is never stopped; the module fails naming it and what to do.
  - Commands run with C(LANG=C).
options:
  name:
    description: The Podman network (C(network.name) of the plan).
    type: str
    required: true
  subnet:
    description: The plan's subnet (C(network.subnet)).
    type: str
    required: true
  network_service:
    description: Quadlet's service for the network's unit file (e.g. C(ai-system-network.service)).
    type: str
    required: true
  services:
    description: The services of the plan's units; only their containers may be stopped.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reads the network and its containers and says whether it would be recreated.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  platform:
    description: Hosts with Podman and systemd.
    support: full
    platforms: posix
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Make the container network have the plan's subnet
  ai_system.containers.stack_network:
    name: "{{ plan.network.name }}"
    subnet: "{{ plan.network.subnet }}"
    network_service: ai-system-network.service
    services: "{{ plan.units | map(attribute='service') | list }}"
"""

RETURN = r"""
network:
  description: The network's name.
  returned: always
  type: str
  sample: ai-system
subnets_before:
  description: Its IPv4 subnets when the module started; V(null) when it did not exist.
  returned: success
  type: list
  elements: str
  sample: ["10.89.7.0/24"]
subnets:
  description: Its IPv4 subnets when the module ended (in check mode, what they would be).
  returned: success
  type: list
  elements: str
  sample: ["172.20.0.0/16"]
stopped:
  description: The services stopped to recreate the network.
  returned: success
  type: list
  elements: str
  sample: ["ai-core.service"]
msg:
  description: One sentence on what was found and done.
  returned: always
  type: str
  sample: network ai-system has the plan's subnet 172.20.0.0/16
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish
from ansible_collections.ai_system.containers.plugins.module_utils.host.network_run import ARGUMENT_SPEC, run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
