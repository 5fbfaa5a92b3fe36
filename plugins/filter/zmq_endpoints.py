# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The zmq_endpoints filter (documented in zmq_endpoints.yml)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# The endpoint keys zmq_check accepts that a plan check entry provides.
KINDS = ("main", "health", "greeting")


def _endpoint(index, entry):
    if not isinstance(entry, Mapping):
        raise AnsibleFilterError("zmq_endpoints: entry %d is a %s, not a check entry of the plan"
                                 % (index, type(entry).__name__))
    missing = [key for key in ("container", "address", "port") if entry.get(key) in (None, "")]
    if missing:
        raise AnsibleFilterError("zmq_endpoints: entry %d (%s) has no %s" % (
            index, entry.get("name") or "unnamed", ", ".join(missing)))
    try:
        port = int(entry["port"])
    except (TypeError, ValueError):
        raise AnsibleFilterError("zmq_endpoints: entry %d (%s) has port %r, not a number" % (
            index, entry.get("name") or "unnamed", entry["port"]))
    kind = entry.get("kind") or "main"
    if kind not in KINDS:
        raise AnsibleFilterError("zmq_endpoints: entry %d (%s) has kind %r, expected one of %s" % (
            index, entry.get("name") or "unnamed", kind, ", ".join(KINDS)))
    if entry.get("to_group"):
        group = "%s/%s" % (entry["to_host"], entry["to_group"]) if entry.get("to_host") else entry["to_group"]
    else:
        group = entry.get("group")
    endpoint = {"name": str(entry.get("name") or "%s:%d" % (entry["address"], port)),
                "address": str(entry["address"]), "port": port, "kind": kind}
    if group:
        endpoint["group"] = str(group)
    # How the reply is judged: the agent's policy, and for links whether
    # they must answer healthy (strict) and what they are asked.
    for key in ("policy", "strict", "request"):
        if entry.get(key) is not None:
            endpoint[key] = entry[key]
    return str(entry["container"]), endpoint


def zmq_endpoints(checks):
    """Plan check entries -> one ``{container, endpoints}`` per container, in order."""
    if checks is None:
        return []
    if isinstance(checks, (str, bytes, Mapping)) or not hasattr(checks, "__iter__"):
        raise AnsibleFilterError("zmq_endpoints expects a list of check entries, got a %s"
                                 % type(checks).__name__)
    groups = {}
    seen = set()
    for index, entry in enumerate(checks):
        container, endpoint = _endpoint(index, entry)
        key = (container, endpoint["name"], endpoint["address"], endpoint["port"], endpoint["kind"])
        if key in seen:
            continue
        seen.add(key)
        groups.setdefault(container, []).append(endpoint)
    return [{"container": name, "endpoints": endpoints} for name, endpoints in groups.items()]


class FilterModule:
    """ai_system.containers filters."""

    def filters(self):
        return {"zmq_endpoints": zmq_endpoints}
