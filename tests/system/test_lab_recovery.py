# -*- coding: utf-8 -*-
"""A deployment that is interrupted, left with orphans or renamed, on the two-host lab.

Tests run in file order against one lab: deploy, a run stopped right after
writing the files (``tests/system/playbooks/stack_interrupted.yml``) and the run that finishes
it, an orphaned labelled container, a renamed unit prefix, and back to the
shipped inventory.
"""

from __future__ import annotations

import json
import re

STACK_UNITS = "Start every group, restart what changed, wait until healthy"
PROGRESS = "Report how far the groups are"
GROUP_WAIT = r"[\w.-]+ \([\w -]+, \d+ s\)"  # pc2-ai-models (starting, 34 s)
PROGRESS_LINE = re.compile(r"\A(?P<host>[\w.-]+): (?P<ok>\d+)/(?P<all>\d+) healthy"
                           r"(; waiting for %s(, %s)*)?(; failed: .+)?\Z" % (GROUP_WAIT, GROUP_WAIT))
STOP_AFTER_FILES = "Stop after the files, as an interrupted run would"
LEAF = "pc2-ai-monitoring"  # nothing depends on it and no other host consumes it
LEAF_SERVICE = "ai-%s.service" % LEAF
LEAF_FILE = "/etc/containers/systemd/ai-%s.container" % LEAF
STATE_DIR = "/var/lib/ai-system"
DATA_DIR = "/srv/ai-system/data"
LOGS_DIR = "/srv/ai-system/logs"
ONE_GIB = str(1024 * 1024 * 1024)


def units_of(plan, host):
    return plan["hosts"][host]["units"]


def services_of(plan, host):
    return [u["service"] for u in units_of(plan, host)]


def stack_units_result(run, host, event="runner_on_ok"):
    return run.task_results(STACK_UNITS, event=event)[host]


def progress_lines(run):
    """Every progress line the deploy printed, in order."""
    return [ev["event_data"]["res"]["msg"] for ev in run.events
            if ev.get("event") == "runner_on_ok"
            and ev.get("event_data", {}).get("task") == PROGRESS]


def failures(run):
    return [f["res"].get("msg") for f in run.failures()]


def more_memory(groups):
    groups["pc2"]["ai_groups"][LEAF]["memory"] = "1024m"


def memory_of(lab, container):
    return lab.exec("pc2", "podman", "inspect", "--format", "{{.HostConfig.Memory}}",
                    container).stdout.strip()


def entered(lab, services):
    props = lab.unit_props("pc2", services)
    return {s: props[s]["ActiveEnterTimestampMonotonic"] for s in services}


# -- deploy ------------------------------------------------------------------------------

def test_deploy_records_what_runs_and_leaves_no_archive(lab, lab_plan):
    run = lab.playbook()
    assert run.rc == 0, failures(run)
    # The health wait reported its progress, host by host, ending with every group healthy.
    lines = progress_lines(run)
    print("\n".join(lines))
    for host in lab.hosts:
        mine = [PROGRESS_LINE.match(line) for line in lines if line.startswith(host + ": ")]
        assert mine and all(mine), lines
        assert mine[-1].group("ok") == mine[-1].group("all") == str(len(units_of(lab_plan, host)))
    for host in lab.hosts:
        assert lab.file_stat(host, STATE_DIR) == "0:0:700"
        assert lab.file_stat(host, STATE_DIR + "/applied.json") == "0:0:600"
        record = json.loads(lab.exec(host, "cat", STATE_DIR + "/applied.json").stdout)
        assert sorted(record["units"]) == sorted(services_of(lab_plan, host))
        # The archives were copied into a root-only directory and removed once loaded.
        assert lab.file_stat(host, STATE_DIR + "/images") == "0:0:700"
        assert lab.exec(host, "ls", "-A", STATE_DIR + "/images").stdout == ""
        leftovers = lab.exec(host, "sh", "-c", "ls /var/tmp/*.tar", check=False)
        assert leftovers.returncode != 0, leftovers.stdout
        for path in (DATA_DIR, LOGS_DIR):
            assert lab.file_stat(host, path) == "0:0:755"


# -- a run interrupted after the files --------------------------------------------------

