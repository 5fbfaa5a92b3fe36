# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""listen_ports: what a container really listens on, from /proc/PID/net/tcp and tcp6."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.verify import listen_ports as lp
from ansible_collections.ai_system.containers.plugins.module_utils.verify.listen_ports import Listener

# Read from a network namespace holding: 0.0.0.0:7120 and 127.0.0.1:7121 (IPv4),
# [::]:8120 (dual stack), [::1]:9090 (v6 only), [::ffff:127.0.0.1]:6379, and one
# established connection to 7120 (both ends, state 01).
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1BD1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 665743 1 00000000a4de26fd 100 0 0 10 0
   1: 00000000:1BD0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 665742 1 00000000cb29b6e1 100 0 0 10 0
   2: 0100007F:D756 0100007F:1BD0 01 00000000:00000000 00:00000000 00000000     0        0 665747 2 0000000097fbfde9 20 0 0 10 -1
   3: 0100007F:1BD0 0100007F:D756 01 00000000:00000000 00:00000000 00000000     0        0 665748 1 0000000091e81dde 20 0 0 10 -1
"""
PROC_NET_TCP6 = (
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:2382 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 665745 1 00000000d25b79f2 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000100007F:18EB 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 665746 1 0000000093d74b39 100 0 0 10 0\n"
    "   2: 00000000000000000000000000000000:1FB8 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 665744 1 0000000050c30281 100 0 0 10 0\n"
)
EVERY = [Listener("::ffff:127.0.0.1", 6379), Listener("0.0.0.0", 7120), Listener("127.0.0.1", 7121),
         Listener("::", 8120), Listener("::1", 9090)]


def test_listeners_of_tcp_and_tcp6_with_every_kind_of_bind():
    assert lp.parse_proc_net_tcp(PROC_NET_TCP + PROC_NET_TCP6) == EVERY


def test_established_connections_and_headers_are_not_listeners():
    assert lp.parse_proc_net_tcp(PROC_NET_TCP) == [Listener("0.0.0.0", 7120), Listener("127.0.0.1", 7121)]
    assert lp.parse_proc_net_tcp(PROC_NET_TCP.splitlines()[0]) == []
    assert lp.parse_proc_net_tcp("") == []


def test_malformed_lines_are_skipped():
    text = PROC_NET_TCP + "   9: ZZZZZZZZ:1BD0 00000000:0000 0A\n   10: 0100007F 00000000:0000 0A\ngarbage\n"
    assert lp.parse_proc_net_tcp(text) == [Listener("0.0.0.0", 7120), Listener("127.0.0.1", 7121)]


def test_loopback_only_ports_are_said_so():
    assert lp.ports_text(EVERY) == "6379 (::ffff:127.0.0.1 only), 7120, 7121 (127.0.0.1 only), 8120, 9090 (::1 only)"
    assert lp.reachable_ports(EVERY) == [7120, 8120]
    # One port bound twice, once on loopback and once on every address, is reachable.
    assert lp.ports_text([Listener("127.0.0.1", 7120), Listener("::", 7120)]) == "7120"


def test_the_message_names_the_silent_port_and_what_the_container_listens_on():
    listeners = [Listener("0.0.0.0", 7120), Listener("0.0.0.0", 7121)]
    assert lp.silent_text("SystemDigitalTwin", [8120], listeners) == \
        "SystemDigitalTwin: nothing on 8120; the container listens on 7120, 7121"
    assert lp.silent_text(None, [8120, 7120], []) == "nothing on 7120, 8120; the container listens on no TCP port"
    assert lp.silent_text("A", [1], None) == "A: nothing on 1; what the container listens on could not be read"


def test_silent_agents_of_an_endpoint_map():
    agents = {"SystemDigitalTwin": {"port": 7120, "health_port": 8120, "socket": "rep"},
              "RequestCoordinator": {"port": 26002, "health_port": 27002}}
    listeners = [Listener("0.0.0.0", 7190), Listener("0.0.0.0", 8190), Listener("127.0.0.1", 26002),
                 Listener("127.0.0.1", 27002)]
    # A main port on loopback only is silent for peers; a health port there is what the probe reaches.
    assert lp.silent_agents(agents, listeners) == {"RequestCoordinator": [26002],
                                                   "SystemDigitalTwin": [7120, 8120]}
    assert lp.silent_agents(agents, listeners + [Listener("::", 26002)]) == {"SystemDigitalTwin": [7120, 8120]}


def test_endpoint_agents_of_a_map_and_of_garbage():
    assert lp.endpoint_agents('{"agents": {"A": {"port": 1, "health_port": 2}}}') == \
        {"A": {"port": 1, "health_port": 2}}
    assert lp.endpoint_agents("not json") == {} and lp.endpoint_agents(None) == {}
    assert lp.endpoint_agents('{"agents": []}') == {}


def test_as_result_and_back():
    result = lp.as_result(EVERY, None)
    assert result["ports"] == [6379, 7120, 7121, 8120, 9090] and result["error"] is None
    assert lp.from_result(result) == EVERY
    assert lp.from_result(lp.as_result(None, "gone")) is None


# --------------------------------------------------------------------------
# Reading the tables of a live process: this test's own sockets
# --------------------------------------------------------------------------

@pytest.fixture
def sockets():
    made = []

    def listen(family, address):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((address, 0))
        sock.listen()
        made.append(sock)
        return sock.getsockname()[1]

    yield listen
    for sock in made:
        sock.close()


def test_read_listeners_of_a_live_process(sockets):
    v4 = sockets(socket.AF_INET, "127.0.0.1")
    wide = sockets(socket.AF_INET, "0.0.0.0")
    listeners, why = lp.read_listeners(os.getpid())
    assert why is None
    assert Listener("127.0.0.1", v4) in listeners and Listener("0.0.0.0", wide) in listeners
    if socket.has_ipv6 and os.path.exists("/proc/self/net/tcp6"):
        try:
            v6 = sockets(socket.AF_INET6, "::1")
        except OSError:
            pytest.skip("IPv6 loopback is not configured here")
        assert Listener("::1", v6) in lp.read_listeners(os.getpid())[0]


def test_container_listeners_through_podmans_pid(sockets):
    port = sockets(socket.AF_INET, "0.0.0.0")
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, "%d\n" % os.getpid(), ""

    listeners, why = lp.container_listeners(run, "/usr/bin/podman", "core-services")
    assert why is None and Listener("0.0.0.0", port) in listeners
    assert calls == [["/usr/bin/podman", "container", "inspect", "--format", "{{.State.Pid}}", "--",
                      "core-services"]]


@pytest.mark.parametrize("answer, why", [
    ((125, "", "Error: no such container core-services"), "podman container inspect core-services failed: "
                                                          "Error: no such container core-services"),
    ((0, "0\n", ""), "container core-services is not running"),
    ((0, "", ""), "podman container inspect core-services printed no PID: ''"),
])
def test_a_container_that_cannot_be_read_says_why(answer, why):
    assert lp.container_listeners(lambda argv: answer, "podman", "core-services") == (None, why)


def test_a_process_that_has_exited_says_so(tmp_path):
    listeners, why = lp.read_listeners(4242, proc=str(tmp_path))
    assert listeners is None and why.startswith("cannot read %s/4242/net/tcp: no such file" % tmp_path)


# --------------------------------------------------------------------------
# A real container: its own network namespace, read from the host
# --------------------------------------------------------------------------

def podman_can_run():
    podman = shutil.which("podman")
    if not podman or os.geteuid() != 0:
        return False
    env = dict(os.environ, PODMAN_IGNORE_CGROUPSV1_WARNING="1")
    try:
        proc = subprocess.run([podman, "info", "--format", "{{.Host.OCIRuntime.Name}}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


LISTENER_SCRIPT = """
import socket, time
socks = []
for family, address, port in ((socket.AF_INET, "0.0.0.0", 7121), (socket.AF_INET, "127.0.0.1", 7122),
                              (socket.AF_INET6, "::", 8121)):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen()
    socks.append(s)
