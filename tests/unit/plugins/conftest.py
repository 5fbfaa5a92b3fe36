# -*- coding: utf-8 -*-
"""Fixtures shared by the plugin tests."""

from __future__ import annotations

from typing import Iterator

import pytest
import zmq


@pytest.fixture(scope="module")
def ctx() -> Iterator[zmq.Context]:
    """One ZMQ context for a test module's peers."""
    context = zmq.Context()
    yield context
    context.destroy(linger=0)
