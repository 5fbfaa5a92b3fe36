# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for phase_state: the record a complete role phase leaves, and the
one-call check that skips the phase when nothing changed.

Files are real files under tmp_path; the package database answers with
real dpkg-query and rpm output, and where this machine has dpkg-query one
test asks the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from ansible.module_utils import basic

from ansible_collections.ai_system.containers.plugins.module_utils.host import phase_record
from ansible_collections.ai_system.containers.plugins.modules import phase_state

# dpkg-query --show --showformat='${binary:Package}\t${Version}\t${db:Status-Status}\n'
# podman crun python3-zmq nosuchpkg (dpkg-query exits 1 and names nosuchpkg on stderr)
DPKG = "podman\t5.4.2+ds1-2+b2\tinstalled\ncrun\t1.21-1\tinstalled\npython3-zmq\t26.4.0-1\tconfig-files\n"
# rpm --query --queryformat='%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n' podman crun nosuchpkg
RPM = "podman\t5:5.4.0-1.fc41\ncrun\t0:1.19-1.fc41\npackage nosuchpkg is not installed\n"
SYSTEMCTL = ("LoadState=loaded\nUnitFileState=enabled\nActiveState=active\n\n"
             "LoadState=not-found\nUnitFileState=\nActiveState=inactive\n")


class Host(object):
    """Answers of the host's commands, and the commands asked."""

    def __init__(self, tools=("dpkg-query", "systemctl", "stat", "systemd-detect-virt")):
        self.tools = set(tools)
        self.answers = {"dpkg-query": (1, DPKG, "dpkg-query: no packages found matching nosuchpkg\n"),
                        "rpm": (1, RPM, ""),
                        "systemctl": (0, SYSTEMCTL, ""),
                        "stat": (0, "cgroup2fs\n", ""),
                        "systemd-detect-virt": (1, "none\n", "")}
        self.calls = []

    def which(self, name):
        return "/usr/bin/" + name if name in self.tools else None

    def run(self, argv):
        self.calls.append(list(argv))
        return self.answers[os.path.basename(argv[0])]


@pytest.fixture
def host(monkeypatch):
    fake = Host()
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: fake.which(name))
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, args, environ_update=None, **kw: fake.run(args))
    return fake


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "etc").mkdir()
    conf = tmp_path / "etc" / "50-ai-system.conf"
    conf.write_text("[engine]\nruntime = \"crun\"\n")
    conf.chmod(0o644)
    (tmp_path / "etc" / "other.conf").write_text("x\n")
    os.symlink("50-ai-system.conf", str(tmp_path / "etc" / "link"))
    return tmp_path


# -- observing ---------------------------------------------------------------------
def test_file_states_say_content_mode_owner_link_directory_and_absence(tree):
    found = phase_record.observe_files([str(tree / "etc" / "50-ai-system.conf"), str(tree / "etc"),
                                        str(tree / "etc" / "link"), str(tree / "nothing")])
    conf = found[str(tree / "etc" / "50-ai-system.conf")]
    assert conf["mode"] == "0644" and conf["uid"] == os.getuid()
    assert len(conf["sha256"]) == 64
    assert found[str(tree / "etc")]["type"] == "directory"
    assert found[str(tree / "etc" / "link")] == {"link": "50-ai-system.conf"}
    assert found[str(tree / "nothing")] is None


def test_a_glob_records_its_matches_and_each_match(tree):
    pattern = str(tree / "etc" / "*.conf")
    found = phase_record.observe_files([pattern])
    assert found[pattern] == {"matches": [str(tree / "etc" / "50-ai-system.conf"),
                                          str(tree / "etc" / "other.conf")]}
    assert found[str(tree / "etc" / "other.conf")]["sha256"]


