# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the stack_network module does: the host's container network as it is.

The module ai_system.containers.stack_network is a thin wrapper around
:func:`run`; nft_run reads the real subnet with :func:`real_subnets` too.

Quadlet creates the network with ``podman network create --ignore``, which
keeps an existing network as it is: a network left from before (another
range, or the plan's subnet changed since) would keep the containers on a
subnet the firewall table does not guard. :func:`run` reads the network's
real subnets; where they are not the plan's, it stops the plan's units whose
containers are attached, removes the network, lets Quadlet's network unit
create it again with the plan's subnet, and checks the result. The units
are started again by stack_units in the same run. A container attached to
the network that no unit of the plan runs is never stopped: the module
fails naming it and what to do.

Pure decisions (:func:`subnets_of`, :func:`attached`, :func:`decide`) are
separate from the commands so they are unit tested on real Podman output.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
MANAGED_LABEL = "io.ai-system.managed-by"
SYSTEMD_UNIT_LABEL = "PODMAN_SYSTEMD_UNIT"

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    subnet=dict(type="str", required=True),
    network_service=dict(type="str", required=True),
    services=dict(type="list", elements="str", default=[]),
)


def subnets_of(inspect_output: str) -> List[str]:
    """The IPv4 subnets of ``podman network inspect NAME`` (JSON), sorted."""
    doc = json.loads(inspect_output)
    if isinstance(doc, list):
        doc = doc[0] if doc else {}
    out = []
    for entry in (doc or {}).get("subnets") or []:
        try:
            net = ipaddress.ip_network(str(entry.get("subnet")), strict=False)
        except ValueError:
            continue
        if net.version == 4:
            out.append(str(net))
    return sorted(out)


def attached(ps_output: str) -> List[Dict[str, str]]:
    """Containers of ``podman ps -a --format json --filter network=NAME``:
    name, the systemd unit that runs it ('' for none) and whether the plan
    manages it."""
    out = []
    for entry in json.loads(ps_output or "[]") or []:
        labels = entry.get("Labels") or {}
        names = entry.get("Names") or [entry.get("Id", "?")[:12]]
        out.append({"name": str(names[0]), "unit": str(labels.get(SYSTEMD_UNIT_LABEL) or ""),
                    "managed": "yes" if labels.get(MANAGED_LABEL) else ""})
    return sorted(out, key=lambda c: c["name"])


def decide(name: str, subnet: str, real: Optional[Sequence[str]],
           containers: Sequence[Mapping[str, str]], services: Sequence[str]
           ) -> Tuple[str, List[str], str]:
    """(action, services to stop, message). action: ``ok`` (absent, or the
    plan's subnet), ``recreate``, or ``refuse`` (message says why and what to do)."""
    wanted = str(ipaddress.ip_network(subnet, strict=False))
    if real is None:
        return "ok", [], "network %s does not exist yet: Quadlet creates it with %s" % (name, wanted)
    if list(real) == [wanted]:
        return "ok", [], "network %s has the plan's subnet %s" % (name, wanted)
    shown = ", ".join(real) or "no IPv4 subnet"
    foreign = [c for c in containers if not c["managed"] or c["unit"] not in services]
    if foreign:
        return "refuse", [], (
            "network %s has %s, not the plan's %s (ai_network_subnet), and containers that no "
            "unit of the plan runs are attached to it: %s. The firewall guards the plan's "
            "subnet only, so the network must be recreated: stop and remove those containers "
            "(or disconnect them: podman network disconnect %s NAME) and run again, or set "
            "ai_network_subnet to %s" % (name, shown, wanted,
                                         ", ".join(c["name"] for c in foreign), name, shown))
    stop = sorted({c["unit"] for c in containers})
    return "recreate", stop, "network %s had %s, not the plan's %s: recreated%s" % (
        name, shown, wanted, " (stopped %s; started again by the stack)" % ", ".join(stop)
        if stop else "")


class _Commands:
    def __init__(self, module: Any):
        self.module = module
        # Not required=True: that would exit the module (host_checks runs this in a thread).
        self.podman = module.get_bin_path("podman")
        self.systemctl = module.get_bin_path("systemctl") or "systemctl"
        if not self.podman:
            raise RuntimeError("podman is not installed")

    def run(self, argv: List[str], what: str, ok_rc: Sequence[int] = (0,)) -> Tuple[int, str, str]:
        rc, out, err = self.module.run_command(argv, environ_update=C_LOCALE)
        if rc not in ok_rc:
            raise RuntimeError("%s failed (rc=%d): %s" % (what, rc, (err or out).strip()))
        return rc, out, err


def real_subnets(module: Any, name: str) -> Optional[List[str]]:
    """The network's IPv4 subnets on this host, or None when it does not exist."""
    cmd = _Commands(module)
    rc, out, err = cmd.run([cmd.podman, "network", "inspect", name], "podman network inspect",
                           ok_rc=(0, 125))
    if rc != 0:
        if "network not found" in err or "no such network" in err.lower():
            return None
        raise RuntimeError("podman network inspect %s failed: %s" % (name, err.strip()))
    return subnets_of(out)


def run(module: Any) -> Dict[str, Any]:
    """Everything stack_network does for ``module.params``."""
    p = module.params
    name, subnet = p["name"], p["subnet"]
    try:
        cmd = _Commands(module)
        real = real_subnets(module, name)
        containers: List[Dict[str, str]] = []
        if real is not None:
            dummy, out, dummy2 = cmd.run([cmd.podman, "ps", "-a", "--format", "json", "--filter",
                                          "network=%s" % name], "podman ps")
            containers = attached(out)
        action, stop, message = decide(name, subnet, real, containers, p["services"])
    except (RuntimeError, ValueError) as exc:
        return {"failed": True, "changed": False, "msg": "network %s: %s" % (name, exc)}
    result: Dict[str, Any] = {"changed": action == "recreate", "network": name,
                              "subnet": subnet, "subnets_before": real, "stopped": stop,
                              "msg": message}
    if action == "refuse":
        return dict(result, failed=True)
    if action == "ok" or module.check_mode:
        result["subnets"] = real if action == "ok" else [subnet]
        return result
    try:
        if stop:
            cmd.run([cmd.systemctl, "stop"] + stop, "systemctl stop")
        cmd.run([cmd.podman, "network", "rm", name], "podman network rm %s" % name)
        # The network unit's file may be new: systemd must read it before it runs it again.
        cmd.run([cmd.systemctl, "daemon-reload"], "systemctl daemon-reload")
        cmd.run([cmd.systemctl, "restart", p["network_service"]],
                "systemctl restart %s" % p["network_service"])
        after = real_subnets(module, name)
    except RuntimeError as exc:
        return dict(result, failed=True, msg="%s; recreating it failed: %s" % (message, exc))
    wanted = str(ipaddress.ip_network(subnet, strict=False))
    if after != [wanted]:
        return dict(result, failed=True, subnets=after,
                    msg="network %s was recreated by %s but has %s, not %s"
                    % (name, p["network_service"], after, wanted))
    result["subnets"] = after
    return result
