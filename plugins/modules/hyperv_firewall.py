#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: hyperv_firewall
short_description: Write the PowerShell script that opens a WSL2 host's cross-host ports in the Hyper-V firewall
version_added: "0.1.0"
description:
  - A WSL2 distribution is reached from the LAN only through Windows, whose Hyper-V firewall filters
    what reaches WSL's VM before the distribution's own nftables table sees it. Ansible manages the
    distribution, not Windows, so this module writes the Windows side as a script for the user to run.
  - The script creates one inbound Hyper-V firewall rule per planned port and protocol
    (C(New-NetFirewallHyperVRule) scoped to WSL's VM creator C({40E0AC32-46A5-438A-A0B2-2B479E8F2E90}))
    that admits exactly the planned peer addresses, and removes the rules named
    C(ai-system-<host>-*) that the plan no longer has (C(Get-NetFirewallHyperVRule),
    C(Remove-NetFirewallHyperVRule)).
  - It must be run on Windows, in PowerShell as administrator; running it twice leaves the same rules.
  - The file is written atomically and only when its text differs.
author:
  - ai_system.containers maintainers (@ai-system)
options:
  host:
    description: Inventory name of the WSL2 host; part of every rule name.
    type: str
    required: true
  path:
    description: Where the script is written on the host (its directory is created when missing).
    type: path
    required: true
attributes:
  check_mode:
    support: full
    details: Reports whether the script would change, writes nothing.
  diff_mode:
    support: full
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ai_system.containers.openings
notes:
  - Not run on WSL hardware or Windows by the collection's tests; the script's text is checked
    against a golden file for the production plan.
seealso:
  - name: Hyper-V firewall (WSL)
    description: Microsoft's description of WSL's Hyper-V firewall and its PowerShell cmdlets.
    link: https://learn.microsoft.com/windows/security/operating-system-security/network-security/windows-firewall/hyper-v-firewall
"""

EXAMPLES = r"""
- name: Write the Windows side of the firewall of a WSL2 host
  ai_system.containers.hyperv_firewall:
    host: "{{ inventory_hostname }}"
    path: /etc/ai-system/hyperv-firewall.ps1
    openings: "{{ stack_host_plan.firewall }}"
"""

RETURN = r"""
path:
  description: The script's path on the host.
  returned: always
  type: str
  sample: /etc/ai-system/hyperv-firewall.ps1
rule_prefix:
  description: The name prefix of every rule of this host; rules with it that the plan does not name are removed.
  returned: success
  type: str
  sample: ai-system-mainpc-
rules:
  description: One entry per rule the script creates.
  returned: success
  type: list
  elements: dict
  sample:
    - name: ai-system-mainpc-tcp-7120
      display_name: "ai-system mainpc: SystemDigitalTwin (core-services) TCP/7120"
      proto: TCP
      port: 7120
      sources: [192.168.100.17]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common import module_result
from ansible_collections.ai_system.containers.plugins.module_utils.host import hyperv_firewall


def main():
    module = AnsibleModule(argument_spec=hyperv_firewall.argument_spec(), supports_check_mode=True)
    module_result.finish(module, hyperv_firewall.run(module))


if __name__ == "__main__":
    main()
