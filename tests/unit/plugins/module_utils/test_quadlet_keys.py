# -*- coding: utf-8 -*-
"""The Quadlet key tables: what a row writes for each kind of value, and
that every row reads a field the model has."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet_keys
from ansible_collections.ai_system.containers.plugins.module_utils.model.model_load import load_hosts
from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet_keys import (
    CONTAINER_UNIT, QUADLET_OWNED, Key, KeySource, section,
)
from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


class Thing:
    def __init__(self, **values):
        self.__dict__.update(values)


def src(**group):
    return KeySource(host=Thing(subnet="10.89.0.0/24"), settings=Thing(restart_sec=5, notify_healthy=False),
                     group=Thing(**group), health_on=True)


def no_computed(name, source):
    raise AssertionError("no computed key expected, got %s" % name)


@pytest.mark.parametrize("value, written", [
    (None, []), (False, []), ("", []), ((), []), ([], []),
    (True, [True]), (0, [0]), ("x", ["x"]), (("a", "b"), ["a", "b"]),
])
def test_a_row_writes_nothing_for_an_empty_value_and_one_line_per_item(value, written):
    assert Key("K", "group.v").values(src(v=value), no_computed) == written


def test_fmt_when_unless_const_and_computed():
    assert Key("K", "group.v", fmt=lambda v: "%ds" % v).values(src(v=7), no_computed) == ["7s"]
    assert Key("K", "group.v", fmt=str).values(src(v=None), no_computed) == []
    assert Key("K", const="c", when=("health_on",)).values(src(), no_computed) == ["c"]
    assert Key("K", const="c", when=("health_on", "settings.notify_healthy")).values(
        src(), no_computed) == []
    assert Key("K", const="c", unless=("gpu",)).values(src(), no_computed) == ["c"]
    assert Key("K", computed="two").values(src(), lambda name, s: [name, name]) == ["two", "two"]
    assert section("Network", (Key("Subnet", "host.subnet"), Key("Label", const="x=y")),
                   src()) == ("Network", [("Subnet", "10.89.0.0/24"), ("Label", "x=y")])
    with pytest.raises(ValueError, match="key method image is not given for section Container"):
        section("Container", (Key("Image", computed="image"),), src())


def test_every_row_reads_what_the_model_has():
    """Each table's dotted paths resolve on the groups of the production
    inventory (a row for a field the model lacks fails here)."""
    hosts, problems = load_hosts(load_inventory_dir(os.path.join(REPO, "inventory", "production")))
    assert not problems.items
    host = hosts[sorted(hosts)[0]]
    for group in host.groups.values():
        source = KeySource(host=host, settings=host.settings, group=group, health_on=True,
                           gpu=group.gpu is not None)
        tables = [t for _title, t in CONTAINER_UNIT] + [quadlet_keys.NETWORK_KEYS]
        if group.build is not None:
            tables.append(quadlet_keys.BUILD_KEYS)
        for table in tables:
            for row in table:
                row.values(source, lambda name, s: [])


def test_owned_keys_come_from_the_rows():
    for title, table in CONTAINER_UNIT:
        for row in table:
            if row.inventory:
                assert (title, row.key) in QUADLET_OWNED
    assert QUADLET_OWNED[("Container", "HealthInterval")] == "health.interval"
    assert QUADLET_OWNED[("Unit", "Description")] == "description"
    assert ("Container", "Label") not in QUADLET_OWNED
    assert ("Container", "PodmanArgs") not in QUADLET_OWNED
