# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host plan's contract: the frozen dataclasses of one host's plan.

Pure Python, no Ansible imports. Their field types are the one definition of
the plan's shape: ``as_dict()`` turns a plan object into the plain JSON data
the roles and playbooks read, ``from_dict()`` rebuilds it from that data
(exactly: ``X.from_dict(x.as_dict()) == x``), refusing a missing, unknown or
mistyped key with its location (``units[2].service: ...``), and
:func:`argument_spec` derives an Ansible argument spec (``type``,
``elements``, ``options``, ``required``) from a dataclass, so the modules
that take plan pieces check them against the same fields.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, fields
from types import MappingProxyType
from typing import (
    Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union, get_type_hints,
)

from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import POD_NAME
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import (
    HealthPolicy, PolicyError, normalize_policy,
)


# ---------------------------------------------------------------------------
# The plan's shape
# ---------------------------------------------------------------------------
#
# Every host's plan is a tree of frozen dataclasses: sequences are tuples,
# mappings read-only views. ``as_dict()`` turns one into plain JSON data (the
# shape the Ansible side reads); nothing else crosses that boundary.

Json = Any


def freeze_json(value: Json) -> Json:
    """JSON data made read-only: dicts become mapping views, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze_json(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze_json(v) for v in value)
    return value


def plain_data(value: Any) -> Json:
    """Plan data -> JSON-safe data: dataclasses and mappings become dicts,
    tuples lists, a health policy its dict."""
    if isinstance(value, _PlanData):
        return value.as_dict()
    if isinstance(value, HealthPolicy):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    return value


class PlanShapeError(ValueError):
    """Plan data that does not have the plan's shape; the message locates it."""


_P = TypeVar("_P", bound="_PlanData")


class _PlanData:
    """Base of the plan's dataclasses: one ``as_dict`` and one ``from_dict``
    for all of them."""

    # Keys ``as_dict`` adds that are derived from the fields (``from_dict``
    # accepts and ignores them).
    _DERIVED: Tuple[str, ...] = ()

    # Fields left out of the dict when they are None (optional module options).
    _OMIT_NONE: Tuple[str, ...] = ()

    def as_dict(self) -> Dict[str, Json]:
        out: Dict[str, Json] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.name in self._OMIT_NONE:
                continue
            out[f.name] = plain_data(value)
        return out

    @classmethod
    def from_dict(cls: Type[_P], data: Mapping[str, Json], where: str = "") -> _P:
        """The object ``as_dict`` gave ``data``; :class:`PlanShapeError`
        locates the first key that is missing, unknown or of the wrong type
        (``where`` prefixes the location)."""
        if not isinstance(data, Mapping):
            raise PlanShapeError("%s must be a mapping (%s), got %s" % (
                where or cls.__name__, cls.__name__, type(data).__name__))
        hints = _hints(cls)
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(map(str, data)) - set(names) - set(cls._DERIVED))
        if unknown:
            raise PlanShapeError("%s has unknown key(s) %s; the plan's %s has %s" % (
                where or cls.__name__, ", ".join(unknown), cls.__name__, ", ".join(names)))
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            at = "%s.%s" % (where, f.name) if where else f.name
            if f.name not in data:
                if f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
                    raise PlanShapeError("%s is missing (%s needs it)" % (at, cls.__name__))
                continue
            values[f.name] = _build(hints[f.name], data[f.name], at)
        return cls(**values)  # type: ignore[call-arg]


@dataclass(frozen=True)
class NetworkPlan(_PlanData):
    """The host's container network and its Quadlet file."""

    name: str
    subnet: str
    unit_file: str


@dataclass(frozen=True)
class UnitPlan(_PlanData):
    """One group's container unit."""

    group: str
    unit_file: str
    service: str
    container: str
    image: str
    build: bool
    depends_on: Tuple[str, ...]  # services of the same host this one requires
    gpu: bool
    cdi_devices: Tuple[str, ...]
    vram_mib: Optional[int]
    secrets: Tuple[str, ...]
    config_files: Tuple[str, ...]  # relative to config_dir; a change restarts the unit
    restart_on_change: Tuple[str, ...]  # host files whose content change restarts the unit
    healthcheck: bool
    agents: Tuple[str, ...]


@dataclass(frozen=True)
class Published(_PlanData):
    """An agent's main port, published on the host's LAN address."""

    group: str
    agent: str
    port: int
    address: str
    consumers: Tuple[str, ...]  # "host/group" of each consumer on another host