print("listening", flush=True)
time.sleep(300)
"""


@pytest.mark.podman
@pytest.mark.skipif(not podman_can_run(), reason="needs root and a working podman")
def test_a_real_containers_listeners_are_read_from_its_namespace_without_exec(tmp_path, monkeypatch):
    """A container on a root file system that shares the host's /usr, in a network
    namespace of its own: its listeners are read through its PID, with one
    ``podman container inspect`` and no ``podman exec``."""
    monkeypatch.setenv("PODMAN_IGNORE_CGROUPSV1_WARNING", "1")
    rootfs = tmp_path / "rootfs"
    for name in ("proc", "dev", "sys", "tmp", "etc", "run", "var", "usr"):
        (rootfs / name).mkdir(parents=True)
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.isdir("/usr/" + name):
            (rootfs / name).symlink_to("usr/" + name)
    name = "ai-listen-ports-test-%s" % uuid.uuid4().hex[:8]
    started = subprocess.run(
        ["podman", "run", "-d", "--name", name, "--network", "none", "-v", "/usr:/usr:ro", "--rootfs", str(rootfs),
         "/usr/bin/python3", "-c", LISTENER_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=120, check=False)
    if started.returncode != 0:
        pytest.skip("podman cannot run a container here: %s" % started.stderr.strip())
    try:
        deadline = time.monotonic() + 30
        while "listening" not in subprocess.run(["podman", "logs", name], stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, universal_newlines=True,
                                                check=False).stdout:
            assert time.monotonic() < deadline, "the container did not start listening"
            time.sleep(0.2)
        calls = []

        def run(argv):
            calls.append(argv)
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                  timeout=60, check=False)
            return proc.returncode, proc.stdout, proc.stderr

        listeners, why = lp.container_listeners(run, "podman", name)
        assert why is None
        assert listeners == [Listener("0.0.0.0", 7121), Listener("127.0.0.1", 7122), Listener("::", 8121)]
        assert [argv[1:3] for argv in calls] == [["container", "inspect"]]
        assert lp.silent_text("SystemDigitalTwin", [8120], listeners) == \
            "SystemDigitalTwin: nothing on 8120; the container listens on 7121, 7122 (127.0.0.1 only), 8121"
        # The host's own namespace has none of them.
        host = lp.parse_proc_net_tcp(open("/proc/self/net/tcp").read())
        assert Listener("127.0.0.1", 7122) not in host
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120, check=False)
