# -*- coding: utf-8 -*-
"""stack_images against a fake podman: load from archives, pull the rest, name what fails."""

from __future__ import annotations

import os

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.modules import stack_images

AGENTS = "localhost/ai-system/stand-in-agent:latest"
REDIS = "localhost/ai-system/lab-redis:latest"
MONITOR = "quay.io/example/monitor:2"
IMAGES = [
    {"image": AGENTS, "groups": ["core", "models"]},
    {"image": REDIS, "groups": ["redis"]},
    {"image": MONITOR, "groups": ["pc2-ai-monitoring"]},
]
ARCHIVES = {AGENTS: "/ctl/build/lab/stand-in-agent.tar", REDIS: "/ctl/build/lab/lab-redis.tar"}
ARCHIVE_DIR = "/var/lib/ai-system/images"
AGENTS_NAME = "localhost_ai-system_stand-in-agent_latest.tar"
REDIS_NAME = "localhost_ai-system_lab-redis_latest.tar"
AGENTS_TAR = ARCHIVE_DIR + "/" + AGENTS_NAME
REDIS_TAR = ARCHIVE_DIR + "/" + REDIS_NAME


class FakePodman:
    """Images on the host; archives on the host (file name -> image it holds, written as
    files under ``directory``); a registry."""

    def __init__(self, directory, present=(), registry=()):
        self.directory = directory
        self.present = set(present)
        self.archives = {}
        self.registry = set(registry)
        self.calls = []

    def put(self, archives):
        """Archives that the copy task put on the host: file name -> image it holds."""
        self.archives = dict(archives)
        self.directory.mkdir(exist_ok=True)
        for name in archives:
            (self.directory / name).write_text("archive")

    def run_command(self, argv, environ_update=None, **kwargs):
        assert argv[0] == "/usr/bin/podman"
        assert environ_update["LANG"] == "C"
        args = argv[1:]
        self.calls.append([a.replace(str(self.directory), ARCHIVE_DIR) for a in args])
        if args[:3] == ["image", "exists", "--"]:
            if args[3] == "broken":
                return 125, "", "Error: database is locked\n"
            return (0 if args[3] in self.present else 1), "", ""
        if args[0] == "load":
            path = args[1][len("--input="):]
            name = os.path.basename(path)
            if name not in self.archives:
                return 125, "", "Error: payload does not match any of the supported image formats\n"
            self.present.add(self.archives[name])
            return 0, "Loaded image: %s\n" % self.archives[name], ""
        if args[:3] == ["image", "pull", "--"]:
            if args[3] not in self.registry:
                return 125, "", ("Trying to pull %s...\nError: initializing source docker://%s: "
                                 "manifest unknown\n" % (args[3], args[3]))
            self.present.add(args[3])
            return 0, "sha256\n", ""
        raise AssertionError(argv)

    def changes(self):
        return [c for c in self.calls if c[:2] != ["image", "exists"]]

    def left(self):
        return sorted(p.name for p in self.directory.iterdir()) if self.directory.exists() else []


@pytest.fixture
def podman(monkeypatch, tmp_path):
    fake = FakePodman(tmp_path / "images")
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    return fake


def args(podman, **extra):
    return dict({"images": IMAGES, "archives": ARCHIVES, "host": "pc2",
                 "archive_dir": str(podman.directory)}, **extra)


def dests(podman, entries):
    return [e["dest"].replace(str(podman.directory), ARCHIVE_DIR) for e in entries]


def test_nothing_missing_changes_nothing(podman, run_module):
    podman.present = {AGENTS, REDIS, MONITOR}
    result, failed = run_module(stack_images.main, args(podman))
    assert not failed and result["changed"] is False
    assert result["present"] == [AGENTS, REDIS, MONITOR]
    assert result["load"] == result["pull"] == result["missing"] == []
    assert podman.changes() == []


def test_plan_only_says_what_to_copy_and_does_nothing(podman, run_module):
    podman.present = {REDIS}
    result, failed = run_module(stack_images.main, args(podman, plan_only=True))
    assert not failed and result["changed"] is False
    assert dests(podman, result["load"]) == [AGENTS_TAR]
    assert result["load"][0]["src"] == "/ctl/build/lab/stand-in-agent.tar"
    assert result["pull"] == [{"image": MONITOR, "groups": ["pc2-ai-monitoring"]}]
    assert podman.changes() == []


