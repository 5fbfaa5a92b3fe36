# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the modules that hold a host's cross-host openings
(nft_table, firewall_rules, hyperv_firewall); their spec is
firewall_spec.OPENINGS_SPEC. ``LAN_ADDRESS``
(``ai_system.containers.openings.lan_address``): the host's LAN address, for
the modules whose rules name it."""

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  openings:
    description: The host's cross-host openings, as the plan returns them (C(plan.firewall)).
    type: list
    elements: dict
    required: true
    suboptions:
      port:
        description: The published port.
        type: int
        required: true
      proto:
        description: Its protocol.
        type: str
        default: tcp
        choices: [tcp, udp]
      source:
        description: Address of a peer admitted to the port.
        type: str
        required: true
      source_host:
        description: Inventory name of that peer.
        type: str
      group:
        description: Group that publishes the port.
        type: str
      agent:
        description: Agent that listens on the port.
        type: str
"""

    LAN_ADDRESS = r"""
options:
  lan_address:
    description: The host's LAN address, where its cross-host ports are published and the destination of every rule.
    type: str
    required: true
"""
