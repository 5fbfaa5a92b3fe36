# -*- coding: utf-8 -*-
"""image_build with the real Podman of this machine: a broken Containerfile and an
image without python3/pyzmq are refused with their messages; an image that meets
the contract is built once and archived once."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.ai_system.containers.plugins.modules import image_build

ZMQ_BASE = "localhost/ai-system/python-zmq-base:trixie"
ENV = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1")

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="needs Podman")


def podman(*args):
    return subprocess.run(["podman"] + list(args), capture_output=True, text=True, env=ENV, check=False)


@pytest.fixture()
def image(tmp_path):
    """(name, context dir); the name is unique, its images are removed afterwards."""
    name = "test-%s" % uuid.uuid4().hex[:10]
    context = tmp_path / "ctx"
    context.mkdir()
    yield name, context
    for line in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.splitlines():
        if "/ai-system/%s:" % name in line:
            podman("rmi", "-f", line)


def args(name, context, tmp_path):
    return {"images": {name: {"context": str(context)}}, "base_dir": str(tmp_path),
            "archive_dir": str(tmp_path / "archives")}


def test_broken_containerfile_names_the_image_and_step(image, tmp_path, run_module):
    name, context = image
    (context / "Containerfile").write_text("FROM scratch\nCOPY missing.txt /x\n")
    result, failed = run_module(image_build.main, args(name, context, tmp_path))
    assert failed
    assert result["msg"].startswith("image %s: the build failed at STEP 2/" % name), result["msg"]
    assert "COPY missing.txt /x" in result["msg"]


def test_image_without_python3_is_refused_and_untagged(image, tmp_path, run_module):
    name, context = image
    (context / "Containerfile").write_text("FROM scratch\nCOPY Containerfile /\n")
    result, failed = run_module(image_build.main, args(name, context, tmp_path))
    assert failed
    assert "does not meet the image contract" in result["msg"]
    assert "add both to the image" in result["msg"]
    ref = result["images"][name]["ref"]
    assert podman("image", "exists", ref).returncode == 1


@pytest.mark.skipif(podman("image", "exists", ZMQ_BASE).returncode != 0,
                    reason="needs %s (scripts/build-lab-images.sh python-zmq-base)" % ZMQ_BASE)
def test_image_meeting_the_contract_is_built_and_archived_once(image, tmp_path, run_module):
    name, context = image
    (context / "Containerfile").write_text("FROM %s\nCOPY app.py /app/app.py\n" % ZMQ_BASE)
    (context / "app.py").write_text("print(1)\n")
    result, failed = run_module(image_build.main, args(name, context, tmp_path))
    assert not failed, result["msg"]
    entry = result["images"][name]
    assert result["changed"] and entry["built"]
    assert podman("image", "inspect", "--format", "{{.Id}}", entry["ref"]).stdout.strip() == (
        entry["id"])
    layout = result["layouts"][entry["ref"]]
    assert layout["dir"] == entry["archive"]
    layers = podman("image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}",
                    entry["ref"]).stdout.split()
    assert layout["layers"] == layers  # uncompressed: a layer blob is named by its diff ID
    for digest in layers:
        assert "blobs/sha256/" + digest.split(":")[1] in layout["files"]
    again, failed = run_module(image_build.main, args(name, context, tmp_path))
    assert not failed and not again["changed"]
    assert again["images"][name]["id"] == entry["id"]