@dataclass(frozen=True)
class FirewallOpening(_PlanData):
    """A published port, opened to one peer host's address."""

    port: int
    proto: str
    source: str
    source_host: str
    group: str
    agent: str


@dataclass(frozen=True)
class ImageUse(_PlanData):
    """An image to pull and the groups that run it."""

    image: str
    groups: Tuple[str, ...]


@dataclass(frozen=True)
class GpuPlan(_PlanData):
    """What the host's GPU groups need."""

    required: bool
    model: Optional[str]
    memory_mib: Optional[int]
    cdi_devices: Tuple[str, ...]
    vram_budgets: Mapping[str, int]  # group -> MiB
    vram_reserve_mib: int
    mps_units: Mapping[str, str]  # daemon unit file name -> text (ai_gpu.sharing: mps)
    mps_lab_units: Mapping[str, str]  # the lab's stand-ins, same names


@dataclass(frozen=True)
class LinkCheck(_PlanData):
    """A group's connection to an agent, checked from inside the group's container."""

    name: str
    from_group: str
    container: str
    to_host: str
    to_group: str
    address: str
    port: int
    kind: str  # "main" (REP socket) or "greeting" (PUB socket)
    cross_host: bool
    policy: HealthPolicy
    strict: bool
    request: Optional[Mapping[str, Json]]
    # Why the link cannot work as the inventory has it (verify adds it to a
    # failure); "" when nothing is known to be wrong.
    note: str = ""


@dataclass(frozen=True)
class HealthCheck(_PlanData):
    """An agent's own health socket, checked on 127.0.0.1 inside its container."""

    name: str
    group: str
    container: str
    address: str
    port: int
    kind: str
    policy: HealthPolicy


@dataclass(frozen=True)
class UnitCheck(_PlanData):
    """One entry of the unit_health module's ``units`` option."""

    service: str
    container: Optional[str]
    healthcheck: bool


@dataclass(frozen=True)
class ZmqEndpoint(_PlanData):
    """One entry of the zmq_check module's ``endpoints`` option."""

    _OMIT_NONE = ("group", "policy", "strict", "request")

    name: str
    address: str
    port: int
    kind: str
    group: Optional[str] = None
    policy: Optional[HealthPolicy] = None
    strict: Optional[bool] = None
    request: Optional[Mapping[str, Json]] = None

    @property
    def key(self) -> Tuple[str, str, int, str]:
        return (self.name, self.address, self.port, self.kind)


@dataclass(frozen=True)
class ZmqTarget(_PlanData):
    """One zmq_check run: the container it runs in and what it checks there."""

    container: str
    endpoints: Tuple[ZmqEndpoint, ...]


@dataclass(frozen=True)
class Checks(_PlanData):
    """What verify checks on the host."""

    links: Tuple[LinkCheck, ...]
    health: Tuple[HealthCheck, ...]
    cuda: Tuple[str, ...]  # containers that run a CUDA kernel
    cuda_budgets: Mapping[str, int]  # container -> its VRAM budget in MiB
    vram_enforced: bool  # MPS enforces cuda_budgets
    units: Tuple[UnitCheck, ...]
    zmq: Tuple[ZmqTarget, ...]


@dataclass(frozen=True)
class HostDir(_PlanData):
    """A host directory a group mounts: created with owner, group and mode
    when it is missing, left as it is when it exists."""

    path: str
    owner: str
    group: str
    mode: str


@dataclass(frozen=True)
class MonitoringPlan(_PlanData):
    """The host's exporter and, on the Prometheus host, Prometheus."""

    exporter_port: int
    exporter_service: str
    exporter_config: str  # path under config_dir
    plan_hash: str  # of the host's unit files and configuration without monitoring
    prometheus: bool  # this host runs Prometheus
    prometheus_host: str
    prometheus_address: str  # the only address the exporter answers
    prometheus_port: int
    prometheus_image: str
    prometheus_service: Optional[str]  # on the Prometheus host
    prometheus_config: Optional[str]  # path under config_dir, on the Prometheus host
    rules_file: Optional[str]  # path under config_dir, on the Prometheus host
    scrape_targets: Tuple[str, ...]  # "host=address:port" of every exporter
    # Where verify asks Prometheus: http://127.0.0.1:port, or with viewers
    # https://<LAN address>:port (TLS and basic auth).
    prometheus_url: str = ""
    prometheus_viewers: Tuple[str, ...] = ()  # who may reach it from the LAN


