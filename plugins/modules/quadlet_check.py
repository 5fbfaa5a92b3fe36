#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: quadlet_check
short_description: Run Podman's Quadlet generator over unit files before they are installed
version_added: "0.1.0"
description:
  - Writes O(files) into a private temporary directory on the host and runs Podman's Quadlet generator
    there in dry-run mode (C(quadlet -dryrun)), the way systemd would run it at C(daemon-reload), with
    the host's own Podman.
  - Fails, naming each rejected or skipped file (and its group, from O(units)) with the generator's
    reason, when any file would not become a service. Nothing is installed and nothing is reloaded, so
    the units already running keep running.
  - Read-only; it runs the same in check mode, so C(--check) shows a unit the generator would reject.
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ai_system.containers.plan_units
options:
  files:
    description:
      - Unit file name to content, for example the plan's C(quadlet).
    type: dict
    required: true
  units:
    description:
      - The plan's units (C(plan.units)); their C(unit_file) and C(group) name the group of a
        rejected file. Each has every field of the plan's unit (the spec is derived from the
        plan's C(UnitPlan)).
    default: []
  quadlet_path:
    description:
      - The Quadlet generator.
    type: path
    default: /usr/libexec/podman/quadlet
  missing_ok:
    description:
      - When the generator is not there (no Podman with Quadlet yet), return RV(generator=false) instead of
        failing; for a preview in check mode before Podman is installed.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Linux hosts with Podman 4.4 or later.
seealso:
  - name: podman-systemd.unit(5)
    description: The Quadlet unit files and their keys.
    link: https://docs.podman.io/en/latest/markdown/podman-systemd.unit.5.html
"""

EXAMPLES = r"""
- name: Check the units with Quadlet's generator before writing them
  ai_system.containers.quadlet_check:
    files: "{{ plan.quadlet }}"
    units: "{{ plan.units }}"
"""

RETURN = r"""
generator:
  description: Whether the generator was there and ran (false only with O(missing_ok)).
  returned: success
  type: bool
services:
  description: The services the generator would create, sorted.
  returned: success
  type: list
  elements: str
  sample: [ai-core.service, ai-system-network.service]
problems:
  description: One line per rejected or skipped file (empty on success).
  returned: always
  type: list
  elements: str
  sample: ["group core (ai-core.container): unsupported key 'Foo' in group 'Container'"]
"""

import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.plan.plan_contract import (
    PlanShapeError, UnitPlan, argument_spec,
)
from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet import dryrun_problems

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9@_.:-]*\Z")


def check_units(module):
    p = module.params
    files = p["files"]
    bad = [name for name in files if not isinstance(name, str) or not SAFE_NAME.match(name)
           or "/" in name]
    if bad:
        module.fail_json(msg="files has names that are not unit file names: %s"
                         % ", ".join(repr(b) for b in sorted(map(str, bad))), problems=[])
    if not os.access(p["quadlet_path"], os.X_OK):
        if p["missing_ok"]:
            return {"changed": False, "generator": False, "services": [], "problems": []}
        module.fail_json(msg="%s is not an executable Quadlet generator: Podman 4.4 or later "
                         "provides it (the podman role installs it)" % p["quadlet_path"],
                         problems=[])
    try:
        units = [UnitPlan.from_dict(u, "units[%d]" % i) for i, u in enumerate(p["units"])]
    except PlanShapeError as exc:
        module.fail_json(msg="%s; pass the plan's units (plan.units)" % exc, problems=[])
    groups = {u.unit_file: u.group for u in units}
    workdir = tempfile.mkdtemp(prefix="ai-system-quadlet-", dir=module.tmpdir)
    try:
        for name, text in files.items():
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as handle:
                handle.write(str(text))
        env = {"QUADLET_UNIT_DIRS": workdir, "LANG": "C", "LC_ALL": "C"}
        dummy, out, err = module.run_command([p["quadlet_path"], "-dryrun"], environ_update=env,
                                             check_rc=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    problems = []
    for name, reason in dryrun_problems(files, out, err):
        where = "group %s (%s)" % (groups[name], name) if groups.get(name) else name
        problems.append("%s: %s" % (where, reason))
    services = sorted(set(re.findall(r"^---(.+?)---$", out, re.MULTILINE)))
    if problems:
        module.fail_json(msg="Quadlet's generator rejects %d unit file(s); nothing was installed "
                         "and the running units are unchanged:\n%s"
                         % (len(problems), "\n".join("- " + line for line in problems)),
                         problems=problems, services=services)
    return {"changed": False, "generator": True, "services": services, "problems": []}


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "dict", "required": True},
            "units": {"type": "list", "elements": "dict", "default": [],
                      "options": argument_spec(UnitPlan)},
            "quadlet_path": {"type": "path", "default": "/usr/libexec/podman/quadlet"},
            "missing_ok": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    module.exit_json(**check_units(module))


if __name__ == "__main__":
    main()
