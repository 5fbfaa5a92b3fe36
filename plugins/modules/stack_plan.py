#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_plan
short_description: Validate the whole two-host topology and plan every host's units
version_added: "0.1.0"
description:
  - Runs on the controller (an action plugin) and reads the C(ai_*) inventory variables
    of every AI host at once, because cross-host links, port clashes and duplicate names
    are only visible that way.
  - Reports B(all) problems of the inventory in one run, each naming host, group, agent
    and field and saying what to do, and fails before any host is touched.
  - When the inventory is sound, returns per host the Quadlet files (network, containers,
    volumes, builds), the endpoint map each group receives, the ports to publish (bound to
    the LAN address) and the firewall openings (port from the peer's address only), the
    secrets needed, the start order and the checks that verification runs.
  - Secret values are never read; only the names of C(ai_secrets) entries are used.
extends_documentation_fragment:
  - ai_system.containers.plan_hosts
attributes:
  check_mode:
    description: Reads the inventory only, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is no diff.
    support: none
  platform:
    description: Runs on the controller.
    support: full
    platforms: posix
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
author:
  - ai_system.containers maintainers (@ai-system)
notes:
  - The inventory format is documented in C(docs/inventory.md) of the collection.
seealso:
  - module: ai_system.containers.file_set
  - module: ai_system.containers.unit_health
  - module: ai_system.containers.zmq_check
"""

EXAMPLES = r"""
- name: Validate and plan every AI host once, on the controller
  ai_system.containers.stack_plan:
  run_once: true
  register: stack

- name: Show this host's start order
  ansible.builtin.debug:
    var: stack.plan[inventory_hostname].start_order
"""

RETURN = r"""
plan:
  description:
    - Per host name, that host's plan. Empty when the inventory has problems.
    - C(checks.units) is the O(ai_system.containers.unit_health#module:units) option of
      M(ai_system.containers.unit_health) as it is; each C(checks.zmq) entry is one run of
      M(ai_system.containers.zmq_check), its O(ai_system.containers.zmq_check#module:container) and
      O(ai_system.containers.zmq_check#module:endpoints) options.
    - C(start_wait) is how many seconds the groups may take to become healthy - the longest chain of
      C(depends_on), each unit with its own C(TimeoutStartSec).
    - With C(ai_network_mode=pod) the first unit is the host's pod unit (group C(pod)), whose
      network namespace every group joins; a C(checks.links) entry's C(note) says why a link
      the application makes to localhost cannot work on a host in per-group mode.
  returned: always
  type: dict
  sample:
    pc2:
      host: pc2
      lan_address: 192.168.100.17
      quadlet: {"ai-pc2-redis.container": "[Unit]\n..."}
      config: {"groups/pc2-redis/endpoints.json": "{...}"}
      units: [{group: pc2-redis, service: ai-pc2-redis.service, depends_on: []}]
      start_order: [pc2-core-infrastructure, pc2-redis]
      published: [{group: pc2-memory-system, agent: MemoryOrchestratorService, port: 7140,
                   address: 192.168.100.17, consumers: [mainpc/memory-system]}]
      firewall: [{port: 7140, proto: tcp, source: 192.168.100.16, source_host: mainpc}]
      secrets: [ai_auth_signing_key]
      gpu: {required: true, cdi_devices: ["nvidia.com/gpu=0"], vram_budgets: {pc2-ai-models: 10240}}
      checks:
        links: [{name: SystemDigitalTwin, from_group: pc2-memory-system, container: pc2-memory-system,
                 to_host: mainpc, to_group: core-services, address: 192.168.100.16, port: 7120,
                 kind: main, cross_host: true, policy: {request: {action: health_check}},
                 strict: false, request: null, note: ""}]
        health: [{name: CacheManager, group: pc2-memory-system, container: pc2-memory-system,
                  address: 127.0.0.1, port: 8102, kind: health, policy: {request: {action: health_check}}}]
        cuda: [pc2-ai-models]
        units: [{service: ai-pc2-redis.service, container: pc2-redis}]
        zmq: [{container: pc2-memory-system,
               endpoints: [{name: SystemDigitalTwin, address: 192.168.100.16, port: 7120, kind: main,
                            group: mainpc/core-services, policy: {request: {action: health_check}},
                            strict: false}]}]
      summary: ["pc2 (192.168.100.17): 6 groups, network ai-system 172.21.0.0/16"]
      start_wait: 1380
errors:
  description: Every problem found, as one line of text each.
  returned: always
  type: list
  elements: str
  sample:
    - "host pc2, group pc2-ai-models, agent TieredResponder, field health_port: port 8131 is
      claimed by both: pc2-ai-models/TieredResponder health_port and pc2-user-services/TutoringAgent
      health_port -- give all but one of them a free port in host_vars/pc2/groups.yml"
problems:
  description: The same problems as structured data.
  returned: always
  type: list
  elements: dict
  sample: [{host: pc2, group: pc2-ai-models, agent: TieredResponder, field: health_port,
            message: "port 8131 is claimed by both: ...", fix: "give all but one ...", text: "..."}]
warnings:
  description: Things that are allowed but probably not meant, such as GPU groups sharing a GPU
    without VRAM budgets.
  returned: always
  type: list
  elements: str
  sample: []
"""
