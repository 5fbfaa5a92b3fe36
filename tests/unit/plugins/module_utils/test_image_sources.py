# -*- coding: utf-8 -*-
"""image_sources: which images are missing, load or pull, and the error naming them."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.images.image_sources import (
    archive_path, earlier_builds, image_problem, in_order, last_line, layout_files, layout_path, missing_message,
    plan_images,
)

IMAGES = [
    {"image": "docker.io/library/redis:7", "groups": ["redis"]},
    {"image": "localhost/agents:1", "groups": ["core", "models"]},
    {"image": "quay.io/x/monitor:2", "groups": ["monitoring"]},
]
ARCHIVES = {"localhost/agents:1": "/ctl/build/agents.tar", "localhost/unused:1": "/ctl/u.tar"}


def test_archive_path_is_one_file_per_image_name():
    assert archive_path("/var/lib/ai-system/images",
                        "localhost/ai-system/stand-in-agent:latest") == (
        "/var/lib/ai-system/images/localhost_ai-system_stand-in-agent_latest.tar")


def test_present_images_are_left_alone_and_missing_ones_loaded_or_pulled():
    plan = plan_images(IMAGES, ["docker.io/library/redis:7"], ARCHIVES, "/var/lib/ai-system/images")
    assert plan == {
        "present": ["docker.io/library/redis:7"],
        "load": [{"image": "localhost/agents:1", "groups": ["core", "models"],
                  "src": "/ctl/build/agents.tar", "dest": "/var/lib/ai-system/images/localhost_agents_1.tar"}],
        "pull": [{"image": "quay.io/x/monitor:2", "groups": ["monitoring"]}],
        "missing": [],
        "layout": [],
    }


def test_without_pulling_the_images_to_pull_are_missing():
    plan = plan_images(IMAGES, [], ARCHIVES, "/var/lib/ai-system/images", pull=False)
    assert plan["pull"] == [] and [e["image"] for e in plan["load"]] == ["localhost/agents:1"]
    assert plan["missing"] == [
        {"image": "docker.io/library/redis:7", "groups": ["redis"], "how": "pulled",
         "reason": "pulling is turned off"},
        {"image": "quay.io/x/monitor:2", "groups": ["monitoring"], "how": "pulled",
         "reason": "pulling is turned off"}]


def test_in_order_follows_the_plan():
    entries = [{"image": "quay.io/x/monitor:2"}, {"image": "docker.io/library/redis:7"}]
    assert in_order(IMAGES, entries) == entries[::-1]


def test_an_image_with_an_archive_is_never_pulled_and_a_present_one_never_loaded():
    everything = [i["image"] for i in IMAGES]
    assert plan_images(IMAGES, everything, ARCHIVES, "/var/lib/ai-system/images") == {
        "present": everything, "layout": [], "load": [], "pull": [], "missing": []}
    plan = plan_images(IMAGES[1:2], [], ARCHIVES, "/d")
    assert plan["pull"] == [] and [e["image"] for e in plan["load"]] == ["localhost/agents:1"]


def test_last_line_is_the_last_that_says_something():
    assert last_line("Trying to pull x...\nError: manifest unknown\n\n") == "Error: manifest unknown"
    assert last_line("") == "no message"
    assert last_line("  \n") == "no message"


def test_the_error_names_the_host_each_image_and_its_groups():
    msg = missing_message("pc2", [
        {"image": "localhost/ai-system/no-such-image:1", "groups": ["pc2-ai-monitoring"],
         "how": "pulled", "reason": "Error: manifest unknown"},
        {"image": "localhost/agents:1", "groups": ["core", "models"],
         "how": "loaded from /var/lib/ai-system/images/localhost_agents_1.tar", "reason": "Error: no such file"},
    ])
    assert msg == (
        "host pc2: group pc2-ai-monitoring: image localhost/ai-system/no-such-image:1 is not on "
        "the host and could not be pulled (Error: manifest unknown); group core, group models: "
        "image localhost/agents:1 is not on the host and could not be loaded from "
        "/var/lib/ai-system/images/localhost_agents_1.tar (Error: no such file); fix the image name in the "
        "inventory, or load the image (stack_image_archives); no unit was changed")


@pytest.mark.parametrize("image, problem", [
    ("docker.io/library/redis:7", None),
    ("localhost/agents@sha256:" + "a" * 64, None),
    ("", "images[0].image must be an image name, got ''"),
    ("-q", "images[0].image '-q' is not an image name: it starts with '-', which podman would "
     "read as an option"),
    ("redis 7", "images[0].image 'redis 7' is not an image name: it holds white space or a "
     "control character"),
])
def test_image_names_that_podman_would_read_as_options_are_refused(image, problem):
    assert image_problem("images[0].image", image) == problem


LAYOUT = {"dir": "/ctl/images/agents-src-1.oci",
          "layers": ["sha256:" + "a" * 64, "sha256:" + "b" * 64],
          "files": ["blobs/sha256/" + "a" * 64, "blobs/sha256/" + "b" * 64,
                    "blobs/sha256/" + "c" * 64, "index.json", "oci-layout"]}


def test_a_layout_sends_only_the_layers_the_host_lacks():
    assert layout_files(LAYOUT, ["sha256:" + "a" * 64, "sha256:" + "f" * 64]) == [
        "blobs/sha256/" + "b" * 64, "blobs/sha256/" + "c" * 64, "index.json", "oci-layout"]
    assert layout_files(LAYOUT, []) == LAYOUT["files"]


def test_an_image_with_a_layout_comes_as_its_layout_before_any_archive():
    layouts = {"localhost/agents:1": LAYOUT}
    plan = plan_images(IMAGES, ["docker.io/library/redis:7"], ARCHIVES, "/var/lib/ai-system/images",
                       layouts=layouts, host_layers=["sha256:" + "a" * 64])
    assert plan["load"] == []
    (entry,) = plan["layout"]
    assert entry["image"] == "localhost/agents:1" and entry["groups"] == ["core", "models"]
    assert entry["src"] == LAYOUT["dir"]
    assert entry["dest"] == layout_path("/var/lib/ai-system/images", "localhost/agents:1") == (
        "/var/lib/ai-system/images/localhost_agents_1.oci")
    assert "blobs/sha256/" + "a" * 64 not in entry["files"] and len(entry["files"]) == 4
    present = plan_images(IMAGES, [i["image"] for i in IMAGES], ARCHIVES, "/d", layouts=layouts)
    assert present["layout"] == []


# -- earlier builds ----------------------------------------------------------

AGENTS = "registry.lan:5000/ai-system/agents"


def built(tag, created, containers=0, *more):
    return {"Names": ["%s:%s" % (AGENTS, tag)] + list(more), "Created": created, "Containers": containers}


def test_earlier_builds_are_the_other_source_tags_of_the_repository_but_the_newest():
    local = [built("src-000000000001", 100), built("src-000000000003", 300),
             built("src-000000000002", 200), built("src-000000000004", 400)]
    wanted = [AGENTS + ":src-000000000004"]
    assert earlier_builds(wanted, local, keep=1) == [AGENTS + ":src-000000000002",
                                                     AGENTS + ":src-000000000001"]
    assert earlier_builds(wanted, local, keep=0) == [AGENTS + ":src-00000000000%d" % n for n in (3, 2, 1)]
    assert earlier_builds(wanted, local, keep=5) == []


def test_earlier_builds_leave_what_a_container_uses_and_what_the_collection_does_not_build():
    local = [built("src-000000000001", 100, 1), built("src-000000000002", 200),
             built("latest", 50), built("src-0000000000zz", 10),
             {"Names": ["docker.io/library/redis:7"], "Created": 1, "Containers": 0},
             {"Names": ["localhost/ai-system/other:src-000000000009"], "Created": 1, "Containers": 0},
             {"Names": None, "RepoTags": None, "Created": 5, "Containers": 0}]
    wanted = [AGENTS + ":src-000000000003", "docker.io/library/redis:7"]
    # src-...01 runs in a container; latest and a tag that is no digest are not builds;
    # redis is not built; other's repository is not wanted here.
    assert earlier_builds(wanted, local, keep=0) == [AGENTS + ":src-000000000002"]


def test_no_image_built_from_source_means_nothing_goes():
    local = [built("src-000000000001", 100)]
    assert earlier_builds(["docker.io/library/redis:7", AGENTS + ":latest"], local, keep=0) == []
