# -*- coding: utf-8 -*-
"""Write the lab inventory for the image pipeline: inventory/lab, with every
stand-in group running the stand-in agent built from source by
playbooks/images.yml (``image: {name: stand-in-agent}``) and delivered from the
lab registry (scripts/lab/registry.sh) or, with --no-registry, over the
Ansible connection.

Usage: python3 scripts/lab/pipeline-inventory.py DEST [--context DIR] [--no-registry] [--archive-dir DIR]
  DEST              directory to write (replaced)
  --context DIR     the stand-in's build context (default: images/stand-in-agent)
  --no-registry     deliver over the Ansible connection instead of the registry
  --archive-dir DIR where the controller keeps the archives it delivers that way
                    (default: build/images)

`make demo` runs it; tests/system/test_lab_images.py does too, with a copy of
the context it edits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "inventory", "lab")
STAND_IN = "localhost/ai-system/stand-in-agent:latest"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--context", default=os.path.join(REPO, "images", "stand-in-agent"))
    parser.add_argument("--no-registry", action="store_true")
    parser.add_argument("--archive-dir", default=os.path.join(REPO, "build", "images"))
    args = parser.parse_args(argv)
    dest = os.path.abspath(args.dest)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(LAB, dest, symlinks=False)
    replaced = 0
    for host in sorted(os.listdir(os.path.join(dest, "host_vars"))):
        path = os.path.join(dest, "host_vars", host, "host.yml")
        with open(path) as handle:
            data = yaml.safe_load(handle)
        defaults = data.get("ai_host_group_defaults") or {}
        if defaults.get("image") == STAND_IN:
            defaults["image"] = {"name": "stand-in-agent"}
            replaced += 1
        with open(path, "w") as handle:
            handle.write("---\n# Written by scripts/lab/pipeline-inventory.py from inventory/lab.\n")
            yaml.safe_dump(data, handle, sort_keys=False)
    if not replaced:
        sys.exit("no host of %s runs %s: nothing to replace" % (LAB, STAND_IN))
    pipeline = {
        "ai_images": {"stand-in-agent": {
            "context": os.path.abspath(args.context),
            # Debian's python3-zmq base, built by scripts/build-lab-images.sh.
            "build_args": {"BASE": "localhost/ai-system/python-zmq-base:trixie"},
        }},
        "ai_images_archive_dir": os.path.abspath(args.archive_dir),
        # MainPC's pod unit keeps an image the pipeline does not rebuild (its
        # Redis's, which has python3): a rebuild of the stand-in then restarts
        # the groups that run it, not the pod and every group with it.
        "ai_pod_image": "localhost/ai-system/lab-redis:latest",
        # The lab's other archives (lab-redis), found from the repository
        # rather than from this copy's directory.
        "lab_image_dir": "{{ lookup('ansible.builtin.env', 'AI_SYSTEM_LAB_IMAGES', default=%r) }}"
                         % os.path.join(REPO, "build", "lab"),
    }
    if not args.no_registry:
        address = subprocess.run(["bash", os.path.join(REPO, "scripts", "lab", "registry.sh"),
                                  "address"], check=True, capture_output=True,
                                 text=True).stdout.strip()
        pipeline.update(ai_registry=address, ai_registry_insecure=True)
    with open(os.path.join(dest, "group_vars", "all", "pipeline.yml"), "w") as handle:
        handle.write("---\n# The image pipeline in the lab (scripts/lab/pipeline-inventory.py).\n")
        yaml.safe_dump(pipeline, handle, sort_keys=False)
    print(dest)


if __name__ == "__main__":
    main()
