#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: prometheus_check
short_description: Check that Prometheus scrapes every exporter of the plan and that no alert fires
version_added: "0.1.0"
description:
  - Asks a Prometheus server for its active scrape targets (C(/api/v1/targets)) and its alerts
    (C(/api/v1/alerts)).
  - Every exporter of O(exporters) must be a target whose last scrape succeeded; a target that has
    not been scraped yet (a Prometheus that has just started) is waited for, up to O(wait) seconds.
  - Every alert in the firing state is returned; RV(ok) is true only when every exporter is scraped
    and no alert fires.
  - The module fails only when Prometheus does not answer; what it finds is returned for the
    verify report to judge.
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  url:
    description: Base URL of the Prometheus server, for example V(http://192.168.100.16:9090).
    type: str
    required: true
  url_username:
    description:
      - User for basic auth, where Prometheus is opened to viewers (C(ai_monitoring.prometheus.viewers),
        TLS and passwords); empty for none.
    type: str
    default: ""
  url_password:
    description: Password of O(url_username).
    type: str
    default: ""
  exporters:
    description:
      - The exporters Prometheus must scrape, each as C(host=address:port) (the plan's
        C(monitoring.scrape_targets)).
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds each request to Prometheus may take.
    type: float
    default: 10.0
  wait:
    description: Seconds to wait for targets that Prometheus has not scraped yet.
    type: float
    default: 60.0
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - name: Prometheus HTTP API
    description: The endpoints this module reads.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/
"""

EXAMPLES = r"""
- name: Check that Prometheus scrapes both hosts and that nothing fires
  ai_system.containers.prometheus_check:
    url: http://192.168.100.16:9090
    exporters:
      - mainpc=192.168.100.16:9464
      - pc2=192.168.100.17:9464
  register: prometheus
"""

RETURN = r"""
ok:
  description: Whether every exporter is scraped and no alert fires.
  returned: success
  type: bool
  sample: true
url:
  description: The Prometheus base URL asked.
  returned: success
  type: str
  sample: http://192.168.100.16:9090
exporters:
  description: One verdict per exporter of O(exporters), by host.
  returned: success
  type: list
  elements: dict
  sample: [{host: pc2, instance: "192.168.100.17:9464", status: passed, reason: scraped,
            last_scrape: "2026-11-30T20:00:00Z"}]
  contains:
    host:
      description: The inventory host of the exporter.
      returned: always
      type: str
      sample: pc2
    instance:
      description: Its address and port.
      returned: always
      type: str
      sample: "192.168.100.17:9464"
    status:
      description: V(passed) when Prometheus's last scrape of it succeeded, else V(failed).
      returned: always
      type: str
      sample: passed
    reason:
      description: Why, in a few words (the scrape error when there is one).
      returned: always
      type: str
      sample: scraped
    last_scrape:
      description: When Prometheus last scraped it; V(null) when it is not a target.
      returned: always
      type: str
      sample: "2026-11-30T20:00:00Z"
firing:
  description: The alerts that fire, sorted by name.
  returned: success
  type: list
  elements: dict
  sample: [{alertname: AiSystemGroupDown, labels: {host: pc2, group: pc2-redis, severity: critical},
            summary: Group pc2-redis on pc2 is down, active_at: "2026-11-30T20:00:00Z"}]
targets:
  description: Every active target of Prometheus, as its targets API gives it.
  returned: success
  type: list
  elements: dict
  sample: [{host: pc2, instance: "192.168.100.17:9464", job: ai-system-exporter, health: up,
            last_error: null, last_scrape: "2026-11-30T20:00:00Z"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish
from ansible_collections.ai_system.containers.plugins.module_utils.verify.prometheus_run import ARGUMENT_SPEC, run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    finish(module, run(module))


if __name__ == "__main__":
    main()
