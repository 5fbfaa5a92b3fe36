# -*- coding: utf-8 -*-
"""stack_images with prune=true against this machine's real Podman: earlier
builds of an image built from source go, but the newest ``keep``, a build a
container uses, and every image the collection does not build.

The builds are empty images (``FROM scratch``) with creation times set
(``podman build --timestamp``), tagged as image_build tags them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.modules import stack_images

ENV = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1", LANG="C")

pytestmark = [pytest.mark.podman,
              pytest.mark.skipif(shutil.which("podman") is None, reason="needs Podman")]


def podman(*argv, check=True):
    proc = subprocess.run(["podman"] + list(argv), capture_output=True, text=True, env=ENV,
                          timeout=120, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def exists(ref):
    return podman("image", "exists", ref, check=False).returncode == 0


@pytest.fixture
def builds(tmp_path, monkeypatch):
    """Five builds of one image (src-...1 oldest) and an image with another tag."""
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: shutil.which(name))
    repository = "localhost/ai-system/prune-%s" % uuid.uuid4().hex[:8]
    refs = ["%s:src-%012d" % (repository, n) for n in range(1, 6)]
    (tmp_path / "Containerfile").write_text("FROM scratch\nLABEL build=%s\n")
    for n, ref in enumerate(refs, 1):
        (tmp_path / "Containerfile").write_text("FROM scratch\nLABEL build=%d\n" % n)
        podman("build", "--timestamp", str(1000 * n), "-t", ref, str(tmp_path))
    other = repository + ":latest"
    podman("tag", refs[0], other)
    yield repository, refs, other
    for ref in refs + [other]:
        podman("rmi", "-f", ref, check=False)


def test_earlier_builds_go_but_the_newest_one(builds, run_module):
    repository, refs, other = builds
    args = {"images": [{"image": refs[4], "groups": ["core"]},
                       {"image": "docker.io/library/redis:7-alpine", "groups": ["redis"]}],
            "prune": True, "keep": 1}

    preview, failed = run_module(stack_images.main, args, check=True)
    assert not failed and preview["changed"]
    assert preview["removed_images"] == [refs[2], refs[1], refs[0]]
    assert all(exists(ref) for ref in refs)

    result, failed = run_module(stack_images.main, args)
    assert not failed and result["changed"]
    assert result["removed_images"] == [refs[2], refs[1], refs[0]]
    assert [exists(ref) for ref in refs] == [False, False, False, True, True]
    assert exists(other)  # the same image under a tag that is no build

    again, failed = run_module(stack_images.main, args)
    assert not failed and again["changed"] is False and again["removed_images"] == []


def test_a_build_a_container_uses_stays(builds, run_module):
    repository, refs, other = builds
    name = "prune-user-%s" % uuid.uuid4().hex[:8]
    podman("create", "--name", name, refs[1], "/nothing")
    try:
        result, failed = run_module(stack_images.main, {
            "images": [{"image": refs[4], "groups": ["core"]}], "prune": True, "keep": 0})
        assert not failed
        assert result["removed_images"] == [refs[3], refs[2], refs[0]]
        assert exists(refs[1])
    finally:
        podman("rm", "-f", name, check=False)
