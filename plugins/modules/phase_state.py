#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: phase_state
short_description: Ask in one call whether a role phase has work on a host, and record what a complete run left
version_added: "0.1.0"
description:
  - Plumbing of the collection (the roles' converged-run records), documented for those who read the roles; its options
    may change between releases. Your playbooks use the collection's roles and playbooks instead.
  - A role phase that ran in full and succeeded records on the host what it left (O(state=record)) -- the
    digest of its inputs, the state of the files, packages and units it manages or decided on, the answers of a
    few read-only commands and the facts it gathered -- in C(RECORD_DIR/PHASE.json).
  - The next run asks first (O(state=check)), in one module call, whether the inputs are the same and every
    recorded item still is as it was. If so the phase has nothing to do and the role skips it; the recorded facts
    are returned as RV(ansible_facts) so that later tasks need no fact gathering. If not, RV(differences) says
    what changed, the record is removed (so that a run that fails half-way is not taken for a complete one) and
    the role runs the whole phase as usual.
  - The inputs digest is computed on the controller by the action plugin of the same name, over the task's
    variables whose names start with one of O(prefixes), O(inputs), and every file of the calling role and of
    the collection's plugins; a change of inventory, role default or collection code is a change of inputs.
  - A run of several phases can read every phase's record and compare it with the host in one call at its
    start (O(state=read)); registered and handed to each phase's check as O(reads), it spares each converged
    phase its own call (see O(reads)).
  - The record is the roles' memory, not configuration of the host; writing or removing it is not reported as
    a change, so a converged run stays at C(changed=0).
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  phase:
    description:
      - Name of the phase, lower case letters, digits and C(_); names the record file.
      - Required with O(state=check), O(state=record) and O(state=forget).
    type: str
  state:
    description:
      - V(check) compares the record with the inputs and the host; V(record) writes the record.
      - V(read) reads the records of O(phases) and compares each with the host, without judging inputs (the
        phases' checks do that later on the controller) and without removing anything.
      - V(forget) removes the record without reading it and answers as a check that found work, so that the
        phase runs in full and records afresh. The action plugin turns every check into V(forget), and every
        read into no reading, when the variable C(ai_phase_records) is V(ignore) (its default is V(use)).
    type: str
    choices: [check, record, read, forget]
    default: check
  phases:
    description:
      - With O(state=read), the phases to read, in the order the run takes them.
    type: list
    elements: str
    default: []
  reads:
    description:
      - With O(state=check), the registered result of an O(state=read) of this run.
      - The check is answered on the controller, with no call to the host, when the reading of this phase is
        converged for this run's inputs and every phase read before it was found converged in this run (so
        nothing has changed the host since). The phases found converged are kept in the host fact
        C(ai_system_phase_chain) with the reading's token; otherwise the host is asked as without O(reads).
    type: raw
  prefixes:
    description:
      - Variables whose names start with one of these are part of the inputs digest (the role's settings).
    type: list
    elements: str
    default: []
  inputs:
    description:
      - More data the phase depends on (for example values handed over by the play), part of the digest.
    type: raw
  secrets:
    description:
      - Names of secrets whose values are inputs of the phase. The action plugin reads each value from the
        variable O(secrets_var) and digests it on the controller with HMAC-SHA256 under a key that stays there
        (the file C(~/.ansible/ai_system/secrets-digest.key), made once with mode 0600, or the inventory's
        C(ai_secrets_digest_key_file)); the digests enter the inputs digest. Neither the values nor their
        digests are sent to the host or returned.
    type: list
    elements: str
  secrets_var:
    description:
      - The variable that maps each secret's name to its value.
    type: str
    default: ai_secrets
  files:
    description:
      - With O(state=record), paths or glob patterns whose state is recorded; for a file its sha256, mode and
        owner, for a directory its mode and owner, for a symlink its target, or that it is absent.
    type: list
    elements: str
    default: []
  wrote:
    description:
      - With O(state=record), the registered results of the tasks of the phase that write files (copy, template,
        file, the repository modules, and this collection's file_set, host_dirs, nft_table, hyperv_firewall).
        The action plugin adds every path they report (C(dest), C(path), a file_set's files under its
        C(path), a host_dirs' directories, a loop's items) to O(files), so the record covers what the phase
        wrote. Results of skipped tasks name nothing; an undefined one may be given as V(null).
    type: list
    elements: raw
    default: []
  packages:
    description:
      - With O(state=record), packages whose installed version is recorded (from dpkg-query or rpm; no package
        lists are read).
    type: list
    elements: str
    default: []
  units:
    description:
      - With O(state=record), systemd units whose LoadState, UnitFileState and ActiveState are recorded.
    type: list
    elements: str
    default: []
  commands:
    description:
      - With O(state=record), read-only commands (argv lists) whose exit status and output the phase decided
        on, such as C(systemd-detect-virt --container).
    type: list
    elements: list
    default: []
  facts:
    description:
      - With O(state=record), facts to hand back on a converged check (for example the distribution facts the
        phase gathered).
    type: dict
    default: {}
  record_dir:
    description:
      - Directory of the records; created, with any missing parent, mode C(0700) when a record is written.
    type: path
    default: /var/lib/ai-system/phases
  digest:
    description:
      - The inputs digest. Set by the action plugin; not meant to be given in a task.
    type: str
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details: The action plugin computes the inputs digest on the controller.
  check_mode:
    support: full
    details: >-
      V(check) runs in check mode (it only reads) but leaves a stale record in place; V(record) writes nothing
      in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - A host with C(podman_package_state=latest) or a run limited by tags does not use records (the roles decide
    this); such a run always runs its phase.
"""

EXAMPLES = r"""
- name: Ask once whether the phase has work
  ai_system.containers.phase_state:
    phase: podman
    prefixes: [podman_]
  register: __podman_phase

- name: Record what the complete phase left
  ai_system.containers.phase_state:
    phase: podman
    state: record
    prefixes: [podman_]
    files: [/etc/containers/containers.conf.d/50-ai-system.conf, /etc/os-release]
    packages: [podman, crun]
    units: [podman.socket]
    commands: [[systemd-detect-virt, --container]]
    facts:
      distribution: "{{ ansible_facts['distribution'] }}"
      os_family: "{{ ansible_facts['os_family'] }}"
  when: __podman_phase.converged is false
"""

RETURN = r"""
converged:
  description: With O(state=check), whether the phase has nothing to do.
  returned: always
  type: bool
differences:
  description: With O(state=check), why the phase has work, one line per changed item.
  returned: always
  type: list
  elements: str
  sample: ["file /etc/containers/containers.conf.d/50-ai-system.conf: was sha256 0a1b…, now absent"]
ansible_facts:
  description: On a converged check, the facts recorded by the complete run.
  returned: when converged
  type: dict
record:
  description: The record file.
  returned: with O(state=check) and O(state=record)
  type: str
read_once:
  description: With O(state=check), whether the check was answered from O(reads) without a call to the host.
  returned: with O(state=check)
  type: bool
phases:
  description:
    - With O(state=read), per phase, C(inputs) (the inputs digest of the record, null without a usable record),
      C(differences) (what changed on the host since, or why there is no record), C(facts) and C(record).
  returned: with O(state=read)
  type: dict
token:
  description: With O(state=read), a random token that names this reading (set by the action plugin).
  returned: with O(state=read)
  type: str
phases_order:
  description: With O(state=read), O(phases) in their order (set by the action plugin).
  returned: with O(state=read)
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import write_text
from ansible_collections.ai_system.containers.plugins.module_utils.host.phase_record import (
    PHASE_NAME, check, make_record, observe, read, record_path)

ARGUMENT_SPEC = dict(
    phase=dict(type="str"),
    state=dict(type="str", choices=["check", "record", "read", "forget"], default="check"),
    phases=dict(type="list", elements="str", default=[]),
    reads=dict(type="raw"),
    prefixes=dict(type="list", elements="str", default=[]),
    inputs=dict(type="raw"),
    secrets=dict(type="list", elements="str", no_log=False),
    secrets_var=dict(type="str", default="ai_secrets", no_log=False),
    files=dict(type="list", elements="str", default=[]),
    wrote=dict(type="list", elements="raw", default=[]),
    packages=dict(type="list", elements="str", default=[]),
    units=dict(type="list", elements="str", default=[]),
    commands=dict(type="list", elements="list", default=[]),
    facts=dict(type="dict", default={}),
    record_dir=dict(type="path", default="/var/lib/ai-system/phases"),
    digest=dict(type="str"),
)
FORGOTTEN = ("ai_phase_records=ignore: the record is not compared; the phase runs in full "
             "and records afresh")
COMMAND_ENV = {"LANG": "C", "LC_ALL": "C", "SYSTEMD_PAGER": ""}


def private_dirs(path):
    """Create ``path`` and any missing parent root-only (0700, whatever the
    umask): the records sit beside the stack's own state, which is root-only."""
    if os.path.isdir(path):
        return
    private_dirs(os.path.dirname(path))
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("state", "check", ["phase"]), ("state", "record", ["phase"]),
                                        ("state", "forget", ["phase"])])
    params = module.params

    def run(argv):
        return module.run_command(list(argv), environ_update=COMMAND_ENV)

    if params["state"] == "read":
        bad = [name for name in params["phases"] if not PHASE_NAME.match(name)]
        if not params["phases"]:
            module.fail_json(msg="state=read: name the phases to read in phases")
        if bad:
            module.fail_json(msg="phases %s: use lower case letters, digits and _ (at most 64)" % ", ".join(bad))
        readings = {}
        for name in params["phases"]:
            path = record_path(params["record_dir"], name)
            readings[name] = dict(read(path, run, module.get_bin_path), record=path)
        module.exit_json(changed=False, phases=readings)

    if not PHASE_NAME.match(params["phase"]):
        module.fail_json(msg="phase %r: use lower case letters, digits and _ (at most 64)" % params["phase"])
    if params["state"] == "forget":
        path = record_path(params["record_dir"], params["phase"])
        if not module.check_mode and os.path.exists(path):
            os.unlink(path)
        module.exit_json(changed=False, converged=False, differences=[FORGOTTEN], record=path,
                         ansible_facts={})
    if not params["digest"]:
        module.fail_json(msg="no inputs digest: run phase_state through its action plugin "
                             "(ai_system.containers.phase_state), which computes it")
    for argv in params["commands"]:
        if not argv or not all(isinstance(arg, str) and arg for arg in argv):
            module.fail_json(msg="commands: every command is a non-empty list of non-empty strings, got %r" % (argv,))
    path = record_path(params["record_dir"], params["phase"])

    if params["state"] == "check":
        result = check(path, params["digest"], run, module.get_bin_path)
        if not result["converged"] and not module.check_mode and os.path.exists(path):
            os.unlink(path)
        module.exit_json(changed=False, converged=result["converged"], differences=result["differences"],
                         record=path, ansible_facts=result["facts"])

    spec = {key: params[key] for key in ("files", "packages", "units", "commands")}
    state, error = observe(spec, run, module.get_bin_path)
    if error:
        module.fail_json(msg="cannot record the phase %s: %s" % (params["phase"], error), record=path)
    if not module.check_mode:
        private_dirs(params["record_dir"])
        record = make_record(params["digest"], spec, state, params["facts"])
        write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n", mode=0o600, durable=True)
    module.exit_json(changed=False, converged=True, differences=[], record=path)


if __name__ == "__main__":
    main()
