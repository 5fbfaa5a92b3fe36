# -*- coding: utf-8 -*-
"""The image pipeline on the two-host lab: the stand-in agent built from
source on the controller (playbooks/images.yml inside site.yml), pushed to the
lab registry (Debian's docker-registry, scripts/lab/registry.sh) and pulled by
the hosts; the units run it by its source digest.

Tests run in file order against one lab: first deploy, a converged re-run, a
one-file source change, then a broken Containerfile, an image without pyzmq
and an unreachable registry, each stopped before any host changes; last,
delivery over the Ansible connection (no registry).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.plan.stack_plan import build_plan
from support.ansible_run import REPO
from support.inventory import load_inventory_dir
from support.lab import sh

BUILD_TASK = "Build every image whose sources changed, check its contract, push or archive it"
DELIVER_TASK = ("Load or pull the missing images, remove the loaded archives, stop naming "
                "those still missing")
STAND_IN = os.path.join(REPO, "images", "stand-in-agent")
REGISTRY = [os.path.join(REPO, "scripts", "lab", "registry.sh")]
PIPELINE_INVENTORY = [sys.executable, os.path.join(REPO, "scripts", "lab", "pipeline-inventory.py")]


@pytest.fixture(scope="module")
def registry(lab):
    if subprocess.run(["podman", "image", "exists", "localhost/ai-system/lab-registry:latest"],
                      check=False).returncode != 0:
        pytest.fail("localhost/ai-system/lab-registry:latest is missing: run "
                    "`scripts/build-lab-images.sh lab-registry`")
    sh(["bash"] + REGISTRY + ["start"], timeout=120)
    sh(["bash"] + REGISTRY + ["trust"], timeout=60)
    try:
        yield sh(["bash"] + REGISTRY + ["address"]).stdout.strip()
    finally:
        # Before the lab's network goes: the registry is attached to it.
        sh(["bash"] + REGISTRY + ["stop"], timeout=120, check=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A copy of the stand-in's build context that the tests edit."""
    dest = tmp_path_factory.mktemp("src") / "stand-in-agent"
    shutil.copytree(STAND_IN, dest)
    return dest


def pipeline_inventory(tmp_root, name, context, *extra):
    dest = os.path.join(str(tmp_root), "inventory-" + name)
    sh(PIPELINE_INVENTORY + [dest, "--context", str(context)] + list(extra))
    return dest


@pytest.fixture(scope="module")
def inventory(lab, registry, source):
    return pipeline_inventory(lab.tmp_root, "pipeline", source)


def plan_of(inventory):
    result = build_plan(load_inventory_dir(inventory))
    assert result["errors"] == []
    return result


def stand_in_groups(plan, host, registry):
    prefix = "%s/ai-system/stand-in-agent:src-" % registry
    return {u["container"] for u in plan["hosts"][host]["units"] if u["image"].startswith(prefix)}


def printed(run):
    """name -> (ref, image ID) as the images play printed them."""
    (res,) = run.task_results(BUILD_TASK).values()
    return {line.split()[0]: tuple(line.split()[1:3]) for line in res["digests"]}, res


def start_times(lab, plan):
    out = {}
    for host in lab.hosts:
        props = lab.unit_props(host, [u["service"] for u in plan["hosts"][host]["units"]])
        for unit in plan["hosts"][host]["units"]:
            out[(host, unit["container"])] = props[unit["service"]][
                "ActiveEnterTimestampMonotonic"]
    return out


def running_images(lab, host):
    out = lab.exec(host, "podman", "ps", "--format", "{{.Names}} {{.Image}} {{.ImageID}}",
                   "--no-trunc").stdout
    return {line.split()[0]: tuple(line.split()[1:3]) for line in out.splitlines() if line}


def host_changes(run, lab):
    return {host: run.count("changed", host) for host in lab.hosts}


# -- first deploy ----------------------------------------------------------------------

def test_first_run_builds_pushes_and_hosts_pull_and_run_the_printed_digest(
        lab, registry, inventory):
    plan = plan_of(inventory)
    run = lab.playbook(inventory=inventory)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    digests, res = printed(run)
    ref, image_id = digests["stand-in-agent"]
    assert ref.startswith("%s/ai-system/stand-in-agent:src-" % registry)
    assert res["images"]["stand-in-agent"]["pushed"] is True
    for host in lab.hosts:
        pulled = [p["image"] for p in run.task_results(DELIVER_TASK)[host]["pull"]]
        assert pulled == [ref]
        running = running_images(lab, host)
        groups = stand_in_groups(plan, host, registry)
        assert groups, "no group of %s runs the stand-in" % host
        for container in groups:
            assert running[container][0] == ref, (host, container, running[container])
            assert running[container][1] == image_id, (host, container)
    lab.wait_all_healthy(plan, timeout=120)


def test_second_run_builds_pushes_and_pulls_nothing_and_changes_nothing(lab, inventory):
    run = lab.playbook(inventory=inventory)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    digests, res = printed(run)
    assert res["changed"] is False
    assert not res["images"]["stand-in-agent"]["built"]
    assert not res["images"]["stand-in-agent"]["pushed"]
    assert host_changes(run, lab) == {"mainpc": 0, "pc2": 0}


