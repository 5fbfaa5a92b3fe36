# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the package version parsing and decisions.

The apt samples are ``LANG=C apt-cache policy`` output as apt prints it.
TRIXIE_PINNED and TRIXIE_UPGRADES come from a Debian 13 host (apt 3.0)
that also has the Debian 12 sources and pins trixie to priority 100: the
candidate is the bookworm version at 500, older than the trixie one the
version table lists first, and a package apt knows only by name has an
empty version table. BOOKWORM is the same layout as apt 2.6 prints it on a
Debian 12 host with its own sources only.
"""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host.package_versions import (
    apt_policy_argv,
    choose_manager,
    describe,
    dnf_repoquery_argv,
    invalid_names,
    newest,
    numeric_version,
    parse_apt_policy,
    parse_name_versions,
    probe,
    rpm_query_argv,
)
from support.package_samples import (
    BOOKWORM, DNF_REPOQUERY, RPM_QUERY, TRIXIE_PINNED, TRIXIE_UPGRADES,
)


# -- apt-cache policy ------------------------------------------------------

def test_apt_policy_reads_installed_and_candidate_with_pinning():
    found = parse_apt_policy(TRIXIE_PINNED)
    assert found == {
        "podman": ("5.4.2+ds1-2+b2", "5.4.2+ds1-2+b2"),
        "crun": (None, "1.8.1-1+deb12u1"),
        "python3-zmq": (None, "24.0.1-4+b1"),
        "python3-pynvml": (None, None),
        "python3-pip": ("25.1.1+dfsg-1", "25.1.1+dfsg-1"),
    }


def test_apt_policy_keeps_epochs_and_ignores_the_version_tables():
    found = parse_apt_policy(TRIXIE_UPGRADES)
    assert found["ca-certificates"] == ("20230311+deb12u1", "20250419~deb12u2")
    assert found["vim"] == ("2:9.0.1378-2+deb12u2", "2:9.0.1378-2+deb12u2")
    assert found["openssh-client"] == ("1:10.0p1-7+deb13u4", "1:10.0p1-7+deb13u4")


def test_apt_policy_of_debian_12():
    assert parse_apt_policy(BOOKWORM) == {
        "podman": (None, "4.3.1+ds1-8+deb12u1+b3"),
        "runc": (None, "1.1.5+ds1-1+deb12u1"),
    }


def test_apt_policy_of_an_unknown_package_is_empty():
    # `apt-cache policy nosuchpkg` prints nothing, on stdout or stderr, and exits 0.
    assert parse_apt_policy("") == {}


def test_apt_policy_keeps_a_multiarch_name():
    text = "libc6:i386:\n  Installed: (none)\n  Candidate: 2.41-12\n  Version table:\n"
    assert parse_apt_policy(text) == {"libc6:i386": (None, "2.41-12")}


# -- rpm and dnf -------------------------------------------------------------

def test_rpm_query_skips_packages_that_are_not_installed():
    assert parse_name_versions(RPM_QUERY) == {"podman": "5.2.2", "crun": "1.16.1"}


def test_dnf_repoquery_ignores_blank_lines_and_repeated_names():
    assert parse_name_versions(DNF_REPOQUERY) == {
        "crun": "1.19.1", "podman": "5.4.0", "python3-zmq": "25.1.2"}


def test_name_versions_keep_the_highest_version_of_a_name():
    assert parse_name_versions("kernel 5.14.0\nkernel 5.14.10\nkernel 5.9.1\n") == {"kernel": "5.14.10"}


def test_name_versions_ignore_lines_whose_version_is_not_a_number():
    assert parse_name_versions("podman (none)\nfoo bar baz\n") == {}


# -- versions ----------------------------------------------------------------

@pytest.mark.parametrize("version, expected", [
    ("5.4.2+ds1-2+b2", "5.4.2"),
    ("4.3.1+ds1-8+deb12u1+b3", "4.3.1"),
    ("2:9.0.1378-2+deb12u2", "9.0.1378"),
    ("1:10.0p1-7+deb13u4", "10.0"),
    ("20250419~deb12u2", "20250419"),
    ("4.4.", "4.4"),
    ("5.2.2", "5.2.2"),
    ("git20240101", None),
    ("", None),
    (None, None),
])
def test_numeric_version(version, expected):
    assert numeric_version(version) == expected


@pytest.mark.parametrize("installed, candidate, expected", [
    (None, None, None),
    ("4.3.1", None, "4.3.1"),
    (None, "4.3.1", "4.3.1"),
    ("4.3.1", "5.4.2", "5.4.2"),
    ("5.4.2", "4.3.1", "5.4.2"),
    ("4.4", "4.4.0", "4.4.0"),
    ("4.10", "4.9", "4.10"),
    ("4.4", "4.4", "4.4"),
])
def test_newest(installed, candidate, expected):
    assert newest(installed, candidate) == expected


def test_describe_gives_every_name_an_entry_and_lists_the_missing_in_order():
    policy = parse_apt_policy(TRIXIE_PINNED)
    installed = {name: versions[0] for name, versions in policy.items()}
    candidate = {name: versions[1] for name, versions in policy.items()}
    names = ["podman", "python3-pynvml", "crun", "nosuchpkg", "python3-pynvml"]
    result = describe(names, installed, candidate)
    assert result["missing"] == ["python3-pynvml", "nosuchpkg"]
    assert result["packages"]["podman"] == {
        "installed": "5.4.2+ds1-2+b2", "candidate": "5.4.2+ds1-2+b2",
        "installed_version": "5.4.2", "candidate_version": "5.4.2",
        "newest_version": "5.4.2", "available": True}
    assert result["packages"]["crun"] == {
        "installed": None, "candidate": "1.8.1-1+deb12u1",
        "installed_version": None, "candidate_version": "1.8.1",
        "newest_version": "1.8.1", "available": True}
    assert result["packages"]["nosuchpkg"] == {
        "installed": None, "candidate": None, "installed_version": None,
        "candidate_version": None, "newest_version": None, "available": False}
    assert sorted(result["packages"]) == ["crun", "nosuchpkg", "podman", "python3-pynvml"]


def test_describe_a_version_that_is_not_a_number_is_available_without_a_version():
    result = describe(["podman"], {"podman": "git20240101"}, {})
    assert result["packages"]["podman"]["available"] is True
    assert result["packages"]["podman"]["newest_version"] is None
    assert result["missing"] == []


# -- commands ----------------------------------------------------------------

def test_command_lines():
    assert apt_policy_argv("/usr/bin/apt-cache", ["podman", "crun"]) == [
        "/usr/bin/apt-cache", "policy", "podman", "crun"]
    assert rpm_query_argv("/usr/bin/rpm", ["podman"]) == [
        "/usr/bin/rpm", "--query", "--queryformat", "%{NAME} %{VERSION}\n", "podman"]
    assert dnf_repoquery_argv("/usr/bin/dnf", ["podman"]) == [
        "/usr/bin/dnf", "--quiet", "repoquery", "--latest-limit=1",
        "--queryformat", "%{name} %{version}\\n", "podman"]


@pytest.mark.parametrize("names, bad", [
    (["podman", "python3-zmq", "libc6:i386", "NetworkManager"], []),
    (["podman", "--option", ""], ["--option", ""]),
    (["two words", "tab\there"], ["two words", "tab\there"]),
])
def test_invalid_names(names, bad):
    assert invalid_names(names) == bad


# -- probe -------------------------------------------------------------------

class Host(object):
    """The commands of a host: which() finds them, run() answers and records."""

    def __init__(self, tools, answers):
        self.tools = tools
        self.answers = answers
        self.calls = []

    def which(self, name):
        return "/usr/bin/" + name if name in self.tools else None

    def run(self, argv):
        self.calls.append(argv)
        return self.answers[argv[0].rsplit("/", 1)[-1]]


def test_choose_manager():
    apt = Host(["apt-cache", "rpm"], {})
    dnf = Host(["rpm", "dnf"], {})
    assert choose_manager("auto", apt.which) == ("apt", None)
    assert choose_manager("auto", dnf.which) == ("dnf", None)
    assert choose_manager("dnf", apt.which) == ("dnf", None)
    assert choose_manager("auto", Host([], {}).which) == (
        None, "manager=auto found neither apt-cache nor rpm on this host's PATH")


def test_probe_apt():
    host = Host(["apt-cache"], {"apt-cache": (0, BOOKWORM, "")})
    result, error = probe(["podman", "runc", "python3-zmq"], "auto", host.run, host.which)
    assert error is None
    assert host.calls == [["/usr/bin/apt-cache", "policy", "podman", "runc", "python3-zmq"]]
    assert result["manager"] == "apt"
    assert result["missing"] == ["python3-zmq"]
    assert result["packages"]["podman"]["newest_version"] == "4.3.1"


def test_probe_dnf_accepts_rpm_reporting_packages_not_installed():
    host = Host(["rpm", "dnf"], {"rpm": (1, RPM_QUERY, ""), "dnf": (0, DNF_REPOQUERY, "")})
    result, error = probe(["podman", "crun", "python3-zmq", "nosuch"], "dnf", host.run, host.which)
    assert error is None
    assert [argv[0] for argv in host.calls] == ["/usr/bin/rpm", "/usr/bin/dnf"]
    assert result["manager"] == "dnf"
    assert result["missing"] == ["nosuch"]
    assert result["packages"]["podman"] == {
        "installed": "5.2.2", "candidate": "5.4.0", "installed_version": "5.2.2",
        "candidate_version": "5.4.0", "newest_version": "5.4.0", "available": True}
    assert result["packages"]["python3-zmq"]["installed"] is None
    assert result["packages"]["python3-zmq"]["candidate"] == "25.1.2"


def test_probe_without_names_runs_nothing():
    host = Host(["apt-cache"], {})
    assert probe([], "auto", host.run, host.which) == (
        {"packages": {}, "missing": [], "manager": "apt"}, None)
    assert host.calls == []


@pytest.mark.parametrize("tools, answers, manager, message", [
    (["apt-cache"], {"apt-cache": (100, "", "E: The package cache file is corrupted\n")}, "apt",
     "apt-cache policy failed with exit status 100: E: The package cache file is corrupted"),
    (["rpm", "dnf"], {"rpm": (1, "error: rpmdb: damaged header\n", "")}, "dnf",
     "rpm --query failed with exit status 1: error: rpmdb: damaged header"),
    (["rpm", "dnf"], {"rpm": (0, RPM_QUERY, ""), "dnf": (1, "", "")}, "dnf",
     "dnf repoquery failed with exit status 1: no output"),
    (["rpm", "dnf"], {"rpm": (0, RPM_QUERY, ""),
                      "dnf": (1, "", "Error: Failed to download metadata for repo 'epel'\n")}, "dnf",
     "dnf repoquery failed with exit status 1: Error: Failed to download metadata for repo 'epel'"),
    ([], {}, "apt", "manager=apt needs apt-cache, which is not on this host's PATH"),
    (["dnf"], {}, "dnf", "manager=dnf needs rpm, which is not on this host's PATH"),
    (["rpm"], {}, "dnf", "manager=dnf needs dnf, which is not on this host's PATH"),
    ([], {}, "auto", "manager=auto found neither apt-cache nor rpm on this host's PATH"),
])
def test_probe_errors(tools, answers, manager, message):
    host = Host(tools, answers)
    result, error = probe(["podman"], manager, host.run, host.which)
    assert error == message
    assert result["packages"] == {} and result["missing"] == []


def test_probe_refuses_names_a_command_would_read_as_options():
    host = Host(["apt-cache"], {})
    result, error = probe(["podman", "-o", "a b"], "apt", host.run, host.which)
    assert error == "not package names: '-o', 'a b'"
    assert result == {"packages": {}, "missing": [], "manager": "apt"}
    assert host.calls == []
