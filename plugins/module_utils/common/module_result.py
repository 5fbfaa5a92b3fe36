# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of a module whose logic lives in a ``*_run`` module_utils: the
run returns the module's result, with ``failed: True`` and ``msg`` where
the module fails, and never exits itself (so ``host_checks`` can run it in
a thread)."""

from __future__ import annotations


def finish(module, result):
    """Exit ``module`` with ``result``: fail_json when it says it failed."""
    result = dict(result)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
