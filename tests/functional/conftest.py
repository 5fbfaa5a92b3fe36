# -*- coding: utf-8 -*-
"""Playbook tests run on the controller only."""

from __future__ import annotations

import pytest

from support.ansible_run import run_playbook


@pytest.fixture
def playbook(tmp_path):
    """playbook(name, inventory, extravars=None, check=False, diff=False) -> Run."""
    counter = iter(range(1000))

    def run(name, inventory, extravars=None, check=False, diff=False, tags=None):
        return run_playbook(tmp_path / ("runner%d" % next(counter)), name, inventory,
                            extravars=extravars, check=check, diff=diff, tags=tags)

    return run
