# -*- coding: utf-8 -*-
"""The application's contract on the two-host lab: pod mode and CONTAINER_GROUP.

The lab runs MainPC in pod mode (production's setting: every group of the
host in one network namespace, held by ai-pod.service) and PC2 with one
namespace per group. Its stand-in agents play the original starter: a group
starts only when CONTAINER_GROUP is one of the starter's agent_groups; and
on MainPC SessionMemoryAgent (memory-system) calls SystemDigitalTwin
(core-services) at localhost:7120 at start, as the real agents do.

Tests run in file order against one lab: deploy in the shipped modes, a
group given the collection's hyphenated name (the starter finds no agents),
then MainPC in per-group mode, where the localhost link breaks and verify
says why. The file runs on its own or after the other lab files.
"""

from __future__ import annotations

import json
import time

import pytest

POD = "ai-pod"
CALLER = "memory-system"
LEAF = "utilities-support"  # nothing depends on it and no other host consumes it


def links(report):
    return [dict(link, host=host) for host, data in report["hosts"].items()
            for link in data["links"]]


def failure_messages(run):
    return [str(f["res"].get("msg", "")) for f in run.failures()]


def inspect(lab, host, container, fmt):
    return lab.exec(host, "podman", "inspect", "--format", fmt, container).stdout.strip()


def logs(lab, host, container):
    proc = lab.exec(host, "podman", "logs", container, check=False)
    return proc.stdout + proc.stderr


def wait_for_log(lab, host, container, text, timeout=90):
    """The container's log once it holds ``text`` (the stand-in's call to its
    peer gives up after 30 s)."""
    deadline = time.monotonic() + timeout
    while True:
        out = logs(lab, host, container)
        if text in out or time.monotonic() > deadline:
            return out
        time.sleep(3)


@pytest.fixture(scope="module")
def deployed(lab, lab_plan):
    run = lab.playbook()
    assert run.rc == 0, failure_messages(run)
    lab.wait_all_healthy(lab_plan, timeout=120)
    return run


def test_pod_mode_groups_share_the_pod_units_namespace(lab, lab_plan, deployed):
    assert inspect(lab, "mainpc", POD, "{{.State.Status}}") == "running"
    pod_id = inspect(lab, "mainpc", POD, "{{.Id}}")
    for unit in lab_plan["hosts"]["mainpc"]["units"]:
        if unit["group"] == "pod":
            continue
        mode = inspect(lab, "mainpc", unit["container"], "{{.HostConfig.NetworkMode}}")
        assert mode == "container:%s" % pod_id, (unit["group"], mode)
    # PC2 runs one namespace per group: no pod unit, each group on the network.
    assert "pod" not in [u["group"] for u in lab_plan["hosts"]["pc2"]["units"]]
    mode = inspect(lab, "pc2", "pc2-memory-system", "{{.HostConfig.NetworkMode}}")
    assert mode == "bridge", mode


def test_the_starter_gets_its_group_name_with_underscores(lab, deployed):
    env = lab.exec("mainpc", "podman", "exec", "core-services", "printenv",
                   "CONTAINER_GROUP").stdout.strip()
    assert env == "core_services"
    assert "stand-in-agent: starting the agents of container group core_services" in \
        logs(lab, "mainpc", "core-services")
    assert "stand-in-agent: starting the agents of container group pc2_memory_system" in \
        logs(lab, "pc2", "pc2-memory-system")
    addresses = lab.exec("pc2", "podman", "exec", "pc2-memory-system", "sh", "-c",
                         "echo $MAINPC_IP $MAIN_PC_IP $PC2_IP $BIND_ADDRESS").stdout.split()
    assert addresses == ["10.89.100.16", "10.89.100.16", "10.89.100.17", "0.0.0.0"]


def test_in_pod_mode_an_agent_reaches_its_peer_of_another_group_at_localhost(lab, deployed):
    line = "SessionMemoryAgent: reached localhost:7120 (it answered status error)"
    assert line in wait_for_log(lab, "mainpc", CALLER, line)
    # Names of the host's groups still resolve (REDIS_URL=redis://mainpc-redis:...).
    hosts = lab.exec("mainpc", "podman", "exec", CALLER, "getent", "hosts",
                     "mainpc-redis").stdout.split()
    assert hosts[0] == "127.0.0.1"
    run = lab.playbook("playbooks/verify.yml")
    assert run.rc == 0, failure_messages(run)
    report = lab.latest_report()
    link = next(lk for lk in links(report)
                if lk["from_group"] == CALLER and lk["name"] == "SystemDigitalTwin")
    assert (link["status"], link["address"], link["port"]) == ("passed", "127.0.0.1", 7120)
    # PC2 still reaches SystemDigitalTwin through the port the pod unit publishes.
    remote = [lk for lk in links(report)
              if lk["host"] == "pc2" and lk["name"] == "SystemDigitalTwin"]
    assert remote and all(lk["status"] == "passed" for lk in remote)


def test_a_hyphenated_group_name_makes_the_starter_find_no_agents(lab, lab_plan, deployed):
    def edit(groups):
        groups["mainpc"]["ai_groups"][LEAF]["app_group"] = LEAF  # utilities-support

    inventory = lab.edited_inventory("hyphen", edit)
    run = lab.playbook(inventory=inventory, tags=["stack"],
                       extravars={"stack_health_timeout": 60})
    assert run.rc != 0
    messages = [f["res"].get("msg", "") for f in run.failures() if f["host"] == "mainpc"]
    assert any(LEAF in str(m) for m in messages), messages
    journal = lab.exec("mainpc", "journalctl", "-u", "ai-%s.service" % LEAF, "--no-pager",
                       "-n", "200").stdout
    assert "no agents found for container group 'utilities-support'" in journal
    run = lab.playbook(tags=["stack"])
    assert run.rc == 0, failure_messages(run)
    lab.wait_all_healthy(lab_plan, timeout=120)


def test_in_per_group_mode_verify_names_the_localhost_link_and_says_why(lab):
    run = lab.playbook(tags=["stack"], extravars={"ai_network_mode": "group"})
    assert run.rc == 0, failure_messages(run)
    assert lab.exec("mainpc", "podman", "container", "exists", POD, check=False).returncode == 1
    line = "SessionMemoryAgent: cannot reach localhost:7120"
    assert line in wait_for_log(lab, "mainpc", CALLER, line)
    run = lab.playbook("playbooks/verify.yml", extravars={"ai_network_mode": "group"})
    assert run.rc != 0
    report = lab.latest_report()
    broken = [lk for lk in links(report) if lk["status"] != "passed"]
    assert [(lk["host"], lk["from_group"], lk["name"]) for lk in broken] == \
        [("mainpc", CALLER, "SystemDigitalTwin")], json.dumps(broken, indent=1)
    reason = broken[0]["reason"]
    assert "memory-system reaches SystemDigitalTwin at localhost, but mainpc runs each group " \
        "in its own network namespace (ai_network_mode: group)" in reason, reason
    assert "set ai_network_mode: pod for mainpc" in reason
    assert any("link memory-system -> mainpc/core-services SystemDigitalTwin 127.0.0.1:7120"
               in p for p in report["problems"]), report["problems"]
