#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_report
short_description: Judge the verification results of every host and write one report
version_added: "0.1.0"
description:
  - Runs on the controller (an action plugin). Takes every host's plan from M(ai_system.containers.stack_plan)
    and the results the verify playbook gathered on each host, and judges every check against the plan.
  - C(gpu) (M(ai_system.containers.gpu_facts)) needs a usable driver, the GPU model of the inventory's
    C(ai_gpu.model) and VRAM budgets that fit. C(cuda) (M(ai_system.containers.cuda_check)) needs the CUDA
    kernel to have run in every GPU container. C(units) (M(ai_system.containers.unit_health)) needs every
    group's unit active and its container running and healthy. C(links) and C(health)
    (M(ai_system.containers.zmq_check), run inside each container) need every agent a group connects to,
    and every agent's health socket, to answer.
  - Every check ends V(passed), V(degraded), V(failed) or V(skipped) with its reason. A skipped check, such as a
    CUDA check on a lab host without a driver, is reported as skipped and never counted as passed.
  - A link or health socket is V(degraded) when M(ai_system.containers.zmq_check) judged the reply
    C(degraded), that is the agent answers and serves, but says it is degraded. Degraded checks are counted
    and listed apart (RV(degraded_checks)), with the reply's status and the agent's own message, and leave the
    report ok unless O(fail_on_degraded).
  - "A link that is not strict passes when a live peer gave any well-formed reply (verdict C(reachable)); the
    report shows what the agent replied next to the round trip, for example
    C(rtt median 0.41 ms, replied: Unknown action: health_check). A failing agent's reason quotes its own
    message."
  - Writes one report under O(dest) on the controller, C(verify-<UTC time>.json), C(verify-<UTC time>.md) and
    C(verify-<UTC time>.xml) (JUnit XML, a test case per check, for CI systems), and copies them to
    C(latest.json), C(latest.md) and C(latest.xml). The Markdown has a summary per host and group, the
    problems, a Mermaid C(flowchart LR) of the hosts, groups and links (broken links dotted and red, each
    labelled with the stage that failed; groups and links of degraded agents orange), and tables of every
    check.
  - Returns the report as a text table for the terminal (RV(text)) and fails with one line per problem
    when anything is broken (O(fail_on_problems)).
options:
  plan:
    description:
      - Per host name, that host's plan, that is RV(ai_system.containers.stack_plan#module:plan).
      - It is rebuilt as the typed host plans first; a plan of another shape (a key missing, unknown
        or of the wrong type) fails, naming the host and the key.
    type: dict
    required: true
  results:
    description:
      - Per host name, what the verify playbook gathered on that host, a dict with the keys C(lab) (bool, the
        host uses the lab CDI device instead of a GPU), C(gpu) (the registered result of
        M(ai_system.containers.gpu_facts)), C(cuda) (of M(ai_system.containers.cuda_check)), C(units)
        (of M(ai_system.containers.unit_health)) and C(zmq).
      - C(zmq) is either a dict of container name to the registered result of M(ai_system.containers.zmq_check)
        run in that container, or the registered result of a loop of M(ai_system.containers.zmq_check) over
        the plan's C(checks.zmq).
      - A key that is missing or V(null), or a task that was skipped, means that phase was not checked in this
        run; its checks are reported as skipped.
      - A registered result without data (the module could not run) fails the checks of that phase with the
        module's message.
    type: dict
    required: true
  hosts:
    description:
      - The hosts that were to be verified, usually C(ansible_play_hosts_all).
      - One of them missing from O(results) was not verified (unreachable, or failed before its checks ran),
        which is a problem. Planned hosts not listed here are reported as not part of this run.
      - Defaults to every host of O(plan).
    type: list
    elements: str
  dest:
    description:
      - Folder on the controller for the report files, created when missing. A relative path is relative to
        the directory C(ansible-playbook) runs in.
    type: path
    default: reports
  fail_on_problems:
    description:
      - Fail the task when any check failed, with one line per problem as the message.
      - When V(false), RV(ok) and RV(problems) still say what is broken.
    type: bool
    default: true
  fail_on_skip:
    description:
      - Count skipped checks as problems, for a run that must prove everything, GPUs included.
    type: bool
    default: false
  fail_on_degraded:
    description:
      - Count degraded links and health sockets as problems, so that a degraded agent fails the report
        (RV(ok) is V(false) and each degraded check is a line of RV(problems)).
      - When V(false), degraded checks are reported under RV(degraded_checks) and the verdict reads
        C(PASSED with degraded agents), naming them.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the report is judged and returned but no file is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
    details: Runs on the controller only; the managed hosts are only read through the results given.
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
author:
  - ai_system.containers maintainers (@ai-system)
