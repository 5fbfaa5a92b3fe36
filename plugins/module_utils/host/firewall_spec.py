# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of a host's cross-host openings, shared by the modules
that hold them (nft_table, firewall_rules; documented by the doc fragment
ai_system.containers.openings)."""

from __future__ import annotations

OPENINGS_SPEC = {
    "lan_address": {"type": "str", "required": True},
    "openings": {"type": "list", "elements": "dict", "required": True, "options": {
        "port": {"type": "int", "required": True},
        "proto": {"type": "str", "default": "tcp", "choices": ["tcp", "udp"]},
        "source": {"type": "str", "required": True},
        "source_host": {"type": "str"},
        "group": {"type": "str"},
        "agent": {"type": "str"},
    }},
}
