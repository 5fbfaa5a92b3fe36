# -*- coding: utf-8 -*-
"""An agent that listens on another port than its declared one, on the lab's PC2.

One group (pc2-ai-monitoring, a leaf: nothing depends on it and no other host
consumes it) runs the stand-in with ``AI_SYSTEM_STANDIN_BIND_PORTS``: its
VisionProcessingAgent binds 7133/8133 while the plan declares 7132/8132. The
deploy's health wait and verify must both say that nothing is on the declared
ports and name the ports the container does listen on, read from the
container's network namespace on the host.

The stand-in image is the lab's, with this tree's agent.py copied in (the lab
archive may predate the option), saved as an archive of its own.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from support.lab import LAB_IMAGES, REPO, sh

HOST = "pc2"
GROUP = "pc2-ai-monitoring"
AGENT = "VisionProcessingAgent"
DECLARED = (7132, 8132)
BOUND = (7133, 8133)
IMAGE = "localhost/ai-system/stand-in-agent-listens:latest"
# What the container listens on: the group's other agents where declared, this one elsewhere.
LISTENS = "7119, 7122, 7124, 7133, 8119, 8122, 8124, 8133"
# The wait goes on in steps (roles/stack/tasks/wait_step.yml); one of them ends it.
STACK_UNITS = ("Start every group, restart what changed, wait until healthy",
               "Wait a few seconds more for every group to be healthy")


@pytest.fixture(scope="module")
def listens_archive(tmp_path_factory):
    """The lab's stand-in with this tree's agent.py, as an archive for stack_image_archives."""
    work = tmp_path_factory.mktemp("listens-image")
    sh(["podman", "load", "-i", os.path.join(LAB_IMAGES, "stand-in-agent.tar")], timeout=600)
    (work / "Containerfile").write_text(
        "FROM localhost/ai-system/stand-in-agent:latest\n"
        "COPY agent.py /usr/local/lib/stand-in-agent/agent.py\n")
    (work / "agent.py").write_bytes(open(os.path.join(REPO, "images", "stand-in-agent", "agent.py"), "rb").read())
    sh(["podman", "build", "--pull=never", "-t", IMAGE, str(work)], timeout=600)
    archive = work / "stand-in-agent-listens.tar"
    sh(["podman", "save", "-o", str(archive), IMAGE], timeout=600)
    yield str(archive)
    subprocess.run(["podman", "rmi", "-f", IMAGE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)


def rebound(groups):
    group = groups[HOST]["ai_groups"][GROUP]
    group["image"] = IMAGE
    group["env"] = dict(group.get("env") or {}, AI_SYSTEM_STANDIN_BIND_PORTS="%s=%d:%d" % ((AGENT,) + BOUND))
    # A long start period keeps the container running (health "starting") through the
    # wait and verify, instead of being killed for its failing health check.
    group["health"] = dict(group.get("health") or {}, start_period="20m")


@pytest.fixture(scope="module")
def deployed(lab, listens_archive):
    inventory = lab.edited_inventory("listens", rebound)
    extravars = {
        # Long enough for the group to start; the wait then ends by this
        # timeout, the container still "starting".
        "stack_health_timeout": 60,
        # With Notify=healthy the unit is "activating" until healthy: systemd must not
        # give up on it (default 300 s) before verify has run.
        "ai_start_timeout": 1500,
        "stack_image_archives": {
            "localhost/ai-system/stand-in-agent:latest": os.path.join(LAB_IMAGES, "stand-in-agent.tar"),
            "localhost/ai-system/lab-redis:latest": os.path.join(LAB_IMAGES, "lab-redis.tar"),
            IMAGE: listens_archive,
        },
    }
    run = lab.playbook(inventory=inventory, limit=HOST, extravars=extravars)
    return lab, inventory, extravars, run


def test_the_deploy_says_what_the_container_listens_on(deployed):
    lab, inventory, extravars, run = deployed
    assert run.rc != 0
    failures = {}
    for task in STACK_UNITS:
        failures.update(run.task_results(task, event="runner_on_failed"))
    assert HOST in failures, ["%s: %s" % (f.get("task"), f["res"].get("msg")) for f in run.failures()]
    failed = failures[HOST]
    print(failed["msg"])
    assert failed["unhealthy"] == [GROUP]
    said = "%s: nothing on %d, %d; the container listens on %s" % ((AGENT,) + DECLARED + (LISTENS,))
    assert "    " + said in failed["msg"].splitlines()
    found = failed["listening"][GROUP]
    assert found["silent"] == {AGENT: list(DECLARED)}
    assert found["ports"] == [int(p) for p in LISTENS.split(", ")]
    # Read from the container's namespace: the host itself listens on none of the agents' ports.
    host_ports = lab.exec(HOST, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout
    assert ":%04X " % BOUND[0] not in host_ports.upper()


def test_verify_says_what_the_container_listens_on(deployed):
    lab, inventory, extravars, run = deployed
    verify = lab.playbook("playbooks/verify.yml", inventory=inventory, limit=HOST)
    assert verify.rc != 0
    report = lab.latest_report()
    item = next(i for i in report["hosts"][HOST]["health"] if i["name"] == AGENT)
    assert item["status"] == "failed" and item["failed_stage"] == "tcp"
    assert item["reason"] == "connection refused; %s: nothing on %d; the container listens on %s" % (
        AGENT, DECLARED[1], LISTENS)
    assert item["listening"] == {"container": GROUP, "ports": [int(p) for p in LISTENS.split(", ")]}
    problem = [p for p in report["problems"] if "%s/%s" % (GROUP, AGENT) in p]
    assert problem and problem[0].endswith("the container listens on %s" % LISTENS)
    with open(os.path.join(lab.tmp_root, "reports", "latest.md")) as handle:
        markdown = handle.read()
    assert re.search(r"connection refused; %s: nothing on %d; the container listens on %s \|"
                     % (AGENT, DECLARED[1], LISTENS), markdown)
