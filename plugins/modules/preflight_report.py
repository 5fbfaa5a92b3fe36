#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight_report
short_description: Write the preflight report of every host on the controller
version_added: "0.1.0"
description:
  - Runs on the controller (an action plugin), once for all hosts, after M(ai_system.containers.preflight) read
    each of them (C(playbooks/preflight.yml)).
  - Writes C(preflight.json) (C(format), C(generated_at), C(ready) of all hosts, and per host C(ready), C(counts),
    C(platform) and C(items)) and C(preflight.md) (each host's section) under O(dest), each file whole or not at
    all, in one step on the controller instead of one file transfer per file.
  - A result that is not the preflight module's (a host whose reading did not run) fails, naming the host.
options:
  results:
    description: Per host name, the registered result of M(ai_system.containers.preflight) on that host.
    type: dict
    required: true
  hosts:
    description: The hosts of the report, in its order; each must have a result in O(results).
    type: list
    elements: str
    required: true
  dest:
    description: The report directory on the controller, made when missing.
    type: path
    default: reports
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode nothing is written; RV(files) says where the report would be.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
    details: Runs on the controller only.
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
author:
  - ai_system.containers maintainers (@ai-system)
notes:
  - The task reports C(changed=false) even when it writes the report, since no managed host is changed.
seealso:
  - module: ai_system.containers.preflight
"""

EXAMPLES = r"""
- name: Write the report next to the verify report
  ai_system.containers.preflight_report:
    results: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'ai_system_preflight'))) }}"
    hosts: "{{ ansible_play_hosts }}"
    dest: reports
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
ready:
  description: Whether every host of O(hosts) is ready.
  returned: success
  type: bool
  sample: false
files:
  description: The paths of the report, C(json) and C(markdown), absolute.
  returned: success
  type: dict
  sample: {json: /home/me/site/reports/preflight.json, markdown: /home/me/site/reports/preflight.md}
written:
  description: Whether the files were written (V(false) in check mode).
  returned: success
  type: bool
"""
