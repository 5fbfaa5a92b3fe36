# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TCP ports a container really listens on, and what to say when a declared one is silent.

Pure Python, no Ansible imports; used on the hosts by stack_units (the health
wait) and zmq_check (verify).

Many agents bind ports other than the ones configured. When a declared port is
silent (refused, timed out), the message names the ports the container does
listen on: "SystemDigitalTwin: nothing on 8120; the container listens on 7120, 7121".

They are read from the kernel's socket tables of the container's network
namespace, ``/proc/<PID>/net/tcp`` and ``/proc/<PID>/net/tcp6`` of the
container's main process (``podman inspect --format {{.State.Pid}}``), read by
root on the host: ``/proc/<PID>/net`` is the table of the namespace that process
is in. Nothing runs inside the container, so an image without ``cat``, a shell
or ``ss`` (distroless, scratch) is read the same way, and a container whose
process is stuck still answers. Sockets in state ``0A`` (LISTEN) are listeners.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

LISTEN = "0A"
#: The reasons zmq_health gives when nothing answered on a port.
SILENT_REASONS = ("connection refused", "timed out")


class Listener(NamedTuple):
    """One listening TCP socket: its bound address (text) and port."""

    address: str
    port: int

    @property
    def loopback_only(self) -> bool:
        return self.address.startswith("127.") or self.address in ("::1", "::ffff:127.0.0.1") \
            or self.address.startswith("::ffff:127.")


def _ipv4(word: str) -> str:
    # The kernel prints the address in host byte order, as one 32-bit word.
    return socket.inet_ntoa(struct.pack("<I", int(word, 16)))


def _ipv6(text: str) -> str:
    # Four 32-bit words, each in host byte order.
    raw = b"".join(struct.pack("<I", int(text[i:i + 8], 16)) for i in range(0, 32, 8))
    if raw[:12] == b"\0" * 10 + b"\xff\xff":
        return "::ffff:" + socket.inet_ntoa(raw[12:])
    return socket.inet_ntop(socket.AF_INET6, raw)


def parse_proc_net_tcp(text: str) -> List[Listener]:
    """The listening sockets in the text of ``/proc/net/tcp`` or ``/proc/net/tcp6``
    (both may be concatenated; header lines are skipped). Malformed lines are skipped."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] == "sl" or not fields[0].endswith(":"):
            continue
        local, state = fields[1], fields[3]
        if state.upper() != LISTEN or ":" not in local:
            continue
        address, port = local.rsplit(":", 1)
        try:
            number = int(port, 16)
            if len(address) == 8:
                text_address = _ipv4(address)
            elif len(address) == 32:
                text_address = _ipv6(address)
            else:
                continue
        except (ValueError, struct.error, OSError):
            continue
        out.append(Listener(text_address, number))
    return sorted(set(out), key=lambda item: (item.port, item.address))


def ports_of(listeners: Iterable[Listener]) -> List[int]:
    return sorted({item.port for item in listeners})


def ports_text(listeners: Sequence[Listener]) -> str:
    """``7120, 7121, 9000 (127.0.0.1 only)``: each port once; one bound only to
    loopback is said so (peers cannot reach it)."""
    parts = []
    for port in ports_of(listeners):
        addresses = sorted({item.address for item in listeners if item.port == port})
        if all(Listener(a, port).loopback_only for a in addresses):
            parts.append("%d (%s only)" % (port, ", ".join(addresses)))
        else:
            parts.append(str(port))
    return ", ".join(parts)


def listens_text(listeners: Optional[Sequence[Listener]], who: str = "the container") -> str:
    """``the container listens on 7120, 7121`` (or on no TCP port)."""
    if listeners is None:
        return "what %s listens on could not be read" % who
    if not listeners:
        return "%s listens on no TCP port" % who
    return "%s listens on %s" % (who, ports_text(listeners))


def silent_text(agent: Optional[str], silent: Sequence[int], listeners: Optional[Sequence[Listener]],
                who: str = "the container") -> str:
    """``SystemDigitalTwin: nothing on 8120; the container listens on 7120, 7121``
    (``who`` names another container: ``container core-services listens on``)."""
    head = "nothing on %s" % ", ".join(str(p) for p in sorted(set(silent)))
    if agent:
        head = "%s: %s" % (agent, head)
    return "%s; %s" % (head, listens_text(listeners, who))


def reachable_ports(listeners: Sequence[Listener]) -> List[int]:
    """The ports with a listener a peer can reach (not bound to loopback only)."""
    return ports_of(item for item in listeners if not item.loopback_only)


def silent_agents(agents: Mapping[str, Mapping[str, Any]], listeners: Sequence[Listener]) -> Dict[str, List[int]]:
    """{agent: [declared ports nothing listens on]} for an endpoint map's ``agents``
    (``{name: {port, health_port}}``). A main port (``port``, which peers reach)
    bound to loopback only counts as silent; a health port (probed inside the
    container, on 127.0.0.1) does not."""
    reachable = set(reachable_ports(listeners))
    anywhere = set(ports_of(listeners))
    out = {}
    for name in sorted(agents):
        spec = agents[name]
        if not isinstance(spec, Mapping):
            continue
        missing = []
        for key, heard in (("port", reachable), ("health_port", anywhere)):
            port = spec.get(key)
            if isinstance(port, int) and not isinstance(port, bool) and port not in heard:
                missing.append(port)
        if missing:
            out[name] = missing
    return out


# --------------------------------------------------------------------------
# Reading them on the host
# --------------------------------------------------------------------------

Runner = Callable[[List[str]], Tuple[int, str, str]]


def container_pid(run: Runner, podman: str, container: str) -> Tuple[Optional[int], Optional[str]]:
    """The PID of ``container``'s main process on the host, or (None, why not)."""
    rc, out, err = run([podman, "container", "inspect", "--format", "{{.State.Pid}}", "--", container])
    if rc != 0:
        return None, "podman container inspect %s failed: %s" % (container, (err or out).strip()[:200])
    try:
        pid = int(out.strip().splitlines()[0])
    except (ValueError, IndexError):
        return None, "podman container inspect %s printed no PID: %r" % (container, out.strip()[:80])
    if pid <= 0:
        return None, "container %s is not running" % container
    return pid, None


