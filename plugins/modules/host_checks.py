#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_checks
short_description: Run a host's verify checks in one call, all at the same time
version_added: "0.1.0"
description:
  - Runs the checks of M(ai_system.containers.gpu_facts), M(ai_system.containers.cuda_check),
    M(ai_system.containers.unit_health), M(ai_system.containers.zmq_check),
    M(ai_system.containers.nft_table) and M(ai_system.containers.prometheus_check) on one host in a single module call, each check in its own
    thread, so that the call costs about its slowest check plus one round trip, not the sum of
    one round trip per module.
  - Each option takes exactly the options of its module, validated and defaulted as that module
    does; a check whose option is left out (or V(null)) is not run and its result is V(null).
  - Each check's result is what its module returns when called alone, the same keys and values,
    with C(failed) (V(true) where that module would fail, with its C(msg)) and C(elapsed_s), the
    check's own run time in seconds.
  - A check fails on its own. Invalid options, or an error raised by the check, become that check's
    failed result with a C(msg) naming the check; the other checks run and report as usual. The
    task itself does not fail for a failed check; RV(failed_checks) names them.
  - O(firewall) always compares only, as M(ai_system.containers.nft_table) does in check mode; it
    never writes the table's file nor loads the table.
  - Only reads, like the verify playbook that calls it (C(playbooks/verify.yml)).
  - With O(plan), the action plugin of the same name makes each check's options on the controller from the
    host's plan, the checks O(phases) selects and O(settings), and calls the module with the checks that have
    something to check on the host; with none, the task is skipped without a call to the host.
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  gpu:
    description:
      - The options of M(ai_system.containers.gpu_facts) (C(required), C(vram_budgets), C(vram_reserve_mib),
        C(vram_gpu_index)). Leave it out to skip the check.
    type: dict
  cuda:
    description:
      - The options of M(ai_system.containers.cuda_check) (C(containers), C(lab), C(daemon_reload)...).
        Leave it out to skip the check.
    type: dict
  units:
    description:
      - The options of M(ai_system.containers.unit_health) (C(units), C(fail_on_error)...). Leave it out to skip
        the check.
    type: dict
  zmq:
    description:
      - The options of M(ai_system.containers.zmq_check) (C(containers) or C(endpoints), C(concurrency),
        C(timeout), C(fail_on_error)...). Leave it out to skip the check.
    type: dict
  firewall:
    description:
      - The options of M(ai_system.containers.nft_table) (C(lan_address), C(subnet), C(openings), C(table),
        C(path)). The table is compared, never changed. Leave it out to skip the check.
    type: dict
  prometheus:
    description:
      - The options of M(ai_system.containers.prometheus_check) (C(url), C(url_username), C(url_password), C(exporters), C(timeout), C(wait)).
        Leave it out to skip the check.
    type: dict
  plan:
    description:
      - The host's plan (one host's entry of the C(plan) that M(ai_system.containers.stack_plan) returns).
        Given, the options of every check are made from it on the controller and must not be given as well.
    type: dict
  phases:
    description:
      - With O(plan), the tags of the checks to run (C(verify_gpu), C(verify_cuda), C(verify_units),
        C(verify_links), C(verify_firewall), C(verify_monitoring)); a check whose tag is missing is not run.
    type: list
    elements: str
  settings:
    description:
      - With O(plan), the verify playbook's settings that the checks' options take.
    type: dict
    suboptions:
      lab:
        description: A lab host (a CDI device stands in for the GPU, no driver); passed to the CUDA check.
        type: bool
        default: false
      zmq_timeout:
        description: Seconds per network step of each ZMQ check.
        type: float
        default: 3.0
      zmq_concurrency:
        description: Containers whose ZMQ checks run at the same time.
        type: int
        default: 8
      firewall_backend:
        description: The stack role's firewall backend; V(none) leaves the firewall check out.
        type: str
        default: auto
      prometheus_user:
        description: User of Prometheus's HTTP API, for the monitoring check.
        type: str
        default: ""
      prometheus_password:
        description: Password of Prometheus's HTTP API, for the monitoring check.
        type: str
        default: ""
attributes:
  check_mode:
    support: full
    details: >-
      The checks only read; they run the same in check mode (C(daemon_reload) of O(cuda) is then not
      performed, as with M(ai_system.containers.cuda_check)).
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Linux hosts, with what each check given needs (see its module).
notes:
  - How to add a check is in C(docs/development.md) of the collection; each check is described once in
    C(plugins/module_utils/verify/verify_checks.py).