def test_archives_go_to_a_root_only_directory_by_default(podman, run_module):
    options = args(podman, plan_only=True)
    del options["archive_dir"]
    result, dummy = run_module(stack_images.main, options)
    assert [e["dest"] for e in result["load"]] == [AGENTS_TAR, REDIS_TAR]


def test_plan_only_puts_the_archives_in_archive_dir(podman, run_module):
    result, dummy = run_module(stack_images.main, args(podman, plan_only=True,
                                                       archive_dir="/srv/img"))
    assert [e["dest"] for e in result["load"]] == [
        "/srv/img/localhost_ai-system_stand-in-agent_latest.tar",
        "/srv/img/localhost_ai-system_lab-redis_latest.tar"]


def test_missing_images_are_loaded_from_archives_and_the_rest_pulled(podman, run_module):
    podman.put({AGENTS_NAME: AGENTS, REDIS_NAME: REDIS})
    podman.registry = {MONITOR}
    result, failed = run_module(stack_images.main, args(podman))
    assert not failed and result["changed"] is True
    assert podman.changes() == [["load", "--input=" + AGENTS_TAR],
                                ["load", "--input=" + REDIS_TAR], ["image", "pull", "--", MONITOR]]
    assert [e["image"] for e in result["load"]] == [AGENTS, REDIS]
    assert [e["image"] for e in result["pull"]] == [MONITOR]
    again, dummy = run_module(stack_images.main, args(podman))
    assert again["changed"] is False and again["present"] == [AGENTS, REDIS, MONITOR]


def test_archive_is_removed_after_loading(podman, run_module):
    podman.put({AGENTS_NAME: AGENTS, REDIS_NAME: REDIS})
    podman.registry = {MONITOR}
    result, failed = run_module(stack_images.main, args(podman))
    assert not failed
    removed = dests(podman, [{"dest": d} for d in result["removed_archives"]])
    assert removed == [AGENTS_TAR, REDIS_TAR]
    assert podman.left() == []


def test_archive_whose_load_failed_is_kept(podman, run_module):
    podman.put({AGENTS_NAME: AGENTS, REDIS_NAME: "localhost/other:1"})
    podman.registry = {MONITOR}
    result, failed = run_module(stack_images.main, args(podman))
    assert failed and [e["image"] for e in result["missing"]] == [REDIS]
    assert podman.left() == [REDIS_NAME]
    assert len(result["removed_archives"]) == 1


def test_archive_that_is_a_link_is_not_loaded(podman, run_module, tmp_path):
    podman.put({REDIS_NAME: REDIS})
    (tmp_path / "elsewhere.tar").write_text("planted")
    os.symlink(str(tmp_path / "elsewhere.tar"), str(podman.directory / AGENTS_NAME))
    podman.archives[AGENTS_NAME] = AGENTS
    podman.registry = {MONITOR}
    result, failed = run_module(stack_images.main, args(podman))
    assert failed
    assert result["missing"] == [{"image": AGENTS, "groups": ["core", "models"],
                                  "how": "loaded from %s" % (podman.directory / AGENTS_NAME),
                                  "reason": "the archive is not a regular file"}]
    assert ["load", "--input=" + AGENTS_TAR] not in podman.changes()
    assert (tmp_path / "elsewhere.tar").exists()


def test_a_failed_pull_names_host_image_and_groups(podman, run_module):
    podman.put({AGENTS_NAME: AGENTS, REDIS_NAME: REDIS})
    result, failed = run_module(stack_images.main, args(podman))
    assert failed
    assert result["msg"] == (
        "host pc2: group pc2-ai-monitoring: image %s is not on the host and could not be pulled "
        "(Error: initializing source docker://%s: manifest unknown); fix the image name in the "
        "inventory, or load the image (stack_image_archives); no unit was changed"
        % (MONITOR, MONITOR))
    assert result["missing"] == [{"image": MONITOR, "groups": ["pc2-ai-monitoring"],
                                  "how": "pulled", "reason": "Error: initializing source "
                                  "docker://%s: manifest unknown" % MONITOR}]
    # The archives were loaded all the same.
    assert AGENTS in podman.present and result["changed"] is True