def test_one_file_change_rebuilds_once_and_restarts_exactly_its_groups(
        lab, registry, inventory, source):
    before_plan = plan_of(inventory)
    before = start_times(lab, before_plan)
    with open(source / "agent.py", "a") as handle:
        # Unique per run: a controller that built this change before keeps its tag.
        handle.write("\n# a one-line source change %s\n" % uuid.uuid4().hex)
    plan = plan_of(inventory)
    run = lab.playbook(inventory=inventory)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    digests, res = printed(run)
    assert res["images"]["stand-in-agent"]["built"] is True
    assert res["images"]["stand-in-agent"]["pushed"] is True
    ref, image_id = digests["stand-in-agent"]
    after = start_times(lab, plan)
    for host in lab.hosts:
        pulled = [p["image"] for p in run.task_results(DELIVER_TASK)[host]["pull"]]
        assert pulled == [ref]
        groups = stand_in_groups(plan, host, registry)
        others = {u["container"] for u in plan["hosts"][host]["units"]} - groups
        assert others, "every group of %s runs the stand-in" % host
        for container in groups:
            assert after[(host, container)] != before[(host, container)], (host, container)
            assert running_images(lab, host)[container] == (ref, image_id)
        for container in others:
            assert after[(host, container)] == before[(host, container)], (host, container)
    lab.wait_all_healthy(plan, timeout=120)


# -- refusals before any host changes ---------------------------------------------------

def refused(lab, inventory):
    """The message of a run refused in the images play; no host changed."""
    running = plan_of(os.path.join(str(lab.tmp_root), "inventory-pipeline"))
    before = start_times(lab, running)
    run = lab.playbook(inventory=inventory)
    assert run.rc != 0
    assert host_changes(run, lab) == {"mainpc": 0, "pc2": 0}
    assert start_times(lab, running) == before
    (failure,) = [f for f in run.failures() if f.get("task") == BUILD_TASK]
    return failure["res"]["msg"]


def test_broken_containerfile_fails_naming_image_and_step_before_any_host_changes(
        lab, registry, source, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    with open(broken / "Containerfile", "a") as handle:
        handle.write("RUN exit 3\n")
    inventory = pipeline_inventory(lab.tmp_root, "broken", broken)
    msg = refused(lab, inventory)
    assert msg.startswith("image stand-in-agent: the build failed at STEP "), msg
    assert "RUN exit 3" in msg and "no host changed" in msg


def test_image_without_pyzmq_is_refused_saying_what_to_add(lab, registry, source, tmp_path):
    nozmq = tmp_path / "nozmq"
    shutil.copytree(source, nozmq)
    # The lab host image: python3 without pyzmq.
    inventory = pipeline_inventory(lab.tmp_root, "nozmq", nozmq)
    path = os.path.join(inventory, "group_vars", "all", "pipeline.yml")
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("localhost/ai-system/python-zmq-base:trixie",
                                  "localhost/ai-system/lab-host:trixie"))
    msg = refused(lab, inventory)
    assert "does not meet the image contract" in msg, msg
    assert "No module named 'zmq'" in msg and "pyzmq" in msg


def test_unreachable_registry_fails_before_any_host_changes(lab, registry, source):
    inventory = pipeline_inventory(lab.tmp_root, "unreachable", source)
    path = os.path.join(inventory, "group_vars", "all", "pipeline.yml")
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace(registry, "10.89.100.99:5000"))
    msg = refused(lab, inventory)
    assert msg.startswith("registry 10.89.100.99:5000 cannot be reached"), msg


# -- without a registry ----------------------------------------------------------------

def test_without_registry_hosts_get_only_the_layers_they_lack_over_the_connection(
        lab, source, tmp_path):
    inventory = pipeline_inventory(lab.tmp_root, "connection", source, "--no-registry",
                                   "--archive-dir", str(tmp_path / "layouts"))
    plan = plan_of(inventory)
    run = lab.playbook(inventory=inventory)
    assert run.rc == 0, [f["res"].get("msg") for f in run.failures()]
    digests, res = printed(run)
    ref, image_id = digests["stand-in-agent"]
    assert ref.startswith("localhost/ai-system/stand-in-agent:src-")
    layout = res["layouts"][ref]
    for host in lab.hosts:
        delivered = run.task_results(DELIVER_TASK)[host]
        assert [entry["image"] for entry in delivered["layout"]] == [ref]
        assert delivered["pull"] == []
        running = running_images(lab, host)
        for container in stand_in_groups(plan, host, "localhost"):
            assert running[container] == (ref, image_id), (host, container)
    lab.wait_all_healthy(plan, timeout=120)

    again = lab.playbook(inventory=inventory)
    assert again.rc == 0
    assert host_changes(again, lab) == {"mainpc": 0, "pc2": 0}
    assert again.task_results(DELIVER_TASK) == {}

    # A one-file change: each host is sent the changed layer and the layout's
    # small files, never the base layers it has.
    with open(source / "agent.py", "a") as handle:
        handle.write("\n# changed again\n")
    changed = lab.playbook(inventory=inventory)
    assert changed.rc == 0, [f["res"].get("msg") for f in changed.failures()]
    digests, res = printed(changed)
    new_ref, new_id = digests["stand-in-agent"]
    new_layout = res["layouts"][new_ref]
    fresh = [d for d in new_layout["layers"] if d not in layout["layers"]]
    assert len(fresh) == 1, new_layout["layers"]
    plan_only = changed.task_results("Find the images that are not on the host yet")
    for host in lab.hosts:
        (entry,) = plan_only[host]["layout"]
        blobs = [f for f in entry["files"] if f.startswith("blobs/")]
        layer_blobs = [f for f in blobs if "sha256:" + f.rsplit("/", 1)[1] in new_layout["layers"]]
        assert layer_blobs == ["blobs/sha256/" + fresh[0].split(":")[1]], entry["files"]
        running = running_images(lab, host)
        for container in stand_in_groups(plan_of(inventory), host, "localhost"):
            assert running[container] == (new_ref, new_id), (host, container)
