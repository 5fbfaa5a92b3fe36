# -*- coding: utf-8 -*-
"""Whether the machine running the tests has a usable NVIDIA driver."""

from __future__ import annotations

from ansible_collections.ai_system.containers.plugins.module_utils.verify.nvml_binding import CtypesNvml


def driver_present():
    try:
        CtypesNvml().nvmlInit()
        return True
    except Exception:  # pylint: disable=broad-except  # any failure means no usable driver
        return False
