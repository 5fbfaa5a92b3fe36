# -*- coding: utf-8 -*-
"""Release details agree with each other: versions, requirements, pins, and a
first release's changelog."""

from __future__ import annotations

import glob
import json
import os
import re

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPS = os.path.join(REPO, ".deps", "collections", "ansible_collections")


def _yaml(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_roles_require_the_ansible_core_that_meta_runtime_requires():
    required = re.match(r">=\s*(\d+\.\d+)", _yaml("meta/runtime.yml")["requires_ansible"]).group(1)
    for meta in sorted(glob.glob(os.path.join(REPO, "roles", "*", "meta", "main.yml"))):
        with open(meta, encoding="utf-8") as handle:
            info = yaml.safe_load(handle)["galaxy_info"]
        assert str(info["min_ansible_version"]) == required, meta


def test_no_module_is_newer_than_the_collection():
    version = tuple(int(p) for p in _yaml("galaxy.yml")["version"].split("."))
    for path in sorted(glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))):
        with open(path, encoding="utf-8") as handle:
            found = re.findall(r'^version_added:\s*"?([\d.]+)"?', handle.read(), re.MULTILINE)
        assert found, path
        assert tuple(int(p) for p in found[0].split(".")) <= version, path


def test_the_execution_environment_pins_the_tested_dependency_versions():
    tested = {c["name"]: c["version"] for c in _yaml("requirements.yml")["collections"]}
    ee = _yaml("execution-environment.yml")["dependencies"]["galaxy"]["collections"]
    pinned = {c["name"]: c["version"] for c in ee if "." in c["name"] and "/" not in c["name"]}
    assert pinned == {name: "==" + version for name, version in tested.items()}
    assert set(tested) == set(_yaml("galaxy.yml")["dependencies"])
    for name, version in tested.items():
        manifest = os.path.join(DEPS, *name.split("."), "MANIFEST.json")
        if os.path.exists(manifest):  # the collections of `make deps`
            with open(manifest, encoding="utf-8") as handle:
                assert json.load(handle)["collection_info"]["version"] == version, name


def test_the_first_release_reads_as_one():
    changes = _yaml("changelogs/changelog.yaml")
    first = changes["releases"]["0.1.0"]["changes"]
    assert first["release_summary"].startswith("First release.")
    assert first["major_changes"] and first["minor_changes"]
    assert not set(first) & {"bugfixes", "breaking_changes", "removed_features",
                             "deprecated_features"}
    with open(os.path.join(REPO, "CHANGELOG.md"), encoding="utf-8") as handle:
        text = handle.read()
    assert "## v0\\.1\\.0" in text and "New Modules" in text and "Bugfixes" not in text
