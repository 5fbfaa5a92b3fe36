# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: verify_checks
short_description: The verify checks, as playbooks/verify.yml derives its tags, options and results from them
version_added: "0.1.0"
description:
  - Answers from the one description of every verify check (C(plugins/module_utils/verify/verify_checks.py)), so that
    the verify playbook names no check itself.
  - V(tags) returns the tags that select the checks, in order (C(verify_gpu), ..., C(verify_links), ...).
  - V(names) returns the checks' names, the options and result keys of M(ai_system.containers.host_checks).
  - V(options) returns each check's options on the host of O(plan) (name to options, V(null) for a check not
    selected by O(phases) or with nothing to check), as the M(ai_system.containers.host_checks) action makes them.
  - V(results) returns each check's result from the registered result of M(ai_system.containers.host_checks)
    O(result) (name to result, V(null) for a check that did not run).
author:
  - ai_system.containers maintainers (@ai-system)
options:
  _terms:
    description: What to return, one of V(tags), V(names), V(options), V(results).
    required: true
    type: list
    elements: str
  plan:
    description: For V(options), the host's plan (one host's entry of M(ai_system.containers.stack_plan)'s C(plan)).
    type: dict
  phases:
    description: For V(options), the tags of the checks to run.
    type: list
    elements: str
  settings:
    description:
      - For V(options), the verify settings (C(lab), C(zmq_timeout), C(zmq_concurrency), C(firewall_backend),
        C(prometheus_user), C(prometheus_password)); see the O(ai_system.containers.host_checks#module:settings)
        option of M(ai_system.containers.host_checks).
    type: dict
  result:
    description: For V(results), the registered result of M(ai_system.containers.host_checks).
    type: dict
notes:
  - Runs on the controller and reads nothing but its arguments.
"""

EXAMPLES = r"""
- name: Show the tags that select the verify checks
  ansible.builtin.debug:
    msg: "{{ query('ai_system.containers.verify_checks', 'tags') }}"

- name: Show the options of each check on this host
  ansible.builtin.debug:
    msg: >-
      {{ lookup('ai_system.containers.verify_checks', 'options', plan=verify_plan,
                phases=query('ai_system.containers.verify_checks', 'tags'), settings={'lab': true}) }}
"""

RETURN = r"""
_raw:
  description:
    - For V(tags) and V(names), the tags or names in order; for V(options) and V(results), one dict of check
      name to options or result.
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.lookup import LookupBase

from ansible_collections.ai_system.containers.plugins.module_utils.verify.verify_checks import (
    SETTINGS_SPEC, VERIFY_CHECKS, check_options, phase_tags,
)
from ansible_collections.ai_system.containers.plugins.plugin_utils.data import plain

WHAT = ("tags", "names", "options", "results")


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1 or terms[0] not in WHAT:
            raise AnsibleLookupError("verify_checks: give one of %s, not %r" % (", ".join(WHAT), terms))
        what = terms[0]
        if what == "tags":
            return phase_tags()
        if what == "names":
            return [check.name for check in VERIFY_CHECKS]
        if what == "results":
            result = plain(self.get_option("result") or {})
            return [dict((check.name, result.get(check.name)) for check in VERIFY_CHECKS)]
        plan = self.get_option("plan")
        if plan is None:
            raise AnsibleLookupError("verify_checks: options needs plan= (the host's plan)")
        validation = ArgumentSpecValidator(SETTINGS_SPEC).validate(plain(self.get_option("settings") or {}))
        if validation.error_messages:
            raise AnsibleLookupError("verify_checks: settings: %s" % "; ".join(validation.error_messages))
        return [check_options(plain(plan), self.get_option("phases") or [], validation.validated_parameters)]
