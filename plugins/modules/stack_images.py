#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: stack_images
short_description: Make sure a host has the images its groups run, from archives or by pulling
version_added: "0.1.0"
description:
  - Asks Podman which of O(images) the host has. A missing image that has an archive in
    O(archives) is loaded from that archive, found on the host under O(archive_dir); any other
    missing image is pulled when O(pull) allows it.
  - When an image is still missing afterwards, fails once, naming the host and, for each such
    image, its groups and the last line of Podman's error.
  - The archives themselves are on the controller. With O(plan_only=true) the module only says
    which images are missing and where each archive to copy goes (RV(load)); the role copies
    those archives, then runs the module again to load and pull.
  - An archive is loaded only when it is a regular file (not a link), and is removed once its
    image loaded; an archive whose load failed is kept, for a look at it.
  - Image names that start with C(-) are refused; names follow C(--) on Podman's command line.
  - Changed only when it loaded or pulled an image.
options:
  images:
    description: The images the host's groups run, as the plan returns them (C(plan.images)).
    type: list
    elements: dict
    required: true
    suboptions:
      image:
        description: Image name, as the units name it.
        type: str
        required: true
      groups:
        description: The groups that run it, named in the error when it is missing.
        type: list
        elements: str
        default: []
  archives:
    description:
      - Image name to the path of its C(podman save) archive on the controller. The module only
        hands the path on (RV(load[].src)); the archive is read from RV(load[].dest) on the host.
      - An image listed here is loaded, never pulled.
    type: dict
    default: {}
  layouts:
    description:
      - Image name to its uncompressed OCI layout on the controller, C({dir, layers, files}) as
        M(ai_system.containers.image_build) returns them in C(layouts) - C(dir) the layout's
        directory, C(layers) the layer digests, C(files) every file of the layout relative to C(dir).
      - A missing image listed here comes as the files of its layout the host lacks - every file
        but the layer blobs already in the host's image storage (RV(layout[].files)) - copied to
        RV(layout[].dest), then pulled from there (C(podman pull oci:)) and named; the copy is
        removed afterwards. A one-file source change then sends the changed layer, not the image.
    type: dict
    default: {}
  archive_dir:
    description:
      - Directory on the host that the archives are copied to, one file per image. It should be
        a directory only root can write to (the role uses C(/var/lib/ai-system/images), mode
        C(0700)).
    type: path
    default: /var/lib/ai-system/images
  pull:
    description: Pull the missing images that have no archive; with V(false) they fail the run.
    type: bool
    default: true
  host:
    description: Name of the host in the error message; the machine's host name when not given.
    type: str
  plan_only:
    description:
      - Only find the missing images and say how each would arrive; load nothing, pull nothing,
        never fail on a missing image.
    type: bool
    default: false
  prune:
    description:
      - Instead of getting the images, remove the tags of earlier builds (RV(removed_images)) - for
        each of O(images) built from source (C(<repository>:src-<12 hex>), see
        M(ai_system.containers.image_build)), the other C(src-) tags of its repository but the
        O(keep) newest. A tag a container uses stays; images the collection does not build are
        never touched. Run it once the units run the new images.
    type: bool
    default: false
  keep:
    description: With O(prune=true), how many earlier builds of each image stay on the host (a way back).
    type: int
    default: 1
attributes:
  check_mode:
    description: Reports what would be loaded and pulled; loads and pulls nothing and does not fail
      on an image that would be missing.
    support: full
  diff_mode:
    description: Images are not files; there is no diff.
    support: none
  platform:
    description: Hosts with Podman.
    support: full
    platforms: posix
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Find the images that are not on the host yet
  ai_system.containers.stack_images:
    images: "{{ stack_host_plan.images }}"
    archives: {"localhost/agents:1": "build/agents.tar"}
    host: "{{ inventory_hostname }}"
    plan_only: true
  register: images

- name: Copy the archives of missing images to the host
  ansible.builtin.copy:
    src: "{{ item.src }}"
    dest: "{{ item.dest }}"
    mode: "0600"
  loop: "{{ images.load }}"

- name: Load or pull the missing images
  ai_system.containers.stack_images:
    images: "{{ stack_host_plan.images }}"
    archives: {"localhost/agents:1": "build/agents.tar"}
    host: "{{ inventory_hostname }}"

- name: Once the units run the new images, remove the earlier builds but the newest one
  ai_system.containers.stack_images:
    images: "{{ stack_host_plan.images }}"
    prune: true
    keep: 1
"""

RETURN = r"""
elapsed_s:
  description: Seconds the loads and pulls took, together.
  returned: unless O(plan_only=true) or in check mode
  type: float
  sample: 42.7
present:
  description: The images the host had already.
  returned: always
  type: list
  elements: str
  sample: ["docker.io/library/redis:7"]
