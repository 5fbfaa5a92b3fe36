# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack role installs every module_utils file the exporter imports.

The exporter runs on the host from ``ai_config_dir/lib/exporter/`` with the
files of ``__stack_exporter_files`` (roles/stack/vars/main.yml) and nothing
else of the collection: a module it imports that is not there stops it."""

from __future__ import annotations

import ast
import os

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULE_UTILS = os.path.join(REPO, "plugins", "module_utils")
PREFIX = "ansible_collections.ai_system.containers.plugins.module_utils"


def _imports(name):
    """The module_utils that ``name`` (``package/module``) imports, as ``package/module``."""
    with open(os.path.join(MODULE_UTILS, name + ".py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(PREFIX + "."):
            continue
        parts = node.module[len(PREFIX) + 1:].split(".")
        if len(parts) == 1:  # from ...module_utils.<package> import <module>, ...
            yield from ("%s/%s" % (parts[0], alias.name) for alias in node.names)
        else:  # from ...module_utils.<package>.<module> import <names>
            yield "%s/%s" % (parts[0], parts[1])


def _closure(start):
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(name))
    return seen


def test_the_exporter_gets_every_module_it_imports():
    with open(os.path.join(REPO, "roles", "stack", "vars", "main.yml"), encoding="utf-8") as handle:
        text = handle.read().replace("!unsafe", "")
    shipped = {name[:-len(".py")] for name in yaml.safe_load(text)["__stack_exporter_files"]}
    assert _closure("monitoring/exporter") == shipped
    assert {"verify/nvml_binding", "verify/cuda_probe"} <= shipped
