# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the verification report judges links and health sockets: ``zmq_check``
run inside a container, one result per endpoint, its ``ok`` and ``verdict``
the verdict.  Pure Python, no Ansible imports; see ``report_judging``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.report.report_judging import (
    CheckJudge, HostInput, error_text,
)
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import (
    CONTAINER, DEGRADED, FAILED, PASSED, Cause, Item, counts, rtt_text,
)

# zmq_check's verdicts (besides "healthy" and "failing") that the report reads.
VERDICT_DEGRADED, VERDICT_REACHABLE = "degraded", "reachable"
# The stage a link is given when the checks could not run in its container.
CONTAINER_STAGE = "container"


# --------------------------------------------------------------------------
# Links and health sockets (zmq_check)
# --------------------------------------------------------------------------

class _EveryContainer(Dict[str, Mapping[str, Any]]):
    """The one result of a zmq_check call that returned none per container
    (it could not run at all), as the result of every container."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        super().__init__()
        self.result = result

    def get(self, key: str, default: Any = None) -> Mapping[str, Any]:
        return self.result


def _zmq_by_container(value: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Mapping[str, Any]]]:
    """container -> zmq_check result, from such a mapping, from the registered
    result of one zmq_check call with ``containers`` (its ``containers``), or
    from the registered result of a loop over the plan's ``checks.zmq``
    (``results[].item.container``)."""
    if value is None:
        return None
    if isinstance(value.get("containers"), Mapping):
        value = value["containers"]
    elif "results" not in value and not all(isinstance(v, Mapping) for v in value.values()):
        # A registered result without per-container results: the call failed as a whole.
        return _EveryContainer(value)
    if isinstance(value.get("results"), list):
        out: Dict[str, Mapping[str, Any]] = {}
        for entry in value["results"]:
            if not isinstance(entry, Mapping) or entry.get("skipped") is True:
                continue
            item = entry.get("item")
            container = item.get("container") if isinstance(item, Mapping) else None
            container = container or entry.get("container")
            if container:
                out[str(container)] = entry
        return out
    return {str(k): v for k, v in value.items() if isinstance(v, Mapping)}


def _endpoint_key(entry: Mapping[str, Any]) -> Tuple[str, str, int, str]:
    return (str(entry.get("name") or ""), str(entry.get("address") or ""),
            int(entry.get("port") or 0), str(entry.get("kind") or "main"))


class ZmqJudge(CheckJudge):
    """What links and health sockets share: ``zmq_check`` run inside a
    container, one result per endpoint, its ``ok`` and ``verdict`` the verdict."""

    result_key = "zmq"

    def base(self, entry: Mapping[str, Any]) -> Dict[str, Any]:
        """The item's fields from the plan's entry."""
        raise NotImplementedError

    def judge(self, host: HostInput, result: Optional[Mapping[str, Any]]) -> List[Item]:
        by_container = _zmq_by_container(result)
        return [self._judge_one(host, by_container, entry)
                for entry in (host.plan.get("checks") or {}).get(self.name) or []]

    def _judge_one(self, host: HostInput, by_container: Optional[Dict[str, Mapping[str, Any]]],
                   entry: Mapping[str, Any]) -> Item:
        item = self.item(host, **self.base(entry))
        item.update(failed_stage=None, detail=None, rtt_ms=None, reply_status=None, verdict=None, message=None)
        if by_container is None:
            return item
        container = str(entry.get("container"))
        result = by_container.get(container)
        if result is None:
            item.update(status=FAILED, failed_stage=CONTAINER_STAGE, cause=None,
                        reason="no ZMQ check ran in container %s" % container)
            return item
        if not isinstance(result.get("endpoints"), list):
            why = error_text(result)
            if container not in why:
                why = "ZMQ checks could not run in container %s: %s" % (container, why)
            item.update(status=FAILED, failed_stage=CONTAINER_STAGE, reason=why,
                        cause=Cause(CONTAINER, host.name, container=container))
            return item
        item["cause"] = None
        wanted = _endpoint_key(entry)
        found = next((e for e in result["endpoints"]
                      if isinstance(e, Mapping) and _endpoint_key(e) == wanted), None)
        if found is None:
            item.update(status=FAILED, failed_stage=CONTAINER_STAGE,
                        reason="zmq_check returned no result for this endpoint")
            return item
        reply = found.get("reply")
        message = found.get("message")
        item.update(rtt_ms=found.get("rtt_ms"),
                    reply_status=reply.get("status") if isinstance(reply, Mapping) else None,
                    verdict=found.get("verdict"), message=None if message in (None, "") else str(message))
        item.update(self._verdict(entry, found, item))
        listening = found.get("listening")
        if item["status"] == FAILED and isinstance(listening, Mapping) and listening.get("text"):
            # Nothing answered on the declared port: what the container listens on instead.
            item["listening"] = {"container": listening.get("container"), "ports": listening.get("ports")}
            item["reason"] = "%s; %s" % (item["reason"], listening["text"])
        return item

    @staticmethod
    def _verdict(entry: Mapping[str, Any], found: Mapping[str, Any], item: Item) -> Dict[str, Any]:
        """zmq_check's ``ok`` and ``verdict`` for one endpoint, with the reason to show."""
        message = item["message"]
        if found.get("ok"):
            rtt = rtt_text(found.get("rtt_ms")) or "n/a"
            if entry.get("kind") == "greeting":
                zmtp = found.get("zmtp") or {}
                return {"status": PASSED,
                        "reason": "ZMQ greeting from a %s socket" % (zmtp.get("socket_type") or "ZMQ")}
            if item["verdict"] == VERDICT_DEGRADED:
                # Alive and serving, but the agent says it is degraded.
                text = "status %s" % (item["reply_status"] or VERDICT_DEGRADED)
                return {"status": DEGRADED, "reason": "%s: %s" % (text, message) if message else text}
            if item["verdict"] == VERDICT_REACHABLE:
                # A link that is not strict: any well-formed reply proves it.
                text = "reachable, rtt median %s" % rtt
                return {"status": PASSED, "reason": "%s, replied: %s" % (text, message) if message else text}
            return {"status": PASSED, "reason": "status %s, rtt median %s" % (item["reply_status"] or "ok", rtt)}
        reason = str(found.get("reason") or "failed")
        if message and message not in reason:
            reason += "; replied: %s" % message
        return {"status": FAILED, "failed_stage": found.get("failed_stage") or "unknown", "reason": reason,
                "detail": found.get("detail")}