load:
  description:
    - The missing images that come from an archive - loaded, or to be loaded with
      O(plan_only=true) or in check mode.
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The image.
      type: str
      sample: localhost/agents:1
    groups:
      description: The groups that run it.
      type: list
      elements: str
      sample: [core, models]
    src:
      description: Its archive on the controller, from O(archives).
      type: str
      sample: build/agents.tar
    dest:
      description: Where the archive lies on the host, under O(archive_dir).
      type: str
      sample: /var/lib/ai-system/images/localhost_agents_1.tar
  sample: [{image: "localhost/agents:1", groups: [core, models], src: build/agents.tar,
            dest: /var/lib/ai-system/images/localhost_agents_1.tar}]
layout:
  description:
    - The missing images that come as an OCI layout - pulled, or to be pulled with
      O(plan_only=true) or in check mode.
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The image.
      type: str
      sample: localhost/ai-system/agents:src-3f2a9c1b0d4e
    groups:
      description: The groups that run it.
      type: list
      elements: str
      sample: [core, models]
    src:
      description: The layout's directory on the controller.
      type: str
      sample: /root/.cache/ai-system/images/agents-src-3f2a9c1b0d4e.oci
    dest:
      description: Where the layout's files lie on the host, under O(archive_dir).
      type: str
      sample: /var/lib/ai-system/images/localhost_ai-system_agents_src-3f2a9c1b0d4e.oci
    files:
      description: The files of the layout to copy, relative to RV(layout[].src); the layer blobs
        the host has already are left out.
      type: list
      elements: str
      sample: [oci-layout, index.json, blobs/sha256/0d7d78a0f036e51cc930751cb8a01fad9533ad81abad44491d9352730ca39413]
  sample: []
removed_images:
  description: With O(prune=true), the tags of earlier builds removed (or, in check mode, to remove).
  returned: always
  type: list
  elements: str
  sample: [localhost/ai-system/agents:src-0d4e3f2a9c1b]
removed_archives:
  description: The archives and layouts removed from the host after their image loaded.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/ai-system/images/localhost_agents_1.tar]
pull:
  description: The other missing images - pulled, or to be pulled.
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The image.
      type: str
      sample: docker.io/library/redis:7
    groups:
      description: The groups that run it.
      type: list
      elements: str
      sample: [redis]
  sample: [{image: "docker.io/library/redis:7", groups: [redis]}]
missing:
  description:
    - The images still missing, each with its groups and why. The module fails when there are
      any, except with O(plan_only=true) or in check mode, where it lists those it could not
      get (with O(pull=false)).
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The image.
      type: str
      sample: localhost/ai-system/no-such-image:1
    groups:
      description: The groups that run it.
      type: list
      elements: str
      sample: [monitoring]
    how:
      description: How it could not be got - C(pulled) or C(loaded from) its archive.
      type: str
      sample: pulled
    reason:
      description: The last line of Podman's error, or why nothing was tried.
      type: str
      sample: "Error: initializing source docker://localhost/ai-system/no-such-image:1: manifest unknown"
  sample: [{image: "localhost/ai-system/no-such-image:1", groups: [monitoring], how: pulled,
            reason: "Error: initializing source docker://localhost/ai-system/no-such-image:1"}]
"""

import errno
import json
import os
import platform
import shutil
import stat
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_system.containers.plugins.module_utils.images.image_sources import (
    earlier_builds, image_problem, in_order, last_line, missing_message, plan_images,
)

PODMAN_ENV = {"LANG": "C", "LC_ALL": "C", "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}


class Podman:
    """Runs podman through the module."""

    def __init__(self, module):
        self.module = module
        self.podman = module.get_bin_path("podman", required=True)

    def run(self, args):
        return self.module.run_command([self.podman] + args, environ_update=PODMAN_ENV)

    def layers(self):
        """The diff IDs of every layer in the host's image storage."""
        rc, out, err = self.run(["image", "ls", "--all", "--noheading", "--no-trunc",
                                 "--format", "{{.ID}}"])
        ids = sorted(set(out.split())) if rc == 0 else []
        if not ids:
            return []
        rc, out, err = self.run(["image", "inspect", "--format",
                                 "{{range .RootFS.Layers}}{{.}} {{end}}", "--"] + ids)
        return sorted(set(out.split())) if rc == 0 else []

    def exists(self, image):
        rc, out, err = self.run(["image", "exists", "--", image])
        if rc not in (0, 1):
            self.module.fail_json(msg="podman image exists %s failed (rc %d): %s"
                                  % (image, rc, last_line(err or out)))
        return rc == 0


def _archive_problem(path):
    """Why the archive at path must not be loaded, or None."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return "cannot read the archive: %s" % (exc.strerror or exc)
    if not stat.S_ISREG(info.st_mode):
        return "the archive is not a regular file"
    return None


def _remove(module, path):
    """Remove a loaded archive; whether it is gone."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        module.warn("could not remove the loaded archive %s: %s" % (path, exc.strerror))
        return False
    return True


def _fetch(podman, entry, args, how):
    """Run a load or pull; None when the image is there afterwards, else why not."""
    if "dest" in entry:
        problem = _archive_problem(entry["dest"])
        if problem:
            return {"image": entry["image"], "groups": entry["groups"], "how": how,
                    "reason": problem}
    rc, out, err = podman.run(args)
    if podman.exists(entry["image"]):
        return None
    if rc != 0:
        reason = last_line(err or out)
    else:
        reason = "podman reported no error (%s)" % last_line(out or err)
    return {"image": entry["image"], "groups": entry["groups"], "how": how, "reason": reason}