@dataclass(frozen=True)
class HostPlan(_PlanData):
    """One host's whole plan."""

    host: str
    lan_address: str
    network: NetworkPlan
    quadlet_dir: str
    config_dir: str
    unit_prefix: str
    quadlet: Mapping[str, str]  # file name -> text
    config: Mapping[str, str]  # path under config_dir -> text
    units: Tuple[UnitPlan, ...]  # in start order
    start_order: Tuple[str, ...]
    published: Tuple[Published, ...]
    firewall: Tuple[FirewallOpening, ...]
    secrets: Tuple[str, ...]
    images: Tuple[ImageUse, ...]
    host_dirs: Tuple["HostDir", ...]
    prune_patterns: Tuple[str, ...]
    gpu: GpuPlan
    checks: Checks
    monitoring: Optional[MonitoringPlan] = None  # None without ai_monitoring
    # Seconds the deploy waits for every unit to become healthy: the longest
    # chain of depends_on, each unit with its own start timeout.
    start_wait: int = 0

    _DERIVED = ("summary",)

    def as_dict(self) -> Dict[str, Json]:
        out = super().as_dict()
        out["summary"] = summary_lines(self)
        return out


def _link_endpoint(link: LinkCheck) -> ZmqEndpoint:
    return ZmqEndpoint(name=link.name, address=link.address, port=link.port, kind=link.kind,
                       group="%s/%s" % (link.to_host, link.to_group), policy=link.policy,
                       strict=link.strict, request=link.request)


def _health_endpoint(check: HealthCheck) -> ZmqEndpoint:
    return ZmqEndpoint(name=check.name, address=check.address, port=check.port,
                       kind=check.kind, group=check.group, policy=check.policy)


def zmq_targets(links: Sequence[LinkCheck], health: Sequence[HealthCheck]) -> Tuple[ZmqTarget, ...]:
    """The links and health sockets as zmq_check runs: one per container, in
    the order containers first appear (links, then health sockets), each
    endpoint once."""
    by_container: Dict[str, List[ZmqEndpoint]] = {}
    seen = set()
    entries = [(lk.container, _link_endpoint(lk)) for lk in links]
    entries += [(hc.container, _health_endpoint(hc)) for hc in health]
    for container, endpoint in entries:
        if (container,) + endpoint.key in seen:
            continue
        seen.add((container,) + endpoint.key)
        by_container.setdefault(container, []).append(endpoint)
    return tuple(ZmqTarget(container=c, endpoints=tuple(e)) for c, e in by_container.items())


def summary_lines(plan: HostPlan) -> List[str]:
    """A readable table of one host's plan."""
    pod = any(u.group == POD_NAME for u in plan.units)
    lines = ["%s (%s): %d groups, network %s %s%s" % (
        plan.host, plan.lan_address, len([u for u in plan.units if u.group != POD_NAME]),
        plan.network.name, plan.network.subnet,
        ", one namespace for all groups (pod mode)" if pod else "")]
    group_of = {u.service: u.group for u in plan.units}
    row = "  %-26s %-6s %-5s %-10s %s"
    lines.append(row % ("GROUP", "AGENTS", "GPU", "VRAM MiB", "AFTER"))
    for u in plan.units:
        after = ", ".join(group_of[s] for s in u.depends_on)
        lines.append(row % (u.group, len(u.agents), "yes" if u.gpu else "-",
                            u.vram_mib or "-", after or "-"))
    if plan.published:
        lines.append("  published (LAN %s only, firewalled to the consumers):" % plan.lan_address)
        for p in plan.published:
            consumers = ", ".join(p.consumers)
            lines.append("    %-6d %s/%s <- %s" % (p.port, p.group, p.agent, consumers))
    else:
        lines.append("  published: none")
    remote = [lk for lk in plan.checks.links if lk.cross_host]
    lines.append("  links to other hosts: %d" % len(remote))
    for lk in remote:
        target = "%s/%s %s:%d" % (lk.to_host, lk.name, lk.address, lk.port)
        lines.append("    %s -> %s" % (lk.from_group, target))
    mon = plan.monitoring
    if mon is not None:
        lines.append("  exporter: %s:%d (firewalled to %s %s)" % (
            plan.lan_address, mon.exporter_port, mon.prometheus_host, mon.prometheus_address))
        if mon.prometheus:
            lines.append("  prometheus: %s at %s (%s), scraping %s" % (
                mon.prometheus_image, mon.prometheus_url,
                "TLS and basic auth, firewalled to %s" % ", ".join(mon.prometheus_viewers)
                if mon.prometheus_viewers else "this host only",
                ", ".join(mon.scrape_targets)))
    return lines