seealso:
  - module: ai_system.containers.gpu_facts
  - module: ai_system.containers.cuda_check
  - module: ai_system.containers.unit_health
  - module: ai_system.containers.zmq_check
  - module: ai_system.containers.nft_table
  - module: ai_system.containers.stack_report
"""

EXAMPLES = r"""
- name: Check a host's units, links and firewall in one call
  ai_system.containers.host_checks:
    units:
      units:
        - service: ai-pc2-redis.service
          container: pc2-redis
      fail_on_error: false
    zmq:
      containers:
        - container: pc2-memory-system
          endpoints:
            - name: MemoryOrchestratorService
              address: 127.0.0.1
              port: 7141
              kind: health
      fail_on_error: false
    firewall:
      lan_address: 192.168.100.17
      subnet: 172.21.0.0/16
      openings: []
  register: checks

- name: Show the checks that failed
  ansible.builtin.debug:
    msg: "{{ item }}: {{ checks[item].msg }}"
  loop: "{{ checks.failed_checks }}"
"""

RETURN = r"""
gpu:
  description:
    - What M(ai_system.containers.gpu_facts) returns, plus C(failed) and C(elapsed_s); V(null) when O(gpu) was not given.
  returned: always
  type: dict
  sample: {available: false, reason: "no NVIDIA driver: NVML Shared Library Not Found", failed: false, elapsed_s: 0.01}
cuda:
  description:
    - What M(ai_system.containers.cuda_check) returns, plus C(failed) and C(elapsed_s); V(null) when O(cuda) was
      not given.
  returned: always
  type: dict
  sample: {passed_count: 0, failed_count: 0, skipped_count: 1, failed: false, elapsed_s: 0.9}
units:
  description:
    - What M(ai_system.containers.unit_health) returns, plus C(failed) and C(elapsed_s); V(null) when O(units) was
      not given.
  returned: always
  type: dict
  sample: {ok_count: 6, failed_count: 0, summary: [], failed: false, elapsed_s: 0.4}
zmq:
  description:
    - What M(ai_system.containers.zmq_check) returns, plus C(failed) and C(elapsed_s); V(null) when O(zmq) was
      not given.
  returned: always
  type: dict
  sample: {ok_count: 12, degraded_count: 0, failed_count: 0, error_count: 0, failed: false, elapsed_s: 1.2}
firewall:
  description:
    - What M(ai_system.containers.nft_table) returns in check mode, plus C(failed) and C(elapsed_s); V(null) when
      O(firewall) was not given.
  returned: always
  type: dict
  sample: {matches: true, present: true, file_matches: true, failed: false, elapsed_s: 0.05}
prometheus:
  description:
    - What M(ai_system.containers.prometheus_check) returns, plus C(failed) and C(elapsed_s); V(null) when
      O(prometheus) was not given.
  returned: always
  type: dict
  sample: {ok: true, exporters: [], firing: [], failed: false, elapsed_s: 0.02}
checks_run:
  description: The checks that ran, in the order gpu, cuda, units, zmq, firewall, prometheus.
  returned: always
  type: list
  elements: str
  sample: [units, zmq, firewall]
reads_wsl:
  description:
    - With O(plan), whether a check ran whose report reads whether the host is a WSL2 host (the links and the
      firewall).
  returned: when O(plan) is given
  type: bool
  sample: true
failed_checks:
  description: The checks whose result has C(failed=true).
  returned: always
  type: list
  elements: str
  sample: [cuda]
elapsed_s:
  description: Seconds the checks took together, about the slowest of them.
  returned: always
  type: float
  sample: 1.23
msg:
  description: One line naming each check that ran, whether it failed and its time.
  returned: always
  type: str
  sample: "3 check(s) in 1.23 s: units ran (0.41 s); zmq ran (1.22 s); firewall ran (0.05 s)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.verify.host_checks import run_checks
from ansible_collections.ai_system.containers.plugins.module_utils.verify.verify_checks import (
    SETTINGS_SPEC, VERIFY_CHECKS,
)

ARGUMENT_SPEC = dict((check.name, dict(type="dict")) for check in VERIFY_CHECKS)
# Read by the action plugin on the controller; it never passes them on.
ARGUMENT_SPEC.update(plan=dict(type="dict"), phases=dict(type="list", elements="str"),
                     settings=dict(type="dict", options=SETTINGS_SPEC))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["plan"] is not None:
        module.fail_json(msg="host_checks: plan is read by the action plugin on the controller, "
                             "not by the module on the host")
    module.exit_json(**run_checks(module))


if __name__ == "__main__":
    main()
