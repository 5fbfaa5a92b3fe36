# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Quadlet key of a unit comes from which field of the inventory model.

Pure Python, no Ansible imports. Each table is one unit section's keys in the
order they are written. A row reads a value from a :class:`KeySource` (the
group, the host, its settings and what the plan decided about the group) by
its dotted path, and writes nothing for ``None``, ``False``, ``""`` or an
empty list, one line for a single value and one line per item for a list
(``quadlet.py`` formats booleans and numbers and escapes ``%`` and ``$``).
A row with ``computed`` names the renderer's method that gives the values of
a key no single field holds (``host_render.py``).

Adding a key that a model field already holds is one row here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet

# The marker label of everything the collection makes.
LABEL_MANAGED = "io.ai-system.managed-by=ai_system.containers"


def entrypoint_value(argv: Sequence[str]) -> str:
    """Quadlet's Entrypoint=: one word as it is, several as a JSON array."""
    if len(argv) == 1:
        return argv[0]
    return json.dumps(list(argv))


def exec_value(argv: Sequence[str]) -> str:
    """Quadlet's Exec=: the words, each quoted where it needs it."""
    return " ".join(quadlet.quote(c) for c in argv)


@dataclass(frozen=True)
class KeySource:
    """What a row reads: ``group`` (stack_model.Group, or None for a
    host-wide unit), ``host`` (stack_model.Host), ``settings`` (the host's
    Settings) and the plan's decisions about the group."""

    host: Any
    settings: Any
    group: Any = None
    health_on: bool = False  # the group's unit has a health check
    gpu: bool = False  # the group uses a GPU


@dataclass(frozen=True)
class Key:
    """One Quadlet key of a section.

    ``source``: dotted path of the value on the :class:`KeySource`;
    ``const``: a fixed value instead; ``computed``: the renderer's method
    (``key_<computed>(source)``) returning the list of values; ``fmt``:
    applied to a value that is written; ``when``/``unless``: dotted paths
    that must be true/false for the key to be written; ``inventory``: the
    inventory key that sets it, which ``quadlet_options`` may then not set
    (:data:`QUADLET_OWNED`)."""

    key: str
    source: str = ""
    const: Any = None
    computed: str = ""
    fmt: Optional[Callable[[Any], Any]] = None
    when: Tuple[str, ...] = ()
    unless: Tuple[str, ...] = ()
    inventory: str = ""

    def values(self, src: KeySource, computed: Callable[[str, KeySource], List[Any]]
               ) -> List[Any]:
        if not all(attrgetter(p)(src) for p in self.when) or any(
                attrgetter(p)(src) for p in self.unless):
            return []
        if self.computed:
            return list(computed(self.computed, src))
        value = self.const if self.const is not None else attrgetter(self.source)(src)
        if value is None or value is False or (
                isinstance(value, (str, tuple, list)) and not value):
            return []
        if self.fmt is not None:
            return [self.fmt(value)]
        return list(value) if isinstance(value, (tuple, list)) else [value]


HEALTH = ("health_on",)