def _pull_layout(podman, entry):
    """Pull an OCI layout copied to the host and name its image; None when
    the image is there afterwards, else why not."""
    how = "pulled from the OCI layout %s" % entry["dest"]
    info = None
    try:
        info = os.lstat(os.path.join(entry["dest"], "index.json"))
    except OSError as exc:
        reason = "cannot read the layout: %s" % (exc.strerror or exc)
    if info is not None and not stat.S_ISREG(info.st_mode):
        reason = "the layout's index.json is not a regular file"
        info = None
    if info is None:
        return {"image": entry["image"], "groups": entry["groups"], "how": how, "reason": reason}
    rc, out, err = podman.run(["image", "pull", "--quiet", "oci:" + entry["dest"]])
    if rc == 0 and out.strip():
        rc, dummy, err = podman.run(["image", "tag", out.strip().splitlines()[-1],
                                     entry["image"]])
    if podman.exists(entry["image"]):
        return None
    return {"image": entry["image"], "groups": entry["groups"], "how": how,
            "reason": last_line(err or out)}


def _host(params):
    return params["host"] or platform.node()


def prune_images(module, podman):
    """Remove the tags of earlier builds of the images (``prune``)."""
    p = module.params
    result = {"changed": False, "removed_images": []}
    rc, out, err = podman.run(["images", "--format", "json"])
    if rc != 0:
        module.fail_json(msg="podman images failed (rc %d): %s" % (rc, last_line(err or out)))
    going = earlier_builds([i["image"] for i in p["images"]], json.loads(out or "[]"), p["keep"])
    for tag in going:
        if not module.check_mode:
            rc, out, err = podman.run(["rmi", "--", tag])
            if rc != 0:
                module.warn("could not remove the earlier build %s: %s" % (tag, last_line(err or out)))
                continue
        result["removed_images"].append(tag)
    result["changed"] = bool(result["removed_images"])
    return result


def ensure_images(module):
    p = module.params
    for position, item in enumerate(p["images"]):
        problem = image_problem("images[%d].image" % position, item["image"])
        if problem:
            module.fail_json(msg=problem)
    podman = Podman(module)
    if p["prune"]:
        return prune_images(module, podman)
    present = [i["image"] for i in p["images"] if podman.exists(i["image"])]
    host_layers = []
    if p["layouts"] and any(i["image"] in p["layouts"] and i["image"] not in present
                            for i in p["images"]):
        host_layers = podman.layers()
    result = plan_images(p["images"], present, p["archives"], p["archive_dir"], p["pull"],
                         p["layouts"], host_layers)
    result["changed"] = False
    result["removed_archives"] = []
    result["removed_images"] = []
    if p["plan_only"]:
        return result
    if module.check_mode:
        result["changed"] = bool(result["layout"] or result["load"] or result["pull"])
        if result["missing"]:
            module.warn("check mode: %s" % missing_message(_host(p), result["missing"]))
        return result
    failures = []
    began = time.monotonic()
    for entry in result["layout"]:
        failure = _pull_layout(podman, entry)
        failures.append(failure)
        if failure is None:
            shutil.rmtree(entry["dest"], ignore_errors=True)
            result["removed_archives"].append(entry["dest"])
    for entry in result["load"]:
        failure = _fetch(podman, entry, ["load", "--input=" + entry["dest"]],
                         "loaded from %s" % entry["dest"])
        failures.append(failure)
        if failure is None and _remove(module, entry["dest"]):
            result["removed_archives"].append(entry["dest"])
    failures += [_fetch(podman, entry, ["image", "pull", "--", entry["image"]], "pulled")
                 for entry in result["pull"]]
    failed = {f["image"] for f in failures if f}
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    result["changed"] = any(e["image"] not in failed
                            for e in result["layout"] + result["load"] + result["pull"])
    result["missing"] = in_order(p["images"], result["missing"] + [f for f in failures if f])
    if result["missing"]:
        module.fail_json(msg=missing_message(_host(p), result["missing"]),
                         missing=result["missing"], changed=result["changed"],
                         removed_archives=result["removed_archives"],
                         elapsed_s=result["elapsed_s"])
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "images": {"type": "list", "elements": "dict", "required": True, "options": {
                "image": {"type": "str", "required": True},
                "groups": {"type": "list", "elements": "str", "default": []},
            }},
            "archives": {"type": "dict", "default": {}},
            "layouts": {"type": "dict", "default": {}},
            "archive_dir": {"type": "path", "default": "/var/lib/ai-system/images"},
            "pull": {"type": "bool", "default": True},
            "host": {"type": "str"},
            "plan_only": {"type": "bool", "default": False},
            "prune": {"type": "bool", "default": False},
            "keep": {"type": "int", "default": 1},
        },
        supports_check_mode=True,
    )
    module.exit_json(**ensure_images(module))


if __name__ == "__main__":
    main()
