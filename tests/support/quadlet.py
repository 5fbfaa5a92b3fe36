# -*- coding: utf-8 -*-
"""Podman's Quadlet generator, run as a validator over rendered unit files."""

from __future__ import annotations

import os
import subprocess
from typing import Mapping

import pytest

QUADLET = "/usr/libexec/podman/quadlet"

needs_quadlet = pytest.mark.skipif(not os.access(QUADLET, os.X_OK),
                                   reason="Podman's Quadlet generator is absent")


def generated_service(files: Mapping[str, str], directory, service: str) -> str:
    """Write ``files`` into ``directory``, run ``quadlet -dryrun`` there and
    return the generated text of ``service`` (the generator must accept all)."""
    for name, text in files.items():
        (directory / name).write_text(text)
    env = {"QUADLET_UNIT_DIRS": str(directory), "PATH": os.environ.get("PATH", "")}
    out = subprocess.run([QUADLET, "-dryrun"], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return out.split("---%s---" % service, 1)[1].split("\n---", 1)[0]
