#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nft_table
short_description: Hold the stack's nftables table exactly as the plan wants it
version_added: "0.1.0"
description:
  - Makes the host's nftables table (C(table inet ai_system)) admit each cross-host port of the
    plan from its peers only, and let nothing else into the container subnet.
  - The table has two base chains. C(prerouting), at priority C(dstnat - 10) (before Podman's
    DNAT), drops packets for a published port on the LAN address from anyone but its peers.
    C(forward), at priority C(filter - 10), accepts traffic into the container subnet only when
    it belongs to a known connection, was DNAT'd from an admitted published port for one of its
    peers, or comes from the subnet itself on its own interface, and drops the rest. A drop in
    any base chain is final, so no other chain (Podman's, firewalld's) can admit it.
  - Writes the table as one file, O(path), that replaces the table in a single C(nft -f)
    transaction. The file is checked with C(nft -c) before it replaces the old one, atomically,
    and only when its text differs.
  - Reads the loaded table with C(nft -j list table) and compares it, chain by chain and rule by
    rule in order, with the plan's. When they differ it loads O(path), whether or not the file
    changed in this run, so a table flushed by hand or left behind by an interrupted run is
    brought back. It reports C(changed) only when it wrote the file or loaded the table.
  - In check mode it writes and loads nothing and reports whether the loaded table and the
    file are the plan's; the verify playbook runs it so.
  - Commands run with C(LANG=C).
extends_documentation_fragment:
  - ai_system.containers.openings
  - ai_system.containers.openings.lan_address
options:
  subnet:
    description: The host's container subnet (C(network.subnet) of the plan).
    type: str
    required: true
  network:
    description:
      - The Podman network whose containers the table guards (C(network.name) of the plan). When
        given, its real IPv4 subnets (C(podman network inspect)) must be exactly O(subnet), else the
        module fails, since a table for a subnet the containers do not use guards nothing. A network
        that does not exist yet passes (Quadlet creates it with O(subnet)).
    type: str
    default: ""
  table:
    description: Name of the table, in the C(inet) family.
    type: str
    default: ai_system
  path:
    description: The file that loads the table, for this module and for the units that load it at boot.
    type: path
    default: /etc/ai-system/firewall.nft
attributes:
  check_mode:
    description: Reads the loaded table and the file, writes and loads nothing.
    support: full
  diff_mode:
    description: Shows the file's text and the loaded table's rules, before and after.
    support: full
  platform:
    description: Hosts with nftables (the C(nft) command).
    support: full
    platforms: posix
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Bring the loaded table to the plan's rules
  ai_system.containers.nft_table:
    lan_address: "{{ plan.lan_address }}"
    subnet: "{{ plan.network.subnet }}"
    openings: "{{ plan.firewall }}"

- name: Compare the loaded table with the plan, read-only
  ai_system.containers.nft_table:
    lan_address: "{{ plan.lan_address }}"
    subnet: "{{ plan.network.subnet }}"
    openings: "{{ plan.firewall }}"
  check_mode: true
  register: firewall
"""

RETURN = r"""
matches:
  description: Whether the loaded table was the plan's, chain by chain and rule by rule, when the module started.
  returned: always
  type: bool
  sample: true
present:
  description: Whether the table was loaded at all when the module started.
  returned: always
  type: bool
  sample: true
missing:
  description: The plan's chains and rules the loaded table lacked, each prefixed with its chain's name.
  returned: always
  type: list
  elements: str
  sample: ["forward: ip daddr 172.21.0.0/16 drop"]
extra:
  description: Chains and rules of the loaded table the plan does not have.
  returned: always
  type: list
  elements: str
  sample: ["prerouting: tcp dport 7140 drop"]
reason:
  description: One sentence on the loaded table when the module started.
  returned: always
  type: str
  sample: table inet ai_system is loaded as planned (2 chains, 7 rules)
network_subnets:
  description: The real IPv4 subnets of O(network); V(null) when O(network) is not given or does not exist.
  returned: always
  type: list
  elements: str
  sample: ["172.20.0.0/16"]
file_matches:
  description: Whether O(path) held the plan's table when the module started.
  returned: always
  type: bool
  sample: true
file_written:
  description: Whether this run wrote O(path).
  returned: always
  type: bool
  sample: false
loaded:
  description: Whether this run loaded the table with C(nft -f).
  returned: always
  type: bool
  sample: false
table:
  description: The table, with its family.
  returned: always
  type: str
  sample: inet ai_system
path:
  description: The file that loads the table.
  returned: always
  type: str
  sample: /etc/ai-system/firewall.nft
rules:
  description: The plan's chains and rules, as compared.
  returned: always
  type: list
  elements: str
  sample: ["chain prerouting: type filter hook prerouting priority -110 policy accept",
           "prerouting: ip daddr 10.0.0.17 tcp dport 7140 ip saddr != 10.0.0.16 drop"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish
from ansible_collections.ai_system.containers.plugins.module_utils.host.nft_run import ARGUMENT_SPEC, run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
