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
options:
  lan_address:
    description: The host's LAN address, where its cross-host ports are published.
    type: str
    required: true
  subnet:
    description: The host's container subnet (C(network.subnet) of the plan).
    type: str
    required: true
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

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.ai_system.containers.plugins.module_utils.nft_state import (
    FAMILY, compare, loaded_table, render, wanted_table,
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
HEADER = (
    "The AI system's firewall table, written by ai_system.containers.nft_table: the",
    "cross-host ports on the LAN address for their peers only, and nothing else into",
    "the containers. Loaded whole, in one transaction, by ai-system-firewall.service",
    "(start and reload) and with nftables.service's own rules. Edits are replaced.",
)


class NftTable:
    """Compare the loaded table and the file with the plan's, and make them so."""

    def __init__(self, module):
        self.module = module
        p = module.params
        self.path = p["path"]
        self.name = p["table"]
        try:
            self.wanted = wanted_table(self.name, p["lan_address"], p["subnet"], p["openings"])
        except (ValueError, KeyError) as exc:
            module.fail_json(msg="cannot build the firewall table: %s" % to_text(exc))
        self.text = render(self.wanted, HEADER)
        self.nft = module.get_bin_path("nft")

    def run(self, argv):
        return self.module.run_command([self.nft] + argv, environ_update=C_LOCALE)

    def read_file(self):
        try:
            with open(self.path, "rb") as handle:
                return to_text(handle.read(), errors="surrogate_or_strict")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeError) as exc:
            self.module.fail_json(msg="cannot read %s: %s" % (self.path, to_text(exc)))

    def loaded(self):
        """The table as the kernel holds it."""
        rc, out, err = self.run(["-j", "list", "table", FAMILY, self.name])
        if rc != 0:
            if "No such file or directory" in err:
                return loaded_table(None, self.name)
            self.module.fail_json(msg="nft -j list table %s %s failed (rc=%d): %s"
                                  % (FAMILY, self.name, rc, err.strip() or out.strip()))
        try:
            return loaded_table(json.loads(out), self.name)
        except ValueError as exc:
            self.module.fail_json(msg="nft -j list table %s %s printed no table: %s"
                                  % (FAMILY, self.name, to_text(exc)))

    def write_file(self):
        """Check the text with ``nft -c`` and move it into place atomically."""
        directory = os.path.dirname(self.path) or "."
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(self.path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(to_bytes(self.text))
            os.chmod(tmp, 0o644)
        except OSError as exc:
            self.module.fail_json(msg="cannot write %s: %s" % (self.path, to_text(exc)))
        rc, out, err = self.run(["-c", "-f", tmp])
        if rc != 0:
            os.unlink(tmp)
            self.module.fail_json(msg="nft refused the table for %s (rc=%d): %s"
                                  % (self.path, rc, err.strip() or out.strip()))
        self.module.atomic_move(tmp, self.path)

    def load(self):
        rc, out, err = self.run(["-f", self.path])
        if rc != 0:
            self.module.fail_json(msg="nft -f %s failed (rc=%d): %s" % (self.path, rc, err.strip() or out.strip()))

    def result(self):
        before_text = self.read_file()
        file_matches = before_text == self.text
        rules = self.wanted.keys()
        result = {"changed": False, "table": "%s %s" % (FAMILY, self.name), "path": self.path,
                  "rules": rules, "file_matches": file_matches, "file_written": False, "loaded": False}
        if self.nft is None:
            if not self.module.check_mode:
                self.module.fail_json(msg="nft is not installed: install the nftables package", **result)
            result.update(matches=False, present=False, missing=rules, extra=[], changed=True,
                          reason="nft is not installed (package nftables)")
            return result
        before = self.loaded()
        state = compare(self.wanted, before)
        result.update(state)
        if self.module._diff:
            result["diff"] = [
                {"before_header": self.path, "after_header": self.path,
                 "before": before_text or "", "after": self.text},
                {"before_header": "loaded table %s %s" % (FAMILY, self.name),
                 "after_header": "planned table %s %s" % (FAMILY, self.name),
                 "before": "".join(line + "\n" for line in before.lines),
                 "after": "".join(line + "\n" for line in rules)},
            ]
        if self.module.check_mode:
            result["changed"] = not (file_matches and state["matches"])
            return result
        if not file_matches:
            self.write_file()
            result.update(file_written=True, changed=True)
        if not state["matches"]:
            self.load()
            after = compare(self.wanted, self.loaded())
            if not after["matches"]:
                self.module.fail_json(msg="loaded %s, but the kernel's table still differs from the plan: %s "
                                      "(missing %s, not planned %s)"
                                      % (self.path, after["reason"], after["missing"], after["extra"]), **result)
            result.update(loaded=True, changed=True)
        return result


def main():
    module = AnsibleModule(
        argument_spec={
            "lan_address": {"type": "str", "required": True},
            "subnet": {"type": "str", "required": True},
            "openings": {"type": "list", "elements": "dict", "required": True, "options": {
                "port": {"type": "int", "required": True},
                "proto": {"type": "str", "default": "tcp", "choices": ["tcp", "udp"]},
                "source": {"type": "str", "required": True},
                "source_host": {"type": "str"},
                "group": {"type": "str"},
                "agent": {"type": "str"},
            }},
            "table": {"type": "str", "default": "ai_system"},
            "path": {"type": "path", "default": "/etc/ai-system/firewall.nft"},
        },
        supports_check_mode=True,
    )
    module.exit_json(**NftTable(module).result())


if __name__ == "__main__":
    main()
