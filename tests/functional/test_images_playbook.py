# -*- coding: utf-8 -*-
"""playbooks/images.yml through ansible-runner, as a CI job runs it: real Ansible and
the real Podman of this machine, no managed host touched (the inventory's hosts are
never contacted: the build runs on the controller)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

ZMQ_BASE = "localhost/ai-system/python-zmq-base:trixie"
ENV = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1")
BUILD_TASK = "Build every image whose sources changed, check its contract, push or archive it"


def podman(*args):
    return subprocess.run(["podman"] + list(args), capture_output=True, text=True, env=ENV, check=False)


pytestmark = [
    pytest.mark.skipif(shutil.which("podman") is None, reason="needs Podman"),
    pytest.mark.skipif(shutil.which("podman") is not None and
                       podman("image", "exists", ZMQ_BASE).returncode != 0,
                       reason="needs %s (scripts/build-lab-images.sh python-zmq-base)" % ZMQ_BASE),
]


@pytest.fixture()
def app(tmp_path):
    """An application: sources, an inventory naming them relatively, a unique image name."""
    name = "ci-%s" % uuid.uuid4().hex[:10]
    src = tmp_path / "src" / "app"
    src.mkdir(parents=True)
    (src / "Containerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nCOPY requirements.txt /app/\nCOPY agent.py /app/\n")
    (src / "requirements.txt").write_text("pyzmq\n")
    (src / "agent.py").write_text("print('v1')\n")
    (src / "notes.log").write_text("not part of the image\n")
    (src / ".containerignore").write_text("*.log\n")
    inv = tmp_path / "deploy" / "inventory"
    inv.mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"ai_hosts": {
        # Never contacted: a host that does not exist.
        "hosts": {"nohost": {"ansible_host": "192.0.2.1"}},
        "vars": {"ai_images": {name: {"context": "../../src/app",
                                      "build_args": {"BASE": ZMQ_BASE}}},
                 "ai_images_archive_dir": str(tmp_path / "archives")}}}))
    yield name, src, str(inv)
    for line in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.splitlines():
        if "/ai-system/%s:" % name in line:
            podman("rmi", "-f", line)


def test_ci_command_builds_once_prints_digests_and_rebuilds_on_a_source_change(
        app, playbook, tmp_path):
    name, src, inv = app
    digest_file = tmp_path / "digests.json"
    first = playbook("playbooks/images.yml", inv, {"ai_images_digest_file": str(digest_file)})
    assert first.rc == 0, [f["res"].get("msg") for f in first.failures()]
    built = first.task_results(BUILD_TASK)["nohost"]
    entry = built["images"][name]
    assert entry["built"] and entry["ref"].startswith("localhost/ai-system/%s:src-" % name)
    assert entry["files"] == 4  # notes.log is ignored
    assert "%s %s %s" % (name, entry["ref"], entry["id"]) in first.stdout
    assert json.loads(digest_file.read_text())[name]["id"] == entry["id"]

    (src / "notes.log").write_text("ignored change\n")
    second = playbook("playbooks/images.yml", inv, {"ai_images_digest_file": str(digest_file)})
    assert second.rc == 0
    assert second.count("changed", "nohost") == 0
    assert second.task_results(BUILD_TASK)["nohost"]["images"][name]["ref"] == entry["ref"]

    (src / "agent.py").write_text("print('v2')\n")
    third = playbook("playbooks/images.yml", inv)
    assert third.rc == 0
    changed = third.task_results(BUILD_TASK)["nohost"]["images"][name]
    assert changed["built"] and changed["ref"] != entry["ref"] and changed["id"] != entry["id"]


def test_ci_command_fails_on_a_broken_containerfile(app, playbook):
    name, src, inv = app
    with open(src / "Containerfile", "a") as handle:
        handle.write("RUN exit 7\n")
    run = playbook("playbooks/images.yml", inv)
    assert run.rc != 0
    (failure,) = run.failures()
    assert failure["res"]["msg"].startswith(
        "image %s: the build failed at STEP 4/" % name), failure["res"]["msg"]
    assert "RUN exit 7" in failure["res"]["msg"]


# -- a declared build host (ai_images_build_host) -----------------------------
#
# The build host here is a second inventory host reached with the local
# connection: the play delegates the hashing and the build to it through
# Ansible as it would to a remote machine, and it runs Podman with sources of
# its own (a copy of the controller's tree), pushing to a real registry (the
# lab's, Debian's docker-registry) on this machine.

REGISTRY_IMAGE = "localhost/ai-system/lab-registry:latest"


def build_host_inventory(inv, extra):
    with open(os.path.join(inv, "hosts.yml")) as handle:
        data = yaml.safe_load(handle)
    data["ai_hosts"]["vars"].update(extra)
    data["builders"] = {"hosts": {"builder": {"ansible_connection": "local",
                                              "ansible_python_interpreter": sys.executable}}}
    with open(os.path.join(inv, "hosts.yml"), "w") as handle:
        yaml.safe_dump(data, handle)


@pytest.fixture()
def registry():
    """A registry on 127.0.0.1:<free port>, removed afterwards."""
    if podman("image", "exists", REGISTRY_IMAGE).returncode != 0:
        pytest.skip("needs %s (make images)" % REGISTRY_IMAGE)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    name = "ci-registry-%s" % uuid.uuid4().hex[:8]
    started = podman("run", "-d", "--name", name, "-p", "127.0.0.1:%d:5000" % port, REGISTRY_IMAGE)
    assert started.returncode == 0, started.stderr
    address = "127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen("http://%s/v2/" % address, timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    yield address
    podman("rm", "-f", "-t", "0", name)


def in_registry(address, ref):
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    request = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (address, repo, tag), method="HEAD",
                                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status == 200
    except urllib.error.HTTPError:
        return False


def test_a_build_host_needs_a_registry_and_its_sources(app, playbook):
    name, src, inv = app
    build_host_inventory(inv, {"ai_images_build_host": "builder"})
    run = playbook("playbooks/images.yml", inv)
    assert run.rc != 0
    (failure,) = run.failures()
    message = failure["res"]["msg"]
    assert message.startswith("ai_images_build_host builder builds the images"), message
    assert "set ai_registry (now '')" in message and "ai_images_context_dir" in message
    assert podman("image", "exists", "localhost/ai-system/%s" % name).returncode != 0


def test_a_build_host_builds_its_own_copy_and_pushes_the_tag_the_plan_names(
        app, playbook, registry, tmp_path):
    name, src, inv = app
    builder_tree = tmp_path / "builder"
    shutil.copytree(src.parent, builder_tree / "src")
    build_host_inventory(inv, {"ai_images_build_host": "builder", "ai_registry": registry,
                               "ai_registry_insecure": True,
                               "ai_images_context_dir": str(builder_tree / "deploy" / "inventory")})
    (builder_tree / "deploy" / "inventory").mkdir(parents=True)

    # A tree that differs from the controller's is refused before anything is built.
    (builder_tree / "src" / "app" / "agent.py").write_text("print('not the same')\n")
    refused = playbook("playbooks/images.yml", inv)
    assert refused.rc != 0
    (failure,) = refused.failures()
    message = failure["res"]["msg"]
    assert message.startswith("The sources on build host builder"), message
    assert "image %s: builder gives %s/ai-system/%s:src-" % (name, registry, name) in message

    (builder_tree / "src" / "app" / "agent.py").write_text((src / "agent.py").read_text())
    first = playbook("playbooks/images.yml", inv)
    assert first.rc == 0, [f["res"].get("msg") for f in first.failures()]
    built = first.task_results(BUILD_TASK)["nohost"]["images"][name]
    assert built["built"] and built["pushed"]
    assert built["context"] == str(builder_tree / "src" / "app")
    assert in_registry(registry, built["ref"])

    second = playbook("playbooks/images.yml", inv)
    assert second.rc == 0
    assert second.count("changed", "nohost") == 0
    again = second.task_results(BUILD_TASK)["nohost"]["images"][name]
    assert again["ref"] == built["ref"] and not again["built"] and not again["pushed"]