CONTAINER_KEYS: Tuple[Key, ...] = (
    Key("ContainerName", "group.name", inventory="the group's name"),
    Key("HostName", "group.name", inventory="the group's name"),
    Key("Image", computed="image", inventory="image or build"),
    Key("Network", computed="network", inventory="the host's ai_network_name and ai_network_mode"),
    Key("Label", computed="group_label"),
    Key("Label", const=LABEL_MANAGED),
    Key("Entrypoint", "group.entrypoint", fmt=entrypoint_value, inventory="entrypoint"),
    Key("Exec", "group.command", fmt=exec_value, inventory="command"),
    Key("Environment", computed="environment", inventory="env"),
    Key("AddDevice", "group.gpu.cdi_names", when=("gpu",), inventory="gpu or devices"),
    Key("AddDevice", "group.devices"),
    Key("Volume", computed="volumes", inventory="volumes or readonly_mounts"),
    Key("Secret", computed="secrets", inventory="secrets"),
    Key("PublishPort", computed="published",
        inventory="connects_to (other hosts' consumers are published and firewalled by the plan)"),
    Key("NoNewPrivileges", "group.security.no_new_privileges",
        inventory="security.no_new_privileges"),
    Key("DropCapability", "group.security.drop_capabilities",
        inventory="security.drop_capabilities"),
    Key("AddCapability", "group.security.add_capabilities", inventory="security.add_capabilities"),
    Key("ReadOnly", "group.security.read_only", inventory="security.read_only"),
    Key("ReadOnlyTmpfs", "group.security.read_only", inventory="security.read_only"),
    Key("UserNS", "group.security.userns", unless=("gpu",), inventory="security.userns"),
    Key("SecurityLabelDisable", computed="label_disable",
        inventory="security.security_label_disable"),
    Key("HealthCmd", computed="health_cmd", when=HEALTH, inventory="health.cmd"),
    Key("HealthInterval", "group.health.interval", when=HEALTH, inventory="health.interval"),
    Key("HealthTimeout", "group.health.timeout", when=HEALTH, inventory="health.timeout"),
    Key("HealthRetries", "group.health.retries", when=HEALTH, inventory="health.retries"),
    Key("HealthStartPeriod", "group.health.start_period", when=HEALTH,
        inventory="health.start_period"),
    Key("HealthOnFailure", "group.health.on_failure", when=HEALTH, inventory="health.on_failure"),
    Key("Notify", const="healthy", when=HEALTH + ("settings.notify_healthy",),
        inventory="ai_notify_healthy"),
    Key("PodmanArgs", computed="limits"),
)

CONTAINER_SERVICE_KEYS: Tuple[Key, ...] = (
    Key("Restart", const="on-failure"),
    Key("RestartSec", "settings.restart_sec", fmt=lambda s: "%ds" % s, inventory="ai_restart_sec"),
    Key("TimeoutStartSec", computed="start_timeout", inventory="ai_start_timeout"),
)

INSTALL_KEYS: Tuple[Key, ...] = (
    Key("WantedBy", const="multi-user.target default.target"),
)

NETWORK_KEYS: Tuple[Key, ...] = (
    Key("NetworkName", "settings.network_name"),
    Key("Subnet", "host.subnet"),
    Key("Label", const=LABEL_MANAGED),
)

BUILD_KEYS: Tuple[Key, ...] = (
    Key("ImageTag", "group.image_ref"),
    Key("SetWorkingDirectory", "group.build.context"),
    Key("File", "group.build.file"),
    Key("Label", const=LABEL_MANAGED),
)


def section(title: str, keys: Sequence[Key], src: KeySource,
            computed: Optional[Callable[[str, KeySource], List[Any]]] = None
            ) -> Tuple[str, List[Tuple[str, quadlet.Value]]]:
    """``(title, [(key, value)])`` of one section from its table."""
    def no_computed(name: str, _src: KeySource) -> List[Any]:
        raise ValueError("key method %s is not given for section %s" % (name, title))
    pairs: List[Tuple[str, quadlet.Value]] = []
    for row in keys:
        pairs.extend((row.key, v) for v in row.values(src, computed or no_computed))
    return title, pairs


def computed_by(renderer: Any) -> Callable[[str, KeySource], List[Any]]:
    """The ``computed`` callback of :func:`section` for a renderer with
    ``key_<name>(source)`` methods."""
    def call(name: str, src: KeySource) -> List[Any]:
        return list(getattr(renderer, "key_" + name)(src))
    return call


# The tables of a group's container unit, by section.
CONTAINER_UNIT: Tuple[Tuple[str, Tuple[Key, ...]], ...] = (
    ("Container", CONTAINER_KEYS),
    ("Service", CONTAINER_SERVICE_KEYS),
    ("Install", INSTALL_KEYS),
)
# Keys of a group's container unit the plan writes outside the tables.
OWNED_OUTSIDE_TABLES = {
    ("Unit", "Description"): "description",
    ("Container", "EnvironmentFile"): "env or secrets",
}
# (section, key) -> the inventory key to use instead: what a group's
# quadlet_options may not set, since the plan writes it.
QUADLET_OWNED: Dict[Tuple[str, str], str] = dict(OWNED_OUTSIDE_TABLES)
QUADLET_OWNED.update(((title, row.key), row.inventory) for title, table in CONTAINER_UNIT
                     for row in table if row.inventory and (title, row.key) not in QUADLET_OWNED)
