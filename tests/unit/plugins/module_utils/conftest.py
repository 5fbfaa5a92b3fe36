# -*- coding: utf-8 -*-
"""Shared inventories for the plan tests."""

from __future__ import annotations

import copy
import glob
import os

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def load_inventory_dir(path):
    """host name -> merged variables, as Ansible would see them (all, then host)."""
    shared = {}
    for name in sorted(glob.glob(os.path.join(path, "group_vars", "all", "*.yml")) +
                       glob.glob(os.path.join(path, "group_vars", "all.yml"))):
        with open(name) as handle:
            shared.update(yaml.safe_load(handle) or {})
    hosts = {}
    for entry in sorted(glob.glob(os.path.join(path, "host_vars", "*"))):
        files = sorted(glob.glob(os.path.join(entry, "*.yml"))) if os.path.isdir(entry) \
            else [entry]
        data = dict(shared)
        for name in files:
            with open(name) as handle:
                data.update(yaml.safe_load(handle) or {})
        hosts[os.path.basename(entry).rsplit(".yml", 1)[0]] = data
    return hosts


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