def test_every_missing_image_is_named_at_once_in_plan_order(podman, run_module):
    podman.put({REDIS_NAME: "localhost/other:1"})
    (podman.directory / AGENTS_NAME).write_text("not an image")
    result, failed = run_module(stack_images.main, args(podman))
    assert failed
    assert [e["image"] for e in result["missing"]] == [AGENTS, REDIS, MONITOR]
    assert result["msg"].replace(str(podman.directory), ARCHIVE_DIR).startswith(
        "host pc2: group core, group models: image %s is not on the host and could not be "
        "loaded from %s (Error: payload does not match any of the supported image formats); "
        "group redis: image %s is not on the host and could not be loaded from %s (podman "
        "reported no error (Loaded image: localhost/other:1)); group pc2-ai-monitoring: "
        % (AGENTS, AGENTS_TAR, REDIS, REDIS_TAR))
    assert result["changed"] is False


def test_with_pulling_off_a_missing_image_fails_and_nothing_is_pulled(podman, run_module):
    podman.present = {AGENTS, REDIS}
    podman.registry = {MONITOR}
    result, failed = run_module(stack_images.main, args(podman, pull=False))
    assert failed and podman.changes() == []
    assert ("group pc2-ai-monitoring: image %s is not on the host and could not be pulled "
            "(pulling is turned off);" % MONITOR) in result["msg"]


def test_an_image_with_an_archive_is_loaded_not_pulled(podman, run_module):
    podman.registry = {AGENTS}
    podman.put({AGENTS_NAME: AGENTS})
    result, failed = run_module(stack_images.main, args(podman, images=IMAGES[:1], pull=False))
    assert not failed and podman.changes() == [["load", "--input=" + AGENTS_TAR]]


def test_check_mode_reports_what_it_would_do_and_does_nothing(podman, run_module):
    podman.present = {REDIS}
    podman.put({AGENTS_NAME: AGENTS})
    result, failed = run_module(stack_images.main, args(podman), check=True)
    assert not failed and result["changed"] is True
    assert [e["image"] for e in result["load"]] == [AGENTS]
    assert [e["image"] for e in result["pull"]] == [MONITOR]
    assert podman.changes() == [] and podman.left() == [AGENTS_NAME]
    assert result["removed_archives"] == []


def test_check_mode_warns_of_an_image_it_could_not_get(podman, run_module, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    podman.present = {AGENTS, REDIS}
    result, failed = run_module(stack_images.main, args(podman, pull=False), check=True)
    assert not failed and result["changed"] is False
    assert [e["image"] for e in result["missing"]] == [MONITOR]
    assert warnings == ["check mode: host pc2: group pc2-ai-monitoring: image %s is not on "
                        "the host and could not be pulled (pulling is turned off); fix the image "
                        "name in the inventory, or load the image (stack_image_archives); no "
                        "unit was changed" % MONITOR]


def test_a_podman_that_cannot_answer_fails_naming_the_image(podman, run_module):
    result, failed = run_module(stack_images.main, {"images": [{"image": "broken"}]})
    assert failed
    assert result["msg"] == "podman image exists broken failed (rc 125): Error: database is locked"


@pytest.mark.parametrize("image, message", [
    ("--help", "images[0].image '--help' is not an image name: it starts with '-', which podman "
     "would read as an option"),
    ("redis:7\n", "images[0].image 'redis:7\\n' is not an image name: it holds white space or a "
     "control character"),
])
def test_image_name_starting_with_dash_is_refused(podman, run_module, image, message):
    result, failed = run_module(stack_images.main, {"images": [{"image": image}]})
    assert failed and result["msg"] == message
    assert podman.calls == []


def test_the_host_defaults_to_the_machine_name(podman, run_module, monkeypatch):
    monkeypatch.setattr(stack_images.platform, "node", lambda: "box")
    result, failed = run_module(stack_images.main, {"images": IMAGES[2:]})
    assert failed and result["msg"].startswith("host box: group pc2-ai-monitoring: ")
