# -*- coding: utf-8 -*-
"""The two-host lab for whole-system tests (see support/lab.py)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.inventory import load_inventory_dir
from support.lab import LAB_IMAGES, LAB_INVENTORY, Lab, lab_lock, molecule, sh


@pytest.fixture(scope="session")
def lab_plan():
    result = build_plan(load_inventory_dir(LAB_INVENTORY))
    assert result["errors"] == []
    return result


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    for archive in ("stand-in-agent.tar", "lab-redis.tar"):
        if not os.path.exists(os.path.join(LAB_IMAGES, archive)):
            pytest.fail("lab image archive %s is missing: run `make images`" % archive)
    # AI_SYSTEM_LAB_REUSE=1 keeps a running lab between sessions (for work on
    # the tests themselves); by default every session starts from fresh hosts.
    reuse = os.environ.get("AI_SYSTEM_LAB_REUSE") == "1"
    with lab_lock():
        if not reuse:
            molecule("destroy")
        molecule("create")
        try:
            yield Lab(tmp_path_factory.mktemp("lab"))
        finally:
            if not reuse:
                molecule("destroy")
                leftovers = sh(["podman", "ps", "-a", "--filter", "label=owner=molecule",
                                "-q"]).stdout
                assert leftovers.strip() == "", "lab containers left behind"


def pytest_collection_modifyitems(items):
    """test_lab_system.py first: it starts from the fresh hosts and deploys;
    the firewall and recovery files go on with the lab it leaves."""
    items.sort(key=lambda item: item.fspath.basename != "test_lab_system.py")