def test_run_interrupted_after_writing_units_is_finished_by_the_next_run(lab, lab_plan):
    # Directories the agents own, and a /tmp-like one: a run must keep them as they are.
    lab.exec("pc2", "chown", "1000:1000", DATA_DIR)
    lab.exec("pc2", "chmod", "0750", DATA_DIR)
    lab.exec("pc2", "chmod", "1777", LOGS_DIR)
    services = services_of(lab_plan, "pc2")
    before = entered(lab, services)
    old_memory = memory_of(lab, LEAF)
    assert old_memory != ONE_GIB
    inventory = lab.edited_inventory("memory", more_memory)

    run = lab.playbook("tests/system/playbooks/stack_interrupted.yml", inventory=inventory)
    assert run.rc != 0
    assert {(f["host"], f["task"]) for f in run.failures()} == {
        ("mainpc", STOP_AFTER_FILES), ("pc2", STOP_AFTER_FILES)}
    # The new unit file is on disk; the container still runs the old one.
    assert "--memory=1024m" in lab.exec("pc2", "cat", LEAF_FILE).stdout
    assert memory_of(lab, LEAF) == old_memory

    # Check mode sees what is left to do, and does nothing.
    check = lab.playbook(inventory=inventory, tags=["stack"], check=True)
    assert check.rc == 0, failures(check)
    preview = stack_units_result(check, "pc2")
    assert preview["restarted"] == [LEAF_SERVICE] and preview["started"] == []
    assert preview["stale"] == {LEAF_SERVICE: ["unit file changed"]}
    assert entered(lab, services) == before

    # The next run writes nothing, and still restarts exactly that unit.
    run = lab.playbook(inventory=inventory, tags=["stack"])
    assert run.rc == 0, failures(run)
    result = stack_units_result(run, "pc2")
    assert result["stale"] == {LEAF_SERVICE: ["unit file changed"]}
    assert result["restarted"] == [LEAF_SERVICE] and result["started"] == []
    assert result["daemon_reloaded"] is True and result["removed_orphans"] == []
    assert stack_units_result(run, "mainpc")["changed"] is False
    after = entered(lab, services)
    assert [s for s in services if after[s] != before[s]] == [LEAF_SERVICE]
    assert memory_of(lab, LEAF) == ONE_GIB
    assert lab.file_stat("pc2", DATA_DIR) == "1000:1000:750"
    assert lab.file_stat("pc2", LOGS_DIR) == "0:0:1777"

    verify = lab.playbook("playbooks/verify.yml", inventory=inventory)
    assert verify.rc == 0, failures(verify)
    assert lab.latest_report()["ok"] is True


def test_second_run_after_the_recovery_changes_nothing(lab):
    run = lab.playbook(inventory=lab.edited_inventory("memory", more_memory), tags=["stack"])
    assert run.rc == 0, failures(run)
    assert run.count("changed", "mainpc") == 0 and run.count("changed", "pc2") == 0


# -- orphans -----------------------------------------------------------------------------

def test_orphaned_labelled_container_is_removed_by_the_next_run(lab):
    lab.exec("pc2", "podman", "run", "-d", "--name", "ai-old-x", "--network", "none",
             "--label", "io.ai-system.managed-by=ai_system.containers", "--entrypoint", "sleep",
             "localhost/ai-system/stand-in-agent:latest", "600")
    run = lab.playbook(inventory=lab.edited_inventory("memory", more_memory), tags=["stack"])
    assert run.rc == 0, failures(run)
    result = stack_units_result(run, "pc2")
    assert result["removed_orphans"] == [{"container": "ai-old-x", "service": None,
                                          "unit_file": None}]
    assert result["restarted"] == [] and result["started"] == []
    assert lab.exec("pc2", "podman", "container", "exists", "ai-old-x",
                    check=False).returncode == 1
    assert stack_units_result(run, "mainpc")["removed_orphans"] == []


def with_prefix(groups):
    more_memory(groups)
    groups["pc2"]["ai_unit_prefix"] = "lab-"


def running_units(lab, host):
    """{container: PODMAN_SYSTEMD_UNIT} of the managed containers on a host."""
    out = lab.exec(host, "podman", "ps", "-a", "--filter",
                   "label=io.ai-system.managed-by=ai_system.containers", "--format",
                   '{{.Names}} {{index .Labels "PODMAN_SYSTEMD_UNIT"}}').stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def test_renamed_unit_prefix_leaves_no_old_unit_running(lab, lab_plan):
    old = services_of(lab_plan, "pc2")
    containers = [u["container"] for u in units_of(lab_plan, "pc2")]
    new = ["lab-%s.service" % c for c in containers]
    run = lab.playbook(inventory=lab.edited_inventory("prefix", with_prefix), tags=["stack"])
    assert run.rc == 0, failures(run)
    result = stack_units_result(run, "pc2")
    assert result["started"] == new
    assert sorted(o["service"] for o in result["removed_orphans"]) == sorted(old)
    assert all(o["unit_file"] == "/etc/containers/systemd/%s.container" % o["service"][:-8]
               for o in result["removed_orphans"])
    props = lab.unit_props("pc2", old)
    assert {p["ActiveState"] for p in props.values()} == {"inactive"}
    assert lab.exec("pc2", "sh", "-c", "ls /etc/containers/systemd/ai-*.container",
                    check=False).returncode != 0
    # Each group runs once, under its new unit.
    assert running_units(lab, "pc2") == dict(zip(containers, new))
    assert stack_units_result(run, "mainpc")["changed"] is False

    # And back: the units of the renamed prefix are the orphans now.
    run = lab.playbook(inventory=lab.edited_inventory("memory", more_memory), tags=["stack"])
    assert run.rc == 0, failures(run)
    result = stack_units_result(run, "pc2")
    assert result["started"] == old
    assert sorted(o["service"] for o in result["removed_orphans"]) == sorted(new)
    assert running_units(lab, "pc2") == dict(zip(containers, old))


# -- back to the shipped inventory -------------------------------------------------------

def test_back_to_the_shipped_inventory(lab, lab_plan):
    run = lab.playbook(tags=["stack"])
    assert run.rc == 0, failures(run)
    assert stack_units_result(run, "pc2")["restarted"] == [LEAF_SERVICE]
    lab.exec("pc2", "chown", "0:0", DATA_DIR)
    lab.exec("pc2", "chmod", "0755", DATA_DIR, LOGS_DIR)
    lab.wait_all_healthy(lab_plan, timeout=120)
    verify = lab.playbook("playbooks/verify.yml")
    assert verify.rc == 0, failures(verify)
    again = lab.playbook(tags=["stack"])
    assert again.rc == 0
    assert again.count("changed", "mainpc") == 0 and again.count("changed", "pc2") == 0
