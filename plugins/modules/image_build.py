#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_build
short_description: Build the application's images from source, once per source digest, and check their contract
version_added: "0.1.0"
description:
  - Runs where the images are built (the controller, or a declared build host). For each entry of
    O(images) it computes the digest of the build context's files (those C(.containerignore) or
    C(.dockerignore) let through), the Containerfile, the build arguments and the target stage, and
    names the image C(<registry or localhost>/ai-system/<name>:src-<12 hex>).
  - An image whose source is C(git) ({repo, ref}) is named after the commit the ref resolves to
    (C(git ls-remote)) and the other inputs; it is checked out under O(source_dir) only to be built.
  - Builds with C(podman build) only when that tag does not exist yet. A failed build fails the module
    naming the image and the failing step (C(STEP n/m)).
  - After a build, checks the image contract - C(python3 -c 'import zmq') inside the image, which the
    health probe needs - and refuses an image that fails it, saying what to add; the refused tag is
    removed so that the next run checks again.
  - With O(registry), an unreachable registry fails before anything is built. An image the
    controller lacks but the registry has (built and pushed by a CI job) is neither built nor pushed.
    With O(push), each image the registry lacks is pushed (asked through the registry's API).
  - Without O(registry), writes one uncompressed OCI layout (C(podman save --format oci-dir
    --uncompressed)) per image and digest under O(archive_dir), for the hosts that lack the image
    (RV(layouts)); the stack role copies each such host only the layers it lacks.
  - Changed only when it built, pushed or wrote an archive.
options:
  images:
    description:
      - The C(ai_images) inventory variable - image name to C({context, containerfile, build_args, target}).
        See C(docs/inventory.md).
    type: dict
    required: true
  base_dir:
    description: Directory that relative contexts are read from (the inventory's directory).
    type: path
    required: true
  registry:
    description: The registry (C(host[:port][/path])) the images are named after and pushed to; empty for none.
    type: str
    default: ""
  registry_insecure:
    description: Talk to O(registry) over plain HTTP, without TLS (a lab registry only).
    type: bool
    default: false
  push:
    description: Push the images the registry lacks (only with O(registry)).
    type: bool
    default: true
  archive_dir:
    description: Directory on the build machine for the OCI layouts delivered to the hosts when there is no registry.
    type: path
    default: ~/.cache/ai-system/images
  source_dir:
    description: Directory on the build machine for the checkouts of C(git) sources, one per image and commit.
    type: path
    default: ~/.cache/ai-system/src
  check_contract:
    description: Check the image contract after each build.
    type: bool
    default: true
attributes:
  check_mode:
    description: Says what would be built, pushed or saved; builds, pushes and saves nothing.
    support: full
  diff_mode:
    description: Images are not files; there is no diff.
    support: none
  platform:
    description: A machine with Podman.
    support: full
    platforms: posix
author:
  - ai_system.containers maintainers (@ai-system)
"""

EXAMPLES = r"""
- name: Build, check and push the application's images
  ai_system.containers.image_build:
    images: "{{ ai_images }}"
    base_dir: "{{ inventory_dir }}"
    registry: registry.lan:5000
  run_once: true
  delegate_to: localhost
  register: built

- name: Print the digests
  ansible.builtin.debug:
    msg: "{{ built.digests }}"
"""

RETURN = r"""
images:
  description: Per image name, what happened.
  returned: always
  type: dict
  sample:
    agents: {ref: "localhost/ai-system/agents:src-3f2a9c1b0d4e", digest: "3f2a9c1b0d4e...", files: 812,
             context: /srv/src/agents, built: true, pushed: false, id: "9d1c...",
             archive: /root/.cache/ai-system/images/agents-src-3f2a9c1b0d4e.oci, seconds: 84.2}
layouts:
  description: Image reference to its OCI layout on the build machine (no registry) - C(dir), the layer
    digests (C(layers), each a layer's diff ID) and every file (C(files), relative to C(dir)). The stack
    role copies each host that lacks the image the files it lacks (C(stack_image_layouts)).
  returned: always
  type: dict
  sample: {"localhost/ai-system/agents:src-3f2a9c1b0d4e": {dir: /root/.cache/ai-system/images/agents-src-3f2a9c1b0d4e.oci,
           layers: ["sha256:b1b2..."], files: [index.json, oci-layout, "blobs/sha256/b1b2..."]}}
digests:
  description: One line per image - name, the reference the units run, the image ID.
  returned: always
  type: list
  elements: str
  sample: ["agents localhost/ai-system/agents:src-3f2a9c1b0d4e 9d1c0b2e..."]
references:
  description: Per image name, the reference the units run, the image ID (empty when only the registry
    has it) and the full source digest - what a CI job keeps.
  returned: always
  type: dict
  sample: {agents: {ref: "localhost/ai-system/agents:src-3f2a9c1b0d4e", id: "9d1c...", source_digest: "3f2a9c1b0d4e..."}}
registry:
  description: The registry, as normalized; empty for none.
  returned: always
  type: str
  sample: registry.lan:5000
"""

import resource
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url

from ansible_collections.ai_system.containers.plugins.module_utils.images.image_build_run import build_images
from ansible_collections.ai_system.containers.plugins.module_utils.common.module_result import finish

MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json, "
                  "application/vnd.oci.image.manifest.v1+json")

PODMAN_ENV = {"LANG": "C", "LC_ALL": "C", "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}


def main():
    module = AnsibleModule(
        argument_spec={
            "images": {"type": "dict", "required": True},
            "base_dir": {"type": "path", "required": True},
            "registry": {"type": "str", "default": ""},
            "registry_insecure": {"type": "bool", "default": False},
            "push": {"type": "bool", "default": True},
            "archive_dir": {"type": "path", "default": "~/.cache/ai-system/images"},
            "source_dir": {"type": "path", "default": "~/.cache/ai-system/src"},
            "check_contract": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    podman = module.get_bin_path("podman", required=True)

    def run(argv):
        return module.run_command([podman] + list(argv), environ_update=PODMAN_ENV)

    def head(url):
        """HTTP status of a HEAD request to ``url``, or why none came back."""
        # registry_insecure means plain http (see image_build_run), so an https
        # registry always has its certificate checked.
        try:
            with open_url(url, method="HEAD", headers={"Accept": MANIFEST_TYPES}, timeout=10,
                          validate_certs=True, use_netrc=False) as reply:
                return reply.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError, UrlConnectionError) as exc:
            return str(getattr(exc, "reason", exc))

    params = dict(module.params)
    params["limits"] = {"nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
                        "nproc": resource.getrlimit(resource.RLIMIT_NPROC)}
    finish(module, build_images(params, run, head, module.check_mode))


if __name__ == "__main__":
    main()
