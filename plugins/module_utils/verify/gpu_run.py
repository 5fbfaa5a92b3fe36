# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the gpu_facts module does, as a function that returns its result.

The module ai_system.containers.gpu_facts is a thin wrapper around :func:`run`;
ai_system.containers.host_checks calls :func:`run` too, for its ``gpu`` check.
Reading NVML and the VRAM budget check are nvml_facts's.
"""

from __future__ import annotations

from ansible_collections.ai_system.containers.plugins.module_utils.verify import nvml_facts

ARGUMENT_SPEC = dict(
    required=dict(type="bool", default=False),
    vram_budgets=dict(type="dict"),
    vram_reserve_mib=dict(type="int", default=0),
    vram_gpu_index=dict(type="int"),
)


def run(module):
    """Everything gpu_facts does for ``module.params``: the result it ends with,
    with ``failed: True`` and ``msg`` when the module fails."""
    facts, error = nvml_facts.gather(module.params)
    if error:
        return dict(facts, failed=True, msg=error)
    return dict(facts, changed=False, ansible_facts={"ai_gpu_facts": facts})