def read_listeners(pid: int, proc: str = "/proc") -> Tuple[Optional[List[Listener]], Optional[str]]:
    """The listening sockets of the network namespace of process ``pid``, or (None, why not)."""
    texts = []
    for name in ("tcp", "tcp6"):
        path = os.path.join(proc, str(pid), "net", name)
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                texts.append(handle.read())
        except FileNotFoundError:
            if name == "tcp6":
                continue  # a kernel without IPv6
            return None, "cannot read %s: no such file (the container's process has exited?)" % path
        except OSError as exc:
            return None, "cannot read %s: %s" % (path, exc.strerror or exc)
    return parse_proc_net_tcp("\n".join(texts)), None


def container_listeners(run: Runner, podman: str, container: str,
                        proc: str = "/proc") -> Tuple[Optional[List[Listener]], Optional[str]]:
    """What ``container`` listens on (through its PID's ``/proc/PID/net``), or (None, why not)."""
    pid, why = container_pid(run, podman, container)
    if pid is None:
        return None, why
    return read_listeners(pid, proc)


def endpoint_agents(text: Optional[str]) -> Dict[str, Dict[str, Any]]:
    """The ``agents`` of an endpoint map (``endpoints.json``), ``{}`` when it has none."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    agents = data.get("agents") if isinstance(data, dict) else None
    return {str(k): dict(v) for k, v in agents.items() if isinstance(v, dict)} if isinstance(agents, dict) else {}


def as_result(listeners: Optional[Sequence[Listener]], why: Optional[str]) -> Dict[str, Any]:
    """What a module returns for one container: ``ports``, ``listeners`` (address, port), ``error``."""
    if listeners is None:
        return {"ports": None, "listeners": None, "error": why}
    return {"ports": ports_of(listeners), "listeners": [{"address": a, "port": p} for a, p in listeners],
            "error": None}


def from_result(value: Any) -> Optional[List[Listener]]:
    """The listeners of an :func:`as_result` dict (None when they could not be read)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("listeners"), list):
        return None
    out = []
    for item in value["listeners"]:
        if isinstance(item, Mapping) and isinstance(item.get("port"), int):
            out.append(Listener(str(item.get("address") or ""), item["port"]))
    return out
