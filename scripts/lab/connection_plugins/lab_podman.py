# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's connection: containers.podman's ``podman`` connection, with
Ansible's pipelining.

The real hosts are reached over SSH with pipelining on (ansible.cfg): each
module is one round trip, its code sent on the standard input of the remote
Python. containers.podman's connection cannot pipeline, because its
``podman exec`` gets no ``--interactive`` and so no standard input; each
module then costs a temporary directory, a copy, a chmod, the run and the
removal, five ``podman`` processes instead of one. This connection adds
``--interactive`` to the ``podman exec`` that carries data and declares
pipelining, so that the lab makes the round trips production makes. Every
other behaviour (mount, put_file, fetch_file, options) is containers.podman's.
Lab only: it is not part of the collection.
"""

from __future__ import annotations

DOCUMENTATION = """
    name: lab_podman
    short_description: Run commands in the lab's host containers with podman exec, pipelined
    description:
        - containers.podman.podman with Ansible's pipelining (C(podman exec --interactive)).
    author: ai_system.containers maintainers (@ai-system)
    extends_documentation_fragment:
        - connection_pipelining
    options:
      remote_addr:
        description: The lab host's container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user that runs the commands in the container (the image's default when unset).
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments of every podman command.
        default: ''
        ini:
          - section: defaults
            key: podman_extra_args
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: The podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
"""

from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    """containers.podman.podman, pipelined."""

    transport = "lab_podman"
    has_pipelining = True

    def _podman(self, cmd, cmd_args=None, in_data=None, use_container_id=True):
        # Only an exec that carries data (a pipelined module) needs standard input.
        if in_data is not None and isinstance(cmd, list) and cmd[:1] == ["exec"]:
            cmd = ["exec", "--interactive"] + cmd[1:]
        return super()._podman(cmd, cmd_args, in_data, use_container_id)
