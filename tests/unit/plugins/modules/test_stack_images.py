# -*- coding: utf-8 -*-
"""stack_images against a fake podman: load from archives, pull the rest, name what fails."""

from __future__ import annotations

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
AGENTS_TAR = "/var/tmp/localhost_ai-system_stand-in-agent_latest.tar"
REDIS_TAR = "/var/tmp/localhost_ai-system_lab-redis_latest.tar"


class FakePodman:
    """Images on the host; archives on the host (path -> image it holds); a registry."""

    def __init__(self, present=(), archives=None, registry=()):
        self.present = set(present)
        self.archives = dict(archives or {})
        self.registry = set(registry)
        self.calls = []

    def run_command(self, argv, environ_update=None, **kwargs):
        assert argv[0] == "/usr/bin/podman"
        assert environ_update["LANG"] == "C"
        args = argv[1:]
        self.calls.append(args)
        if args[:2] == ["image", "exists"]:
            if args[2] == "broken":
                return 125, "", "Error: database is locked\n"
            return (0 if args[2] in self.present else 1), "", ""
        if args[0] == "load":
            path = args[2]
            if path not in self.archives:
                return 125, "", "Error: payload does not match any of the supported image formats\n"
            self.present.add(self.archives[path])
            return 0, "Loaded image: %s\n" % self.archives[path], ""
        if args[:2] == ["image", "pull"]:
            if args[2] not in self.registry:
                return 125, "", ("Trying to pull %s...\nError: initializing source docker://%s: "
                                 "manifest unknown\n" % (args[2], args[2]))
            self.present.add(args[2])
            return 0, "sha256\n", ""
        raise AssertionError(argv)

    def changes(self):
        return [c for c in self.calls if c[:2] != ["image", "exists"]]


@pytest.fixture
def podman(monkeypatch):
    fake = FakePodman()
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    return fake


def args(**extra):
    return dict({"images": IMAGES, "archives": ARCHIVES, "host": "pc2"}, **extra)


def test_nothing_missing_changes_nothing(podman, run_module):
    podman.present = {AGENTS, REDIS, MONITOR}
    result, failed = run_module(stack_images.main, args())
    assert not failed and result["changed"] is False
    assert result["present"] == [AGENTS, REDIS, MONITOR]
    assert result["load"] == result["pull"] == result["missing"] == []
    assert podman.changes() == []


def test_plan_only_says_what_to_copy_and_does_nothing(podman, run_module):
    podman.present = {REDIS}
    result, failed = run_module(stack_images.main, args(plan_only=True))
    assert not failed and result["changed"] is False
    assert result["load"] == [{"image": AGENTS, "groups": ["core", "models"],
                               "src": "/ctl/build/lab/stand-in-agent.tar", "dest": AGENTS_TAR}]
    assert result["pull"] == [{"image": MONITOR, "groups": ["pc2-ai-monitoring"]}]
    assert podman.changes() == []


def test_plan_only_puts_the_archives_in_archive_dir(podman, run_module):
    result, dummy = run_module(stack_images.main, args(plan_only=True, archive_dir="/srv/img"))
    assert [e["dest"] for e in result["load"]] == [
        "/srv/img/localhost_ai-system_stand-in-agent_latest.tar",
        "/srv/img/localhost_ai-system_lab-redis_latest.tar"]


def test_missing_images_are_loaded_from_archives_and_the_rest_pulled(podman, run_module):
    podman.archives = {AGENTS_TAR: AGENTS, REDIS_TAR: REDIS}
    podman.registry = {MONITOR}
    result, failed = run_module(stack_images.main, args())
    assert not failed and result["changed"] is True
    assert podman.changes() == [["load", "--input", AGENTS_TAR], ["load", "--input", REDIS_TAR],
                                ["image", "pull", MONITOR]]
    assert [e["image"] for e in result["load"]] == [AGENTS, REDIS]
    assert [e["image"] for e in result["pull"]] == [MONITOR]
    again, dummy = run_module(stack_images.main, args())
    assert again["changed"] is False and again["present"] == [AGENTS, REDIS, MONITOR]


def test_a_failed_pull_names_host_image_and_groups(podman, run_module):
    podman.archives = {AGENTS_TAR: AGENTS, REDIS_TAR: REDIS}
    result, failed = run_module(stack_images.main, args())
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
    podman.archives = {REDIS_TAR: "localhost/other:1"}
    result, failed = run_module(stack_images.main, args())
    assert failed
    assert [e["image"] for e in result["missing"]] == [AGENTS, REDIS, MONITOR]
    assert result["msg"].startswith(
        "host pc2: group core, group models: image %s is not on the host and could not be "
        "loaded from %s (Error: payload does not match any of the supported image formats); "
        "group redis: image %s is not on the host and could not be loaded from %s (podman "
        "reported no error (Loaded image: localhost/other:1)); group pc2-ai-monitoring: "
        % (AGENTS, AGENTS_TAR, REDIS, REDIS_TAR))
    assert result["changed"] is False


def test_with_pulling_off_a_missing_image_fails_and_nothing_is_pulled(podman, run_module):
    podman.present = {AGENTS, REDIS}
    podman.registry = {MONITOR}
    result, failed = run_module(stack_images.main, args(pull=False))
    assert failed and podman.changes() == []
    assert ("group pc2-ai-monitoring: image %s is not on the host and could not be pulled "
            "(pulling is turned off);" % MONITOR) in result["msg"]


def test_an_image_with_an_archive_is_loaded_not_pulled(podman, run_module):
    podman.registry = {AGENTS}
    podman.archives = {AGENTS_TAR: AGENTS}
    result, failed = run_module(stack_images.main, {"images": IMAGES[:1], "archives": ARCHIVES,
                                                    "host": "pc2", "pull": False})
    assert not failed and podman.changes() == [["load", "--input", AGENTS_TAR]]


def test_check_mode_reports_what_it_would_do_and_does_nothing(podman, run_module):
    podman.present = {REDIS}
    result, failed = run_module(stack_images.main, args(), check=True)
    assert not failed and result["changed"] is True
    assert [e["image"] for e in result["load"]] == [AGENTS]
    assert [e["image"] for e in result["pull"]] == [MONITOR]
    assert podman.changes() == []


def test_check_mode_warns_of_an_image_it_could_not_get(podman, run_module, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    podman.present = {AGENTS, REDIS}
    result, failed = run_module(stack_images.main, args(pull=False), check=True)
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


def test_the_host_defaults_to_the_machine_name(podman, run_module, monkeypatch):
    monkeypatch.setattr(stack_images.platform, "node", lambda: "box")
    result, failed = run_module(stack_images.main, {"images": IMAGES[2:]})
    assert failed and result["msg"].startswith("host box: group pc2-ai-monitoring: ")
