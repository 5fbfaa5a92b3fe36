# -*- coding: utf-8 -*-
"""Network namespaces with real nftables, for the firewall tests.

:class:`Netns` is one namespace with its own ruleset, where ``nft`` runs as
it would on a host.  :class:`RoutedLan` wires several of them into the
situation the stack's table guards against::

    peer 10.9.0.16 ---+
    outsider 10.9.0.99 +-- LAN bridge --- host 10.9.0.17 --- bridge 172.29.0.1/24 --- container 172.29.0.2
                                           (forwarding, a DNAT of 10.9.0.17:7140 and :7150 to the
                                            container, as Podman publishes a port)

Both the peer and the outsider route the container subnet through the host,
so a packet can reach the container by its own address as well as through
the published ports.  Everything needs root, ``ip`` and ``nft``;
:func:`available` says why not when something is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

LAN = "10.9.0.17"
PEER = "10.9.0.16"
OUTSIDER = "10.9.0.99"
SUBNET = "172.29.0.0/24"
GATEWAY = "172.29.0.1"
CONTAINER = "172.29.0.2"
# Published on the LAN address and DNAT'd to the container, like Podman's PublishPort.
PUBLISHED = (7140, 7150)
# Listening in the container, never published (a health port, Redis...).
UNPUBLISHED = (8140, 6379)
# Listening on the peer, for the container's own connections out.
PEER_SERVICE = 9000

SERVER = r"""
import socket, sys, threading
def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(256)
    while True:
        conn, _ = s.accept()
        conn.close()
for port in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(port),), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

PROBE = r"""
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as exc:
    print("error %s" % exc.errno)
"""

# Connects to every (address, port) in turn until stdin closes, then prints
# "attempts opens" and each target that opened.
PROBE_LOOP = r"""
import socket, sys, threading
targets = [(a, int(p)) for a, p in (t.split(":") for t in sys.argv[2:])]
timeout = float(sys.argv[1])
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
attempts = opens = 0
opened = set()
while not stop.is_set():
    for target in targets:
        s = socket.socket()
        s.settimeout(timeout)
        attempts += 1
        try:
            s.connect(target)
            opens += 1
            opened.add("%s:%d" % target)
        except OSError:
            pass
        finally:
            s.close()
print(attempts, opens, *sorted(opened))
"""

NAT = """
table ip publish {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr %(lan)s tcp dport { %(ports)s } dnat to %(container)s
    }
}
""" % {"lan": LAN, "ports": ", ".join(str(p) for p in PUBLISHED), "container": CONTAINER}