BLOCKED_BEFORE_HOST = "blocked before the host (Windows / Hyper-V firewall?)"


def blocked_before_host(item: Mapping[str, Any], peer: Optional[Mapping[str, Any]]) -> bool:
    """Whether a failed cross-host link was most likely dropped before the
    target host: its TCP connect timed out, the target is a WSL2 host (whose
    LAN traffic passes Windows' Hyper-V firewall first) and the target's own
    nftables table is loaded as planned, so it admits the link."""
    if item.get("status") != FAILED or item.get("failed_stage") != "tcp" or not item.get("cross_host"):
        return False
    if not str(item.get("reason") or "").startswith("timed out"):
        return False
    if not peer or not peer.get("wsl"):
        return False
    firewall = peer.get("firewall")
    return (isinstance(firewall, Mapping) and firewall.get("matches") is True
            and firewall.get("file_matches") is not False)


class LinksJudge(ZmqJudge):
    """Every agent a group ``connects_to`` answers, from inside the consuming
    container (``checks.links`` of the plan); an edge of the diagram each."""

    name, title, noun = "links", "links", "link"

    def base(self, entry: Mapping[str, Any]) -> Dict[str, Any]:
        return {"from_group": entry.get("from_group"), "container": entry.get("container"),
                "name": entry.get("name"), "to_host": entry.get("to_host"), "to_group": entry.get("to_group"),
                "address": entry.get("address"), "port": entry.get("port"), "kind": entry.get("kind", "main"),
                "cross_host": bool(entry.get("cross_host")), "note": entry.get("note") or ""}

    def _judge_one(self, host: HostInput, by_container: Optional[Dict[str, Mapping[str, Any]]],
                   entry: Mapping[str, Any]) -> Item:
        item = super()._judge_one(host, by_container, entry)
        if blocked_before_host(item, host.peer(item.get("to_host"))):
            item["reason"] = "%s; %s: %s's own table admits it" % (
                item["reason"], BLOCKED_BEFORE_HOST, item["to_host"])
        # What the plan knows about why this link cannot work (a localhost
        # link across network namespaces) goes with its failure.
        if item.get("status") == FAILED and item.get("note") and item["note"] not in (item.get("reason") or ""):
            item["reason"] = "%s -- %s" % (item.get("reason") or "failed", item["note"])
        return item

    def degraded_agent(self, host: str, item: Item) -> str:
        return "%s/%s" % (item.get("to_host") or host, item.get("name"))

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["from_group"] == unit["group"]]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        return {"links": counts(items)}


class HealthSocketsJudge(ZmqJudge):
    """Every agent's own health socket answers healthy on 127.0.0.1 inside
    its container (``checks.health`` of the plan)."""

    name, title, noun = "health", "health sockets", "health socket"

    def base(self, entry: Mapping[str, Any]) -> Dict[str, Any]:
        return {"group": entry.get("group"), "container": entry.get("container"), "name": entry.get("name"),
                "address": entry.get("address"), "port": entry.get("port"), "kind": entry.get("kind", "health")}

    def group_items(self, items: Sequence[Item], unit: Mapping[str, Any]) -> List[Item]:
        return [i for i in items if i["group"] == unit["group"]]

    def group_fields(self, items: Sequence[Item]) -> Dict[str, Any]:
        # The group's own agents that said they are degraded.
        return {"health_sockets": counts(items),
                "degraded_agents": sorted({str(i["name"]) for i in items if i["status"] == DEGRADED})}
