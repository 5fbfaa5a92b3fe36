# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""phase_state's record covers what the writing tasks reported, through
ansible-runner on this machine: the real modules (copy, file, template,
file_set, host_dirs, a loop, a skipped task, an undefined result) register
their results, the record takes them as ``wrote``, and a change of any
written file is a difference the next check names."""

from __future__ import annotations

import json
import os
import sys
import textwrap

PLAYBOOK = textwrap.dedent("""\
    - name: Write files and record what was written
      hosts: localhost
      gather_facts: false
      vars:
        demo_setting: 1
        __dir: "{{ demo_dir }}"
        __records: "{{ demo_dir }}/records"
      tasks:
        - name: Create a directory
          ansible.builtin.file:
            path: "{{ __dir }}/conf.d"
            state: directory
            mode: "0755"
          register: __demo_dir
        - name: Write one file
          ansible.builtin.copy:
            content: "one\\n"
            dest: "{{ __dir }}/conf.d/one.conf"
            mode: "0644"
          register: __demo_one
        - name: Write a file from a template
          ansible.builtin.template:
            src: "{{ demo_template }}"
            dest: "{{ __dir }}/templated.txt"
            mode: "0644"
          register: __demo_templated
        - name: Write one file per item
          ansible.builtin.copy:
            content: "{{ item }}\\n"
            dest: "{{ __dir }}/item-{{ item }}.txt"
            mode: "0600"
          loop: [a, b]
          register: __demo_items
        - name: Write a set of files
          ai_system.containers.file_set:
            path: "{{ __dir }}/set"
            files:
              top.json: "{}\\n"
              sub/inner.json: "[]\\n"
          register: __demo_set
        - name: Create a data directory
          ai_system.containers.host_dirs:
            dirs: [{path: "{{ __dir }}/data", mode: "0750", owner: "{{ demo_uid }}", group: "{{ demo_gid }}"}]
          register: __demo_data
        - name: Write nothing (skipped)
          ansible.builtin.copy:
            content: "never\\n"
            dest: "{{ __dir }}/never.txt"
            mode: "0644"
          when: false
          register: __demo_never
        - name: Record the phase
          ai_system.containers.phase_state:
            phase: demo
            state: record
            prefixes: [demo_]
            record_dir: "{{ __records }}"
            files: ["{{ __dir }}/conf.d/*"]
            wrote:
              - "{{ __demo_dir }}"
              - "{{ __demo_one }}"
              - "{{ __demo_templated }}"
              - "{{ __demo_items }}"
              - "{{ __demo_set }}"
              - "{{ __demo_data }}"
              - "{{ __demo_never }}"
              - "{{ __demo_not_run | default(none) }}"
        - name: Check the untouched phase
          ai_system.containers.phase_state:
            phase: demo
            prefixes: [demo_]
            record_dir: "{{ __records }}"
          register: __demo_untouched
        - name: Keep the record (a check that finds work removes it)
          ansible.builtin.copy:
            src: "{{ __records }}/demo.json"
            dest: "{{ demo_kept }}"
            remote_src: true
            mode: "0600"
        - name: Change a file the set wrote, behind the record's back
          ansible.builtin.copy:
            content: "changed\\n"
            dest: "{{ __dir }}/set/sub/inner.json"
            mode: "0644"
        - name: Check the changed phase
          ai_system.containers.phase_state:
            phase: demo
            prefixes: [demo_]
            record_dir: "{{ __records }}"
    """)


def test_the_record_covers_every_path_the_writers_reported(playbook, tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (tmp_path / "t.j2").write_text("templated {{ demo_setting }}\n")
    (tmp_path / "demo.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts").write_text("localhost\n")
    run = playbook(str(tmp_path / "demo.yml"), str(tmp_path / "hosts"),
                   {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                    "demo_dir": str(demo), "demo_template": str(tmp_path / "t.j2"),
                    "demo_uid": str(os.getuid()), "demo_gid": str(os.getgid()),
                    "demo_kept": str(tmp_path / "kept.json")})
    assert run.rc == 0, run.failures()
    record = json.loads((tmp_path / "kept.json").read_text())
    assert record["spec"]["files"] == [str(demo / "conf.d/*")] + [str(demo / p) for p in (
        "conf.d", "conf.d/one.conf", "templated.txt", "item-a.txt", "item-b.txt",
        "set/sub/inner.json", "set/top.json", "data")]
    state = record["state"]["files"]
    assert state[str(demo / "item-b.txt")]["mode"] == "0600"
    assert state[str(demo / "data")] == {"mode": "0750", "uid": os.getuid(), "gid": os.getgid(),
                                         "type": "directory"}
    assert str(demo / "never.txt") not in state

    untouched = run.task_results("Check the untouched phase")["localhost"]
    assert untouched["converged"] is True and untouched["differences"] == []
    changed = run.task_results("Check the changed phase")["localhost"]
    assert changed["converged"] is False and not (demo / "records" / "demo.json").exists()
    assert len(changed["differences"]) == 1
    assert changed["differences"][0].startswith("file %s: was sha256 " % (demo / "set/sub/inner.json"))
