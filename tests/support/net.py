# -*- coding: utf-8 -*-
"""Loopback helpers for tests that open real sockets."""

from __future__ import annotations

import socket


def closed_port() -> int:
    """A loopback port nobody listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