def test_dpkg_versions_count_installed_packages_only():
    fake = Host()
    versions, error = phase_record.observe_packages(["podman", "crun", "python3-zmq", "nosuchpkg"],
                                                    fake.run, fake.which)
    assert error is None
    # python3-zmq is removed with its configuration kept: not installed.
    assert versions == {"podman": "5.4.2+ds1-2+b2", "crun": "1.21-1", "python3-zmq": None, "nosuchpkg": None}
    assert fake.calls[0][0] == "/usr/bin/dpkg-query"


def test_rpm_versions_carry_epoch_and_release():
    fake = Host(tools=("rpm",))
    versions, error = phase_record.observe_packages(["podman", "crun", "nosuchpkg"], fake.run, fake.which)
    assert error is None
    assert versions == {"podman": "5:5.4.0-1.fc41", "crun": "0:1.19-1.fc41", "nosuchpkg": None}


def test_a_failing_package_database_is_an_error_not_a_difference():
    fake = Host()
    fake.answers["dpkg-query"] = (2, "", "dpkg-query: error: cannot access archive\n")
    versions, error = phase_record.observe_packages(["podman"], fake.run, fake.which)
    assert versions == {}
    assert "exit status 2" in error and "cannot access archive" in error


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="this machine has no dpkg-query")
def test_the_real_dpkg_query_agrees_with_the_parser():
    def run(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    versions, error = phase_record.observe_packages(["dpkg", "no-such-package-here"], run, shutil.which)
    assert error is None
    assert versions["dpkg"] and versions["no-such-package-here"] is None


def test_unit_states_come_from_one_systemctl_show():
    fake = Host()
    units, error = phase_record.observe_units(["podman.socket", "nosuch.timer"], fake.run, fake.which)
    assert error is None
    assert units == {"podman.socket": {"LoadState": "loaded", "UnitFileState": "enabled", "ActiveState": "active"},
                     "nosuch.timer": {"LoadState": "not-found", "UnitFileState": "", "ActiveState": "inactive"}}
    assert len(fake.calls) == 1


def test_commands_record_status_and_output_and_a_missing_command():
    fake = Host(tools=("stat",))
    found = phase_record.observe_commands([["stat", "-f", "/sys/fs/cgroup"], ["systemd-detect-virt"]],
                                          fake.run, fake.which)
    assert found == {"stat -f /sys/fs/cgroup": {"rc": 0, "stdout": "cgroup2fs"},
                     "systemd-detect-virt": {"missing": True}}


# -- the module: record, then check ------------------------------------------------------
def _args(tree, **extra):
    args = {"phase": "podman", "digest": "d1", "record_dir": str(tree / "records"),
            "files": [str(tree / "etc" / "50-ai-system.conf"), str(tree / "etc" / "*.conf"),
                      str(tree / "absent.conf")],
            "packages": ["podman", "crun"], "units": ["podman.socket", "nosuch.timer"],
            "commands": [["stat", "--file-system", "--format=%T", "/sys/fs/cgroup"]],
            "facts": {"os_family": "Debian"}}
    args.update(extra)
    return args


def _record(run_module, tree, **extra):
    result, failed = run_module(phase_state.main, dict(_args(tree, **extra), state="record"))
    assert not failed, result
    assert result["changed"] is False
    return result


def _check(run_module, tree, digest="d1", check=False):
    result, failed = run_module(phase_state.main, {"phase": "podman", "digest": digest,
                                                   "record_dir": str(tree / "records")}, check=check)
    assert not failed, result
    assert result["changed"] is False
    return result


def test_without_a_record_the_phase_has_work(run_module, host, tree):
    result = _check(run_module, tree)
    assert result["converged"] is False
    assert result["differences"] == ["no record of a complete run of this phase yet"]
    assert result["ansible_facts"] == {}


def test_a_recorded_host_that_did_not_change_is_converged_and_gets_its_facts(run_module, host, tree):
    _record(run_module, tree)
    path = tree / "records" / "podman.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct((tree / "records").stat().st_mode & 0o777) == "0o700"
    record = json.loads(path.read_text())
    assert record["inputs"] == "d1" and record["state"]["packages"]["podman"] == "5.4.2+ds1-2+b2"
    host.calls = []
    result = _check(run_module, tree)
    assert result["converged"] is True and result["differences"] == []
    assert result["ansible_facts"] == {"os_family": "Debian"}
    # One package query, one systemctl show, one command: the whole probe.
    assert [os.path.basename(c[0]) for c in host.calls] == ["dpkg-query", "systemctl", "stat"]


@pytest.mark.parametrize("change, expected", [
    (lambda tree, host: (tree / "etc" / "50-ai-system.conf").write_text("[engine]\nruntime = \"runc\"\n"),
     "50-ai-system.conf: was sha256"),
    (lambda tree, host: (tree / "etc" / "50-ai-system.conf").chmod(0o600), "mode 0600"),
    (lambda tree, host: (tree / "absent.conf").write_text("new\n"), "absent.conf: was absent, now sha256"),
    (lambda tree, host: (tree / "etc" / "new.conf").write_text("new\n"), "*.conf: was 2 match(es), now 3"),
    (lambda tree, host: host.answers.update({"dpkg-query": (1, DPKG.replace("crun\t1.21-1\tinstalled\n", ""), "")}),
     "package crun: was 1.21-1, now absent"),
    (lambda tree, host: host.answers.update({"systemctl": (0, SYSTEMCTL.replace("=active", "=failed", 1), "")}),
     "unit podman.socket"),
    (lambda tree, host: host.answers.update({"stat": (0, "tmpfs\n", "")}), "cgroup2fs"),
])
def test_any_change_of_a_recorded_item_gives_the_phase_work(run_module, host, tree, change, expected):
    _record(run_module, tree)
    change(tree, host)
    result = _check(run_module, tree)
    assert result["converged"] is False
    assert any(expected in line for line in result["differences"]), result["differences"]
    assert result["ansible_facts"] == {}
    # The record is gone, so a run that fails half-way is not taken for a complete one.
    assert not (tree / "records" / "podman.json").exists()


def test_changed_inputs_give_the_phase_work(run_module, host, tree):
    _record(run_module, tree)
    result = _check(run_module, tree, digest="d2")
    assert result["converged"] is False
    assert result["differences"] == ["the phase's inputs changed (inventory, role settings or the collection)"]


def test_check_mode_reads_and_leaves_the_record(run_module, host, tree):
    _record(run_module, tree)
    (tree / "etc" / "50-ai-system.conf").write_text("edited\n")
    result = _check(run_module, tree, check=True)
    assert result["converged"] is False
    assert (tree / "records" / "podman.json").exists()


def test_record_in_check_mode_writes_nothing(run_module, host, tree):
    result, failed = run_module(phase_state.main, dict(_args(tree), state="record"), check=True)
    assert not failed and result["changed"] is False
    assert not (tree / "records").exists()


def test_an_unreadable_record_gives_the_phase_work(run_module, host, tree):
    (tree / "records").mkdir()
    (tree / "records" / "podman.json").write_text("{not json")
    result = _check(run_module, tree)
    assert result["converged"] is False
    assert "cannot be read" in result["differences"][0]


def test_a_host_that_cannot_be_read_gives_the_phase_work_and_says_why(run_module, host, tree):
    _record(run_module, tree)
    host.answers["systemctl"] = (1, "", "Failed to connect to bus\n")
    result = _check(run_module, tree)
    assert result["converged"] is False
    assert result["differences"] == ["the host could not be read: systemctl show failed with exit status 1: "
                                     "Failed to connect to bus"]


@pytest.mark.parametrize("args, message", [
    ({"phase": "../etc/passwd", "digest": "d"}, "phase '../etc/passwd'"),
    ({"phase": "podman"}, "no inputs digest"),
    ({"phase": "podman", "digest": "d", "state": "record", "commands": [[]]}, "non-empty list"),
])
def test_bad_arguments_are_refused(run_module, host, tree, args, message):
    result, failed = run_module(phase_state.main, dict(args, record_dir=str(tree / "records")))
    assert failed
    assert message in result["msg"]
    assert not (tree / "records").exists()


def test_missing_parents_of_the_record_directory_are_root_only_too(run_module, host, tree):
    records = tree / "var" / "lib" / "ai-system" / "phases"
    result, failed = run_module(phase_state.main, dict(_args(tree, record_dir=str(records)), state="record"))
    assert not failed, result
    for path in (tree / "var", tree / "var" / "lib", tree / "var" / "lib" / "ai-system", records):
        assert oct(path.stat().st_mode & 0o777) == "0o700", path


# -- one reading of every phase at the start of a run ------------------------------
def _read(run_module, tree, phases=("podman", "stack"), check=False):
    result, failed = run_module(phase_state.main, {"state": "read", "phases": list(phases),
                                                   "record_dir": str(tree / "records")}, check=check)
    assert not failed, result
    assert result["changed"] is False
    return result["phases"]


def test_a_reading_gives_each_phase_its_recorded_inputs_and_the_host_s_changes(run_module, host, tree):
    _record(run_module, tree)
    readings = _read(run_module, tree)
    assert readings["podman"]["inputs"] == "d1"
    assert readings["podman"]["differences"] == [] and readings["podman"]["facts"] == {"os_family": "Debian"}
    assert readings["podman"]["record"] == str(tree / "records" / "podman.json")
    assert readings["stack"] == {"inputs": None, "differences": ["no record of a complete run of this phase yet"],
                                 "facts": {}, "record": str(tree / "records" / "stack.json")}
    # Judged against this run's inputs on the controller.
    assert phase_record.judge(readings["podman"], "d1")["converged"] is True
    assert phase_record.judge(readings["podman"], "d2")["differences"] == [phase_record.INPUTS_CHANGED]


def test_a_reading_reports_a_changed_host_and_removes_nothing(run_module, host, tree):
    _record(run_module, tree)
    (tree / "etc" / "50-ai-system.conf").write_text("edited\n")
    readings = _read(run_module, tree, phases=["podman"])
    assert any("50-ai-system.conf: was sha256" in line for line in readings["podman"]["differences"])
    assert readings["podman"]["facts"] == {}
    assert phase_record.judge(readings["podman"], "d1")["converged"] is False
    # The phase's own check (which then asks the host) removes the stale record, not the reading.
    assert (tree / "records" / "podman.json").exists()


@pytest.mark.parametrize("args, message", [
    ({"state": "read", "phases": ["ok", "../x"]}, "phases ../x"),
    ({"state": "read"}, "phases"),
    ({"state": "check"}, "phase"),
])
def test_bad_reading_arguments_are_refused(run_module, host, tree, args, message):
    result, failed = run_module(phase_state.main, dict(args, record_dir=str(tree / "records")))
    assert failed
    assert message in result["msg"]


def test_forget_removes_the_record_without_reading_the_host_and_gives_the_phase_work(
        run_module, host, tree):
    _record(run_module, tree)
    path = tree / "records" / "podman.json"
    assert path.exists()
    host.calls = []
    result, failed = run_module(phase_state.main, {"phase": "podman", "state": "forget",
                                                   "record_dir": str(tree / "records")})
    assert not failed, result
    assert result["changed"] is False and result["converged"] is False
    assert result["differences"] == [phase_state.FORGOTTEN]
    assert host.calls == []
    assert not path.exists()
    # The next check has no record to compare: the phase has work until a complete run records.
    assert _check(run_module, tree)["differences"] == ["no record of a complete run of this phase yet"]


def test_forget_in_check_mode_keeps_the_record(run_module, host, tree):
    _record(run_module, tree)
    result, failed = run_module(phase_state.main, {"phase": "podman", "state": "forget",
                                                   "record_dir": str(tree / "records")}, check=True)
    assert not failed and result["converged"] is False
    assert (tree / "records" / "podman.json").exists()
