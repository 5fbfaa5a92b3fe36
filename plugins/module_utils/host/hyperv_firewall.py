# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows side of a WSL2 host's firewall, as a PowerShell script.

A WSL2 distribution is reached from the LAN only through Windows, whose
Hyper-V firewall filters what reaches the WSL VM before the distribution's own
nftables table sees it. :func:`hyperv_script` turns a host's planned
cross-host openings (the plan's ``firewall``: port, proto, source address)
into a script that, run on Windows as administrator, creates one inbound
Hyper-V firewall rule per planned port and protocol, scoped to WSL's VM
creator and to exactly the planned peer addresses, and removes the rules of
the collection's name prefix that the plan no longer has.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, Mapping, Sequence

#: The VM creator ID of WSL (Microsoft's WSL documentation).
WSL_VM_CREATOR_ID = "{40E0AC32-46A5-438A-A0B2-2B479E8F2E90}"
#: Every rule the collection writes for a host starts with this, then the host's name.
RULE_PREFIX = "ai-system-"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _quote(text: str) -> str:
    """A PowerShell single-quoted string."""
    return "'%s'" % str(text).replace("'", "''")


def rule_prefix(host: str) -> str:
    if not _NAME.match(str(host)):
        raise ValueError("host name %r cannot be part of a Hyper-V firewall rule name" % (host,))
    return "%s%s-" % (RULE_PREFIX, host)


def hyperv_rules(host: str, openings: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """One rule per planned (proto, port): its name, display name and the
    sorted peer addresses allowed to reach it."""
    prefix = rule_prefix(host)
    by_port: Dict[Any, Dict[str, Any]] = {}
    for opening in openings:
        port = int(opening["port"])
        if not 0 < port < 65536:
            raise ValueError("%s: port %r is not a TCP/UDP port" % (host, opening["port"]))
        proto = str(opening.get("proto") or "tcp").lower()
        if proto not in ("tcp", "udp"):
            raise ValueError("%s: port %d: protocol %r is neither tcp nor udp" % (host, port, proto))
        source = str(ipaddress.ip_address(str(opening["source"]).strip()))
        rule = by_port.setdefault((proto, port), {
            "name": "%s%s-%d" % (prefix, proto, port), "proto": proto.upper(), "port": port,
            "sources": set(), "agents": set()})
        rule["sources"].add(source)
        if opening.get("agent"):
            rule["agents"].add("%s (%s)" % (opening["agent"], opening.get("group") or "?"))
    rules = []
    for (_proto, _port), rule in sorted(by_port.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        agents = ", ".join(sorted(rule["agents"])) or "planned port"
        rules.append({
            "name": rule["name"], "proto": rule["proto"], "port": rule["port"],
            "sources": sorted(rule["sources"], key=ipaddress.ip_address),
            "display_name": "ai-system %s: %s %s/%d" % (host, agents, rule["proto"], rule["port"]),
        })
    return rules


def hyperv_script(host: str, openings: Sequence[Mapping[str, Any]], linux_path: str = "") -> str:
    """The PowerShell script for ``host``'s planned openings (see the module
    docstring). Running it twice leaves the same rules."""
    prefix = rule_prefix(host)
    rules = hyperv_rules(host, openings)
    out = [
        "# Hyper-V firewall rules for the WSL2 host %s, written by ai_system.containers" % host,
        "# from the plan's cross-host openings%s." % (" (%s in the distribution)" % linux_path
                                                      if linux_path else ""),
        "# Run it on Windows, in PowerShell as administrator, after every deploy that",
        "# changed it:   powershell -ExecutionPolicy Bypass -File <this file>",
        "# It admits exactly the planned ports from exactly the planned peers to WSL's",
        "# VM (VM creator %s) and removes the rules" % WSL_VM_CREATOR_ID,
        "# named %s* that the plan no longer has. Do not edit: the next deploy" % prefix,
        "# rewrites it.",
        "#Requires -RunAsAdministrator",
        "$ErrorActionPreference = 'Stop'",
        "$VMCreatorId = %s" % _quote(WSL_VM_CREATOR_ID),
        "$Prefix = %s" % _quote(prefix),
        "$Planned = @(%s)" % ", ".join(_quote(r["name"]) for r in rules),
        "",
        "# Rules of this host that the plan no longer has.",
        "Get-NetFirewallHyperVRule | Where-Object { $_.Name -like \"$Prefix*\" -and $Planned -notcontains $_.Name } |",
        "    ForEach-Object {",
        "        Remove-NetFirewallHyperVRule -Name $_.Name",
        "        Write-Output \"removed $($_.Name)\"",
        "    }",
    ]
    for rule in rules:
        out += [
            "",
            "# %s" % rule["display_name"],
            "Get-NetFirewallHyperVRule | Where-Object { $_.Name -eq %s } | "
            "ForEach-Object { Remove-NetFirewallHyperVRule -Name $_.Name }" % _quote(rule["name"]),
            "New-NetFirewallHyperVRule -Name %s -DisplayName %s -Direction Inbound -VMCreatorId $VMCreatorId "
            "-Protocol %s -LocalPorts %d -RemoteAddresses %s -Action Allow | Out-Null" % (
                _quote(rule["name"]), _quote(rule["display_name"]), rule["proto"], rule["port"],
                ", ".join(_quote(s) for s in rule["sources"])),
            "Write-Output %s" % _quote("allowed %s/%d from %s" % (
                rule["proto"], rule["port"], ", ".join(rule["sources"]))),
        ]
    return "\n".join(out) + "\n"


def argument_spec() -> Dict[str, Any]:
    from ansible_collections.ai_system.containers.plugins.module_utils.host.firewall_spec import OPENINGS_SPEC
    return {
        "host": {"type": "str", "required": True},
        "path": {"type": "path", "required": True},
        "openings": OPENINGS_SPEC["openings"],
    }


def run(module: Any, read: Any = None, write: Any = None) -> Dict[str, Any]:
    """What the hyperv_firewall module does: write the script when its text
    differs (not in check mode); the result with ``failed`` and ``msg`` on bad input."""
    import os

    from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import write_text

    params = module.params
    try:
        text = hyperv_script(params["host"], params["openings"], params["path"])
        rules = hyperv_rules(params["host"], params["openings"])
    except (ValueError, KeyError) as exc:
        return {"failed": True, "changed": False, "msg": "hyperv_firewall: %s" % exc}
    path = params["path"]
    if read is None:
        def read(name):
            try:
                with open(name, "r", encoding="utf-8") as handle:
                    return handle.read()
            except (IOError, OSError):
                return None
    old = read(path)
    changed = old != text
    if changed and not module.check_mode:
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        (write or write_text)(path, text, 0o644)
    result = {"changed": changed, "path": path, "rules": rules,
              "rule_prefix": rule_prefix(params["host"])}
    if module._diff and changed:
        result["diff"] = {"before": old or "", "after": text, "before_header": path, "after_header": path}
    return result
