# -*- coding: utf-8 -*-
"""Fixtures shared by the plugin tests: a ZMQ context and the inventories the
plan tests start from (a small sound one, production, the reference)."""

from __future__ import annotations

import copy
import os
from typing import Iterator

import pytest
import zmq

from support.inventory import load_inventory_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


@pytest.fixture(scope="module")
def ctx() -> Iterator[zmq.Context]:
    """One ZMQ context for a test module's peers."""
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


BASE = {
    "mainpc": {
        "ai_lan_address": "10.0.0.16",
        "ai_network_subnet": "172.20.0.0/16",
        "ai_gpu": {"model": "RTX 4090", "memory_mib": 24564},
        "ai_secrets": {"token": "s3cr3t-value"},
        "ai_group_defaults": {"image": "localhost/agents:1"},
        "ai_groups": {
            "core": {
                "agents": {"Twin": {"port": 7120, "health_port": 8120},
                           "Coordinator": {"port": 7121, "health_port": 8121}},
            },
            "models": {
                "gpu": {"devices": ["all"], "capabilities": ["compute", "utility"],
                        "vram_mib": 8000},
                "depends_on": ["core"],
                "cpus": 2,
                "memory": "4g",
                "agents": {"ModelManager": {"port": 5570, "health_port": 6570}},
                "connects_to": ["Memory"],
                "secrets": ["token"],
            },
        },
    },
    "pc2": {
        "ai_lan_address": "10.0.0.17",
        "ai_network_subnet": "172.21.0.0/16",
        "ai_gpu": False,
        "ai_group_defaults": {"image": "localhost/agents:1"},
        "ai_groups": {
            "store": {
                "agents": {"Memory": {"port": 7140, "health_port": 7141}},
                "connects_to": ["Twin"],
                "memory": "512m",
            },
            "redis": {
                "image": "localhost/redis:7",
                "ports": [{"port": 6379, "name": "redis"}],
                "health": {"cmd": "redis-cli ping"},
                "volumes": ["redis-data:/data"],
            },
        },
    },
}


@pytest.fixture
def inventory():
    """A small sound two-host inventory each test may break."""
    return copy.deepcopy(BASE)


@pytest.fixture
def production():
    return load_inventory_dir(os.path.join(REPO, "inventory", "production"))


@pytest.fixture
def reference():
    return load_inventory_dir(os.path.join(REPO, "tests", "fixtures", "reference"))
