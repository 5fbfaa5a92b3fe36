#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_dirs
short_description: Create the host directories a host's groups mount, in one call
version_added: "0.1.0"
description:
  - Plumbing of the collection (the stack role's directory maker), documented for those who read the roles; its options
    may change between releases. Your playbooks use the collection's roles and playbooks instead.
  - >-
    For every directory in O(dirs), in one module call, a path that exists is left exactly as it is (owner,
    group, mode, sticky bit; it may be a data directory the agents own) and must be a directory; a path that
    does not exist is created with its owner, group and mode (missing parents are created C(root:root 0755)).
  - Every path is walked from C(/) one component at a time, each opened with C(O_DIRECTORY|O_NOFOLLOW)
    relative to its parent's descriptor; a created directory is made relative to its parent's descriptor and
    given its owner and mode with C(fchown)/C(fchmod) on its own descriptor, never by path. A symlink swapped
    in under a parent that a container can write cannot redirect them onto another directory.
  - A path with a component that is a symlink (the path itself included) is refused, naming the component;
    name the real directory (C(readlink -f)) in the volume's source.
  - Fails, before creating anything, naming every path that exists but is not a directory or goes through
    a symlink.
author:
  - ai_system.containers maintainers (@ai-system)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  dirs:
    description:
      - The directories, as the plan's C(host_dirs) lists them.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      owner:
        description: Owner of a created directory, a user name or a numeric id.
        type: str
        default: root
      group:
        description: Group of a created directory, a group name or a numeric id.
        type: str
        default: root
      mode:
        description: Mode of a created directory, octal as a string (C(0755), C(1777)).
        type: str
        default: "0755"
  host:
    description: The host's inventory name, for messages.
    type: str
attributes:
  check_mode:
    support: full
    details: Reports the directories it would create and creates none.
  diff_mode:
    support: full
    details: Each created directory as C(absent) -> C(directory owner:group mode).
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Create the host directories that do not exist yet
  ai_system.containers.host_dirs:
    dirs: "{{ plan.host_dirs }}"
    host: "{{ inventory_hostname }}"
"""

RETURN = r"""
created:
  description: The directories created (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
present:
  description: The directories that were there already and were left as they are.
  returned: always
  type: list
  elements: str
"""

import grp
import pwd
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.common import safe_dirs

MODE = re.compile(r"0?[0-7]{3,4}\Z")


def _id(value, lookup):
    if value.isdigit():
        return int(value)
    try:
        return lookup(value)
    except KeyError:
        return None


def main():
    module = AnsibleModule(
        argument_spec={
            "dirs": {"type": "list", "elements": "dict", "required": True, "options": {
                "path": {"type": "path", "required": True},
                "owner": {"type": "str", "default": "root"},
                "group": {"type": "str", "default": "root"},
                "mode": {"type": "str", "default": "0755"},
            }},
            "host": {"type": "str"},
        },
        supports_check_mode=True,
    )
    where = "host %s: " % module.params["host"] if module.params["host"] else ""
    created, present, problems, todo = [], [], [], []
    for entry in module.params["dirs"]:
        path = entry["path"]
        try:
            found = safe_dirs.state(path)
        except (safe_dirs.UnsafePath, OSError) as exc:
            problems.append(str(exc))
            continue
        if found == "directory":
            present.append(path)
        elif found == "other":
            problems.append("%s is the source of a group's volume but not a directory; move it away or "
                            "change the volume's source in the inventory" % path)
        else:
            uid = _id(entry["owner"], lambda n: pwd.getpwnam(n).pw_uid)
            gid = _id(entry["group"], lambda n: grp.getgrnam(n).gr_gid)
            if uid is None or gid is None or not MODE.match(entry["mode"]):
                problems.append("%s: owner %r, group %r or mode %r does not exist on this host or is not valid"
                                % (path, entry["owner"], entry["group"], entry["mode"]))
            else:
                todo.append((entry, uid, gid))
    if problems:
        module.fail_json(msg=where + "; ".join(problems), created=[], present=present)
    diff = []
    for entry, uid, gid in todo:
        path = entry["path"]
        diff.append({"before_header": path, "after_header": path, "before": "absent\n",
                     "after": "directory %s:%s %s\n" % (entry["owner"], entry["group"], entry["mode"])})
        created.append(path)
        if module.check_mode:
            continue
        try:
            safe_dirs.make_dir(path, uid, gid, int(entry["mode"], 8))
        except (safe_dirs.UnsafePath, OSError) as exc:
            module.fail_json(msg=where + "cannot create %s: %s" % (path, exc), created=created[:-1],
                             present=present)
    result = {"changed": bool(created), "created": created, "present": present}
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
