#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wsl_facts
short_description: Tell whether a host is a WSL2 distribution, and read its GPU layout
version_added: "0.1.0"
description:
  - Decides the platform the GPU roles act for. V(auto) reads C(/proc/sys/kernel/osrelease) (WSL2's kernels
    say C(microsoft-standard) and, since 5.10, C(WSL2)); O(platform=wsl) or O(platform=linux) force the
    decision. WSL1 (C(4.4.0-<build>-Microsoft)) fails, since it has no GPU access.
  - Under WSL2 the NVIDIA driver is the Windows driver. The module reports WSL's library directory
    (C(/usr/lib/wsl/lib)), C(/dev/dxg), and a SHA-256 digest of the driver store C(/usr/lib/wsl/drivers)
    (every file's name, size and modification time), which changes when the Windows driver is updated.
  - Reports the paths that show a Linux NVIDIA driver (C(/proc/driver/nvidia), C(/sys/module/nvidia),
    C(/dev/nvidiactl)), which must not exist under WSL2.
  - The result is also set as the host fact C(ai_system_wsl_facts).
author:
  - ai_system.containers maintainers (@ai-system)
options:
  platform:
    description:
      - V(auto) decides from the kernel's release; V(wsl) and V(linux) force the decision.
    type: str
    default: auto
    choices: [auto, wsl, linux]
  root:
    description:
      - Directory that WSL's paths are read under. V(/) on a real host; the lab's stand-in directory on
        a lab host that simulates WSL's GPU layout (no GPU, no driver).
    type: path
    default: /
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
notes:
  - Not run on WSL hardware by the collection's tests; its parsers are tested with real file contents.
"""

EXAMPLES = r"""
- name: Decide whether the host is WSL2 and read its driver store
  ai_system.containers.wsl_facts:
  register: wsl

- name: Force WSL2 (the inventory knows better)
  ai_system.containers.wsl_facts:
    platform: wsl
"""

RETURN = r"""
platform:
  description: V(wsl) or V(linux).
  returned: success
  type: str
  sample: wsl
evidence:
  description: Why the platform was chosen.
  returned: always
  type: str
  sample: kernel 5.15.167.4-microsoft-standard-WSL2 is WSL2's
osrelease:
  description: The kernel's release.
  returned: always
  type: str
  sample: 5.15.167.4-microsoft-standard-WSL2
wsl_version:
  description: 2 or 1 from the kernel's release, V(null) for another kernel.
  returned: always
  type: int
  sample: 2
root:
  description: O(root).
  returned: always
  type: str
  sample: /
lib_dir:
  description: WSL's library directory.
  returned: always
  type: str
  sample: /usr/lib/wsl/lib
lib_dir_exists:
  description: Whether it exists.
  returned: always
  type: bool
  sample: true
nvml_library:
  description: Path of C(libnvidia-ml.so.1) in the library directory, V(null) when it is not there.
  returned: always
  type: str
  sample: /usr/lib/wsl/lib/libnvidia-ml.so.1
dxg:
  description: Path of the GPU device WSL2 exposes.
  returned: always
  type: str
  sample: /dev/dxg
dxg_exists:
  description: Whether it exists.
  returned: always
  type: bool
  sample: true
driver_store:
  description: The driver store's path.
  returned: always
  type: str
  sample: /usr/lib/wsl/drivers
driver_store_files:
  description: Number of files in the driver store (0 when not WSL).
  returned: always
  type: int
  sample: 312
driver_store_digest:
  description: SHA-256 over every file's name, size and modification time; V(null) when not WSL.
  returned: always
  type: str
  sample: 6f1c0c1bd4b8f6d2b0a6f0f0e1d6c3b5a0e9c1d2f3a4b5c6d7e8f90a1b2c3d4e
nvidia_driver_dirs:
  description: Driver store directories that hold NVIDIA's C(libcuda.so.1.1).
  returned: always
  type: list
  elements: str
  sample: [nv_dispi.inf_amd64_8b6a0e4a1f2c3d4e]
linux_driver:
  description: Paths that show a Linux NVIDIA driver; must be empty under WSL2.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common import module_result
from ansible_collections.ai_system.containers.plugins.module_utils.host import wsl_platform


def main():
    module = AnsibleModule(argument_spec=wsl_platform.ARGUMENT_SPEC, supports_check_mode=True)
    module_result.finish(module, wsl_platform.run(module))


if __name__ == "__main__":
    main()
