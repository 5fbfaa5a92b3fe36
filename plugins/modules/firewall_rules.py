#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_rules
short_description: Decide the firewalld rich rules of a host's cross-host ports, and which to close
version_added: "0.1.0"
description:
  - Renders each opening of the plan (a published port and the peer that consumes it) as the
    exact firewalld rich rule that admits the port on the host's LAN address from that peer
    only.
  - Reads the rules the last run opened from O(state_file) and returns, by exact rule, those
    the plan no longer wants; a port whose consumer changed therefore has its old rule closed.
  - Changes nothing on the host. The rules are applied with M(ansible.posix.firewalld) and the
    returned RV(state_text) is written to O(state_file) once they are, so that a failed run
    keeps the old state and closes the same rules on the next one.
  - O(state_file) may hold the older format, a list of openings without their rules; their
    rules are rendered again with O(lan_address).
extends_documentation_fragment:
  - ai_system.containers.openings
  - ai_system.containers.openings.lan_address
options:
  state_file:
    description: JSON file that lists the rules the last run opened; missing on a first run.
    type: path
    required: true
attributes:
  check_mode:
    description: Only reads; runs the same in check mode.
    support: full
  diff_mode:
    description: The rules are applied by other tasks, which show their own changes.
    support: none
  platform:
    description: Hosts that run firewalld.
    support: full
    platforms: posix
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Decide which rich rules to open and which to close
  ai_system.containers.firewall_rules:
    openings: "{{ stack_host_plan.firewall }}"
    lan_address: "{{ stack_host_plan.lan_address }}"
    state_file: /etc/ai-system/firewalld-rules.json
  register: rules

- name: Admit each published port from its peer only
  ansible.posix.firewalld:
    rich_rule: "{{ item.rule }}"
    permanent: true
    immediate: true
    state: enabled
  loop: "{{ rules.open }}"
  loop_control:
    label: "{{ item.label }}"

- name: Close the rules that are no longer wanted
  ansible.posix.firewalld:
    rich_rule: "{{ item.rule }}"
    permanent: true
    immediate: true
    state: disabled
  loop: "{{ rules.close }}"
  loop_control:
    label: "{{ item.label }}"

- name: Remember the rules that are open
  ansible.builtin.copy:
    content: "{{ rules.state_text }}"
    dest: /etc/ai-system/firewalld-rules.json
    mode: "0644"
"""

RETURN = r"""
open:
  description: Every wanted rule, in the plan's order; enabling one that is there changes nothing.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: The exact rich rule.
      type: str
      sample: 'rule family="ipv4" source address="10.0.0.16" destination address="10.0.0.17"
               port port="7140" protocol="tcp" accept'
    label:
      description: Its short name for the task output - port, peer and agent.
      type: str
      sample: 7140 <- mainpc (Memory)
  sample: [{rule: 'rule family="ipv4" source address="10.0.0.16" destination address="10.0.0.17"
             port port="7140" protocol="tcp" accept', label: 7140 <- mainpc (Memory)}]
close:
  description: Rules the last run opened that are no longer wanted.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: The exact rich rule.
      type: str
      sample: 'rule family="ipv4" source address="10.0.0.16" destination address="10.0.0.17"
               port port="7140" protocol="tcp" accept'
    label:
      description: Its short name for the task output - port, peer and agent.
      type: str
      sample: 7140 <- mainpc (Memory)
  sample: [{rule: 'rule family="ipv4" source address="10.0.0.18" destination address="10.0.0.17"
             port port="7140" protocol="tcp" accept', label: 7140 <- oldpc (Memory)}]
added:
  description: The wanted rules that the last run had not opened.
  returned: always
  type: list
  elements: str
  sample: ['rule family="ipv4" source address="10.0.0.16" destination address="10.0.0.17"
            port port="7140" protocol="tcp" accept']
state:
  description: The entries O(state_file) keeps from now on, each opening with its exact rule.
  returned: always
  type: list
  elements: dict
  sample: [{port: 7140, proto: tcp, source: 10.0.0.16, source_host: mainpc, group: store,
            agent: Memory, rule: 'rule family="ipv4" source address="10.0.0.16"
            destination address="10.0.0.17" port port="7140" protocol="tcp" accept'}]
state_text:
  description: RV(state) as the text to write to O(state_file).
  returned: always
  type: str
  sample: "[\n    {\n        \"agent\": \"Memory\",\n ...    }\n]\n"
state_file_format:
  description: What O(state_file) held - V(none) (missing), V(openings) (the older format) or V(rules).
  returned: always
  type: str
  sample: rules
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.ai_system.containers.plugins.module_utils.host.firewall_spec import OPENINGS_SPEC
from ansible_collections.ai_system.containers.plugins.module_utils.host.rich_rules import (
    firewall_diff, parse_state, state_text,
)


def _read_state(module, path, lan_address):
    """(entries, format) of the state file; fails naming the file when it is unreadable."""
    if not os.path.exists(path):
        return [], "none"
    try:
        with open(path, "rb") as handle:
            return parse_state(to_text(handle.read(), errors="surrogate_or_strict"), lan_address)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="firewall state file %s cannot be read: %s; it lists the rich rules "
                         "the last run opened: repair or remove it (and close those rules by hand)"
                         % (path, to_text(exc)))


def decide_rules(module):
    p = module.params
    previous, fmt = _read_state(module, p["state_file"], p["lan_address"])
    result = firewall_diff(p["openings"], p["lan_address"], previous)
    result.update(changed=False, state_text=state_text(result["state"]), state_file_format=fmt)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(OPENINGS_SPEC, state_file={"type": "path", "required": True}),
        supports_check_mode=True,
    )
    module.exit_json(**decide_rules(module))


if __name__ == "__main__":
    main()
