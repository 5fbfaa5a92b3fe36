# -*- coding: utf-8 -*-
"""Fixtures of the verify report tests: the production plan and the results
a healthy system gives for it."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.verify_results import healthy_host_results


@pytest.fixture
def plan(production):
    result = build_plan(production)
    assert result["ok"], result["errors"]
    return result["hosts"]


@pytest.fixture
def results(plan):
    return {name: healthy_host_results(host_plan) for name, host_plan in plan.items()}