def available() -> Optional[str]:
    """None when namespaces with nftables can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/%s" % tool):
            return "needs %s" % tool
    probe = Netns("nftprobe%d" % os.getpid())
    try:
        probe.create()
        probe.nft("list", "ruleset")
    except (OSError, AssertionError) as exc:
        return "cannot make a network namespace with nftables here: %s" % str(exc).strip()[:200]
    finally:
        probe.delete()
    return None


def _run(argv: Sequence[str], check: bool = True, data: Optional[str] = None,
         timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, LANG="C", LC_ALL="C")
    proc = subprocess.run(list(argv), input=data, capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s -> rc %d: %s%s" % (" ".join(argv), proc.returncode,
                                                    proc.stdout, proc.stderr))
    return proc


class Netns:
    """One network namespace."""

    def __init__(self, name: str):
        self.name = name

    def create(self) -> None:
        # A namespace of this name is left over from a run that was killed
        # (the names carry the process id).
        _run(["ip", "netns", "del", self.name], check=False)
        _run(["ip", "netns", "add", self.name])
        self.ip("link", "set", "lo", "up")

    def delete(self) -> None:
        _run(["ip", "netns", "del", self.name], check=False)

    def argv(self, *argv: str) -> List[str]:
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, *argv: str, check: bool = True, data: Optional[str] = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        return _run(self.argv(*argv), check=check, data=data, timeout=timeout)

    def ip(self, *argv: str) -> None:
        _run(["ip", "-n", self.name] + list(argv))

    def nft(self, *argv: str, check: bool = True, data: Optional[str] = None) -> subprocess.CompletedProcess:
        return self.run("nft", *argv, check=check, data=data)

    def popen(self, *argv: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def fake_nft(self, directory: str) -> str:
        """A directory holding an ``nft`` that runs the real one in this namespace."""
        real = shutil.which("nft") or "/usr/sbin/nft"
        path = os.path.join(directory, "nft")
        with open(path, "w") as handle:
            handle.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (self.name, real))
        os.chmod(path, 0o755)
        return directory


class RoutedLan:
    """The peer, the outsider, the host and its container (see the module's doc)."""

    def __init__(self, suffix: str):
        self.lan = Netns("lan" + suffix)
        self.host = Netns("host" + suffix)
        self.peer = Netns("peer" + suffix)
        self.outsider = Netns("out" + suffix)
        self.container = Netns("ctr" + suffix)
        self.all = (self.lan, self.host, self.peer, self.outsider, self.container)
        self.servers: List[subprocess.Popen] = []

    def up(self) -> "RoutedLan":
        for ns in self.all:
            ns.create()
        self.lan.ip("link", "add", "br0", "type", "bridge")
        self.lan.ip("link", "set", "br0", "up")
        for ns, address, port in ((self.host, LAN, "vhost"), (self.peer, PEER, "vpeer"),
                                  (self.outsider, OUTSIDER, "vout")):
            self.lan.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.name)
            self.lan.ip("link", "set", port, "master", "br0", "up")
            ns.ip("addr", "add", address + "/24", "dev", "eth0")
            ns.ip("link", "set", "eth0", "up")
        self.host.ip("link", "add", "cbr0", "type", "bridge")
        self.host.ip("addr", "add", GATEWAY + "/24", "dev", "cbr0")
        self.host.ip("link", "set", "cbr0", "up")
        self.host.ip("link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns",
                     self.container.name)
        self.host.ip("link", "set", "veth0", "master", "cbr0", "up")
        self.container.ip("addr", "add", CONTAINER + "/24", "dev", "eth0")
        self.container.ip("link", "set", "eth0", "up")
        self.container.ip("route", "add", "default", "via", GATEWAY)
        self.host.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        for ns in (self.peer, self.outsider):
            ns.ip("route", "add", SUBNET, "via", LAN)
        self.publish()
        self.serve(self.container, PUBLISHED + UNPUBLISHED)
        self.serve(self.peer, (PEER_SERVICE,))
        return self

    def publish(self) -> None:
        """Podman's part: the DNAT of the published ports (gone after a `flush ruleset`)."""
        self.host.nft("-f", "-", data=NAT)

    def serve(self, ns: Netns, ports: Sequence[int]) -> None:
        proc = ns.popen(sys.executable, "-c", SERVER, *[str(p) for p in ports])
        self.servers.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    def down(self) -> None:
        for proc in self.servers:
            proc.kill()
            proc.wait()
        for ns in self.all:
            ns.delete()

    def probe(self, ns: Netns, address: str, port: int, timeout: float = 0.5) -> str:
        """'open', 'refused', 'timeout' or 'error N'."""
        return ns.run(sys.executable, "-c", PROBE, address, str(port), str(timeout)).stdout.strip()

    def probe_loop(self, ns: Netns, targets: Sequence[str], timeout: float = 0.01) -> subprocess.Popen:
        """Start connecting in a tight loop; :meth:`loop_result` stops it."""
        proc = ns.popen(sys.executable, "-c", PROBE_LOOP, str(timeout), *targets)
        time.sleep(0.2)
        return proc

    @staticmethod
    def loop_result(proc: subprocess.Popen) -> Dict[str, object]:
        out, err = proc.communicate("", timeout=60)
        fields = out.split()
        assert len(fields) >= 2, (out, err)
        return {"attempts": int(fields[0]), "opens": int(fields[1]), "opened": fields[2:]}