notes:
  - The task reports C(changed=false) even when it writes the report, since no managed host is changed.
  - What each check means and how to read the report is in C(docs/verify.md) of the collection.
  - The modules' verdicts are taken as they are (the C(status) of M(ai_system.containers.cuda_check), C(ok) and
    C(problem) of M(ai_system.containers.unit_health), C(ok) and C(verdict) of M(ai_system.containers.zmq_check));
    the report judges only what the plan adds.
seealso:
  - module: ai_system.containers.stack_plan
  - module: ai_system.containers.unit_health
  - module: ai_system.containers.zmq_check
  - module: ai_system.containers.gpu_facts
  - module: ai_system.containers.cuda_check
"""

EXAMPLES = r"""
- name: Write the report of every host's results on the controller
  ai_system.containers.stack_report:
    plan: "{{ stack.plan }}"
    results: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, '__verify_result'))) }}
    hosts: "{{ ansible_play_hosts_all }}"
    dest: reports
    fail_on_problems: false
  run_once: true
  delegate_to: localhost
  register: report

- name: Show the report
  ansible.builtin.debug:
    msg: "{{ report.text }}"
  run_once: true
"""

RETURN = r"""
ok:
  description: Whether every check passed, was degraded or was skipped (with O(fail_on_skip), none may be
    skipped; with O(fail_on_degraded), none may be degraded).
  returned: always
  type: bool
  sample: false
complete:
  description: Whether no check was skipped.
  returned: always
  type: bool
  sample: true
counts:
  description: Number of checks that V(passed), were V(degraded), V(failed) and were V(skipped).
  returned: always
  type: dict
  sample: {passed: 243, degraded: 1, failed: 1, skipped: 0}
checks:
  description: The same counts per kind of check, C(gpu), C(cuda), C(units), C(links) and C(health).
  returned: always
  type: dict
  sample:
    links: {passed: 13, degraded: 0, failed: 1, skipped: 0}
    health: {passed: 74, degraded: 1, failed: 0, skipped: 0}
    units: {passed: 16, degraded: 0, failed: 0, skipped: 0}
problems:
  description: One line per problem, naming the host, the check and why it failed; for a link, the stage that
    failed. Checks failing for one reason, such as a container in which the ZMQ checks could not run, share one
    line.
  returned: always
  type: list
  elements: str
  sample:
    - "pc2: link pc2-memory-system -> mainpc/core-services SystemDigitalTwin 192.168.100.16:7120 (main): tcp failed:
      connection refused"
degraded_checks:
  description: One line per degraded link or health socket, with the reply's status and the agent's message.
    With O(fail_on_degraded) the same lines are in RV(problems) too.
  returned: always
  type: list
  elements: str
  sample:
    - "pc2: health socket pc2-memory-system/MemoryOrchestratorService 127.0.0.1:7141 (health): DEGRADED: status
      degraded: Redis unavailable, using the local cache"
degraded_agents:
  description: Every agent that said it is degraded, as C(host/agent) where the agent runs, sorted.
  returned: always
  type: list
  elements: str
  sample: ["pc2/MemoryOrchestratorService"]
skipped_checks:
  description: One line per skipped check (or per phase that did not run), with the reason.
  returned: always
  type: list
  elements: str
  sample: ["pc2: CUDA in pc2-ai-models: SKIPPED: no NVIDIA driver (lab CDI device)"]
notes:
  description: Things that passed but deserve a look, such as units that systemd restarted.
  returned: always
  type: list
  elements: str
  sample: ["mainpc: unit ai-memory-system.service was restarted 2 times by systemd"]
text:
  description: The report as a table for the terminal, one string per line, ending with the report's path.
  returned: always
  type: list
  elements: str
  sample:
    - "AI system verification 2026-11-29T16:15:00Z -- PASSED: 245 passed, 0 failed, 0 skipped"
    - "pc2 (192.168.100.17): PASSED"
files:
  description: Absolute paths of the report files (those that would be written, in check mode).
  returned: always
  type: dict
  sample:
    json: /srv/ansible/reports/verify-20261129T161500Z.json
    markdown: /srv/ansible/reports/verify-20261129T161500Z.md
    junit: /srv/ansible/reports/verify-20261129T161500Z.xml
    latest_json: /srv/ansible/reports/latest.json
    latest_markdown: /srv/ansible/reports/latest.md
    latest_junit: /srv/ansible/reports/latest.xml
written:
  description: Whether the files were written (false in check mode).
  returned: always
  type: bool
  sample: true
report:
  description:
    - The whole report, as written to the JSON file (per host its checks and groups, the problems and
      the topology).
    - "Every check carries C(status), C(reason) and C(cause): V(null), or the reason it shares with other
      checks as a dict of C(kind) (C(host), C(phase), C(module) or C(container)), C(host), C(check) and
      C(container)."
  returned: always
  type: dict
  sample: {format: 1, generated_at: "2026-11-29T16:15:00Z", ok: true, fail_on_degraded: false, hosts: {}}
"""
