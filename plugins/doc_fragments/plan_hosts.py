# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options that choose the hosts a whole-stack plan covers (stack_plan,
kube_manifests; both read by action/stack_plan.planned_hostvars)."""

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  hosts:
    description:
      - The AI hosts to plan. All of them should be given, even when a play is limited to
        one, since links between hosts need both sides.
      - Defaults to every host of O(inventory_group).
    type: list
    elements: str
  inventory_group:
    description:
      - Inventory group holding the AI hosts, used when O(hosts) is not given.
      - Defaults to the variable C(ai_hosts_group) (the group the playbooks run on), else
        C(ai_hosts).
    type: str
"""
