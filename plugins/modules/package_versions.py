#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_versions
short_description: Report the installed and the available version of some packages
version_added: "0.1.0"
description:
  - Plumbing of the collection (the podman and nvidia_toolkit roles' version decisions), documented for those who read the roles; its options
    may change between releases. Your playbooks use the collection's roles and playbooks instead.
  - For every package in O(names), reports the version installed on the host and the version its
    package sources would install (the candidate), without installing, upgrading or refreshing
    anything.
  - With apt, reads C(apt-cache policy NAME...). Its C(Installed) and C(Candidate) lines honour the
    pinning in C(/etc/apt/preferences); C((none)) is returned as V(null). A package apt does not
    know at all is not printed by apt and is returned with both versions V(null).
  - With dnf, reads C(rpm --query) for the installed version and C(dnf repoquery --latest-limit=1)
    for the newest version in the enabled repositories, both as C(%{VERSION}) (no epoch, no
    release).
  - Besides the versions as the package manager prints them, returns their leading dotted number
    (epoch and Debian or distribution suffixes removed, V(5.4.2) for V(1:5.4.2+ds1-2+b2)), which
    compares with the C(version) test, and the newer of the two.
  - The package lists are read as they are; refresh them first (for example with
    M(ansible.builtin.apt) and C(update_cache=true)) where they may be old.
  - Every command runs with C(LANG=C).
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  names:
    description:
      - Package names, as the package manager prints them (C(podman), C(python3-zmq)).
      - An empty list returns empty results without running anything.
    type: list
    elements: str
    required: true
  manager:
    description:
      - The package manager to ask.
      - V(auto) uses apt where C(apt-cache) is on the PATH, and dnf where C(rpm) is.
    type: str
    choices: [auto, apt, dnf]
    default: auto
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode and never reports a change.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Hosts with apt (Debian, Ubuntu) or with rpm and dnf (Fedora, RHEL-compatible).
notes:
  - The module fails when a package manager command fails, with the command's exit status and its
    message; a package that is neither installed nor available is not an error but is listed in
    RV(missing).
seealso:
  - module: ansible.builtin.package_facts
"""

EXAMPLES = r"""
- name: Ask the package manager what is installed and available
  ai_system.containers.package_versions:
    names: [podman, crun, python3-zmq]
  register: versions

- name: Require Podman 4.4 or later, installed or on offer
  ansible.builtin.assert:
    that:
      - versions.packages.podman.newest_version is not none
      - versions.packages.podman.newest_version is version('4.4', '>=')
    fail_msg: "Podman {{ versions.packages.podman.newest_version }} is too old."

- name: Refuse packages the host cannot install
  ansible.builtin.fail:
    msg: "Not available: {{ versions.missing | join(', ') }}"
  when: versions.missing | length > 0
"""

RETURN = r"""
manager:
  description: The package manager that was asked, V(apt) or V(dnf).
  returned: always
  type: str
  sample: apt
packages:
  description:
    - One entry per package in O(names), keyed by name.
    - C(installed) is the installed version as the package manager prints it, V(null) when the
      package is not installed.
    - C(candidate) is the version the package sources offer (with apt, the one C(apt-get install)
      would choose), V(null) when they offer none.
    - C(installed_version) and C(candidate_version) are their leading dotted numbers without the
      epoch, V(null) when there is no version or it does not begin with a digit.
    - C(newest_version) is the higher of C(installed_version) and C(candidate_version).
    - C(available) tells whether the package is installed or offered.
  returned: always
  type: dict
  sample:
    podman:
      installed: null
      candidate: 4.3.1+ds1-8+deb12u1+b3
      installed_version: null
      candidate_version: 4.3.1
      newest_version: 4.3.1
      available: true
    python3-pynvml:
      installed: null
      candidate: null
      installed_version: null
      candidate_version: null
      newest_version: null
      available: false
missing:
  description: The packages of O(names) that are neither installed nor offered, in the order given.
  returned: always
  type: list
  elements: str
  sample: [python3-pynvml]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.host.package_versions import (
    COMMAND_ENV,
    MANAGERS,
    probe,
)

ARGUMENT_SPEC = dict(
    names=dict(type="list", elements="str", required=True),
    manager=dict(type="str", choices=list(MANAGERS), default="auto"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result, error = probe(
        module.params["names"], module.params["manager"],
        run=lambda argv: module.run_command(argv, environ_update=COMMAND_ENV),
        which=module.get_bin_path)
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
