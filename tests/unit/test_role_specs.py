# -*- coding: utf-8 -*-
"""Every role's argument spec shows the real defaults: those of its
defaults/main.yml, for every variable defined there."""

from __future__ import annotations

import os

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLES = ("podman", "nvidia_toolkit", "stack")
# Defaults computed from other variables: a type's example would mislead, so
# the description says how the value is found.
COMPUTED = {"nvidia_toolkit_enabled", "nvidia_toolkit_platform"}


def _load(role, *path):
    with open(os.path.join(REPO, "roles", role, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", ROLES)
def test_the_spec_shows_every_default_of_defaults_main(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(options)) == []
    wrong = {name: (options[name].get("default", "<none>"), value)
             for name, value in defaults.items()
             if name not in COMPUTED and options[name].get("default", "<none>") != value}
    assert wrong == {}
    for name in COMPUTED & set(defaults):
        assert "default" not in options[name] and "By default" in " ".join(
            options[name]["description"])
