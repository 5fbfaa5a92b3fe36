# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The C(units) option of the modules that take the plan's units
(stack_units, quadlet_check): one entry per unit with every field of the
plan's unit; the spec is derived from plan_contract.UnitPlan
(plan_contract.argument_spec), and a unit test keeps the two equal."""

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  units:
    description: The plan's units (C(plan.units)).
    type: list
    elements: dict
    suboptions:
      group:
        description: The group the unit runs.
        type: str
        required: true
      unit_file:
        description: The unit's Quadlet file name, under the Quadlet directory.
        type: str
        required: true
      service:
        description: The unit's service.
        type: str
        required: true
      container:
        description: The unit's container.
        type: str
        required: true
      image:
        description: The image the unit runs.
        type: str
        required: true
      build:
        description: Whether the collection builds the image.
        type: bool
        required: true
      depends_on:
        description: Services of the same host this unit requires.
        type: list
        elements: str
        required: true
      gpu:
        description: Whether the unit uses a GPU.
        type: bool
        required: true
      cdi_devices:
        description: The CDI devices of the unit's GPU.
        type: list
        elements: str
        required: true
      vram_mib:
        description: The unit's VRAM budget in MiB, V(null) without one.
        type: int
      secrets:
        description: Names of the Podman secrets the unit reads; their identity is part of what it runs.
        type: list
        elements: str
        required: true
      config_files:
        description: Endpoint maps and configuration files of the unit, relative to the configuration directory.
        type: list
        elements: str
        required: true
      restart_on_change:
        description: Absolute paths of host files whose change restarts the unit.
        type: list
        elements: str
        required: true
      healthcheck:
        description: Whether the unit's container has a health check.
        type: bool
        required: true
      agents:
        description: The agents the unit runs.
        type: list
        elements: str
        required: true
"""