# ---------------------------------------------------------------------------
# Plain data -> typed objects, dataclass -> argument spec
# ---------------------------------------------------------------------------

_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _origin(hint: Any) -> Any:
    return getattr(hint, "__origin__", None)


def _args(hint: Any) -> Tuple[Any, ...]:
    return tuple(getattr(hint, "__args__", None) or ())


def _optional(hint: Any) -> Optional[Any]:
    """X for Optional[X], else None."""
    if _origin(hint) is Union:
        rest = [a for a in _args(hint) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return None


def _is_plan(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, _PlanData)


def _wrong(where: str, wanted: str, value: Any) -> PlanShapeError:
    return PlanShapeError("%s must be %s, got %s %r" % (where, wanted, type(value).__name__, value))


_SCALARS = {str: "a string", int: "an integer", bool: "a boolean"}


def _build(hint: Any, value: Any, where: str) -> Any:
    """``value`` (plain data) as the field type ``hint`` holds it."""
    inner = _optional(hint)
    if inner is not None:
        return None if value is None else _build(inner, value, where)
    if hint is Any:
        return freeze_json(value)
    if _is_plan(hint):
        return hint.from_dict(value, where)
    if hint is HealthPolicy:
        if not isinstance(value, Mapping):
            raise _wrong(where, "a health policy mapping", value)
        try:
            return normalize_policy(value)
        except PolicyError as exc:
            raise PlanShapeError("%s: %s" % (where, exc))
    origin = _origin(hint)
    if origin in (tuple, Tuple):
        if not isinstance(value, (list, tuple)):
            raise _wrong(where, "a list", value)
        return tuple(_build(_args(hint)[0], v, "%s[%d]" % (where, i)) for i, v in enumerate(value))
    if origin in (Mapping, dict) or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        if not isinstance(value, Mapping):
            raise _wrong(where, "a mapping", value)
        key_hint, value_hint = _args(hint)
        return MappingProxyType({_build(key_hint, k, "%s key" % where):
                                 _build(value_hint, v, "%s[%r]" % (where, k))
                                 for k, v in value.items()})
    if hint in _SCALARS:
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise _wrong(where, _SCALARS[hint], value)
        return value
    raise TypeError("%s: no plan type %r" % (where, hint))


# Option names Ansible's checks take for secret values: the plan holds names
# of secrets (and of keys), never a value, so no option of it hides its value.
_SECRET_LOOKING = re.compile(r"pass(?!ive)|secret|token|key", re.IGNORECASE)


def _option(hint: Any) -> Dict[str, Any]:
    """The Ansible option (type, elements, options) of one field type."""
    inner = _optional(hint)
    if inner is not None:
        return _option(inner)
    if _is_plan(hint):
        return {"type": "dict", "options": argument_spec(hint)}
    if hint in _SCALARS:
        return {"type": hint.__name__}
    origin = _origin(hint)
    if origin in (tuple, Tuple):
        element = _option(_args(hint)[0])
        out = {"type": "list", "elements": element["type"]}
        if "options" in element:
            out["options"] = element["options"]
        return out
    if hint is Any:
        return {"type": "raw"}
    return {"type": "dict"}  # a mapping, a health policy


def argument_spec(cls: type) -> Dict[str, Dict[str, Any]]:
    """An Ansible argument spec for plain data of the dataclass ``cls``: a
    field without a default is required, an ``Optional`` one may be null,
    a default becomes the option's default, nested dataclasses become
    ``options``."""
    hints = _hints(cls)
    spec: Dict[str, Dict[str, Any]] = {}
    for f in fields(cls):
        option = _option(hints[f.name])
        if f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
            if _optional(hints[f.name]) is None:
                option["required"] = True
        elif f.default is not None:
            option["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        if _SECRET_LOOKING.search(f.name):
            option["no_log"] = False
        spec[f.name] = option
    return spec


def plan_hosts(data: Mapping[str, Json]) -> Dict[str, HostPlan]:
    """Every host's plan (``{host: HostPlan.as_dict()}``, the ``plan`` the
    stack_plan action returns) as :class:`HostPlan` objects."""
    if not isinstance(data, Mapping):
        raise _wrong("plan", "a mapping of host name to host plan", data)
    return {str(name): HostPlan.from_dict(host, "plan[%s]" % name) for name, host in data.items()}
