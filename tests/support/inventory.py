# -*- coding: utf-8 -*-
"""Read an inventory folder's variables the way Ansible merges them."""

from __future__ import annotations

import glob
import os

import yaml


def load_inventory_dir(path):
    """host name -> merged variables (group_vars/all, then host_vars/<host>)."""
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
