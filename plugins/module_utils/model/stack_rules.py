# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules that need the whole topology: ports, start order, links, GPUs.

Pure Python, no Ansible imports. Every rule records all of its problems;
nothing stops at the first one.
"""

from __future__ import annotations

import difflib
import ipaddress
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.plan import quadlet
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    Agent, Group, Host, HostGpu, Mount, Problems,
)


@dataclass(frozen=True)
class Link:
    """A group consumes an agent (same host or the other one)."""

    consumer_host: str
    consumer_group: str
    host: str
    group: str
    agent: Agent
    strict: bool = False  # must answer a healthy status, not only answer
    request: str = ""  # canonical JSON sent instead of the agent's policy request
    localhost: bool = False  # the consumer's code reaches the agent at localhost

    @property
    def cross_host(self) -> bool:
        return self.consumer_host != self.host


@dataclass(frozen=True)
class Claim:
    group: str
    agent: str  # empty for a service port such as redis
    what: str  # "port", "health_port" or the service port's name

    def __str__(self) -> str:
        if self.agent:
            return "%s/%s %s" % (self.group, self.agent, self.what)
        return "%s %s" % (self.group, self.what)


def check_ports(host: Host, problems: Problems) -> None:
    """Each port on a host has one claimant: main and health ports of every
    agent in every group, and the ports of non-agent services."""
    claims: Dict[int, List[Claim]] = {}
    for gname, group in host.groups.items():
        for agent in group.agents.values():
            if agent.port is not None:
                claims.setdefault(agent.port, []).append(Claim(gname, agent.name, "port"))
            if agent.health_port is not None:
                claims.setdefault(agent.health_port, []).append(
                    Claim(gname, agent.name, "health_port"))
        for svc in group.ports:
            claims.setdefault(svc.port, []).append(Claim(gname, "", svc.name))
    for port in sorted(claims):
        who = claims[port]
        if len(who) > 1:
            first = who[0]
            problems.add(
                "port %d is claimed by %s: %s" % (
                    port, "both" if len(who) == 2 else "all %d of" % len(who),
                    " and ".join(str(c) for c in who)),
                "give all but one of them a free port in host_vars/%s/groups.yml" % host.name,
                host=host.name, group=first.group, agent=first.agent,
                field=first.what if first.agent else "ports")


def check_group_names(hosts: Mapping[str, Host], problems: Problems) -> None:
    seen: Dict[str, str] = {}
    for hname in sorted(hosts):
        for gname in hosts[hname].groups:
            if gname in seen:
                problems.add(
                    "group name is used on hosts %s and %s" % (seen[gname], hname),
                    "rename one of them: group names are container names and must be unique "
                    "across the system", host=hname, group=gname)
            else:
                seen[gname] = hname


def check_agent_names(host: Host, problems: Problems) -> None:
    owner: Dict[str, str] = {}
    for gname, group in host.groups.items():
        for aname in group.agents:
            if aname in owner:
                problems.add("agent name is also used by group %s on this host" % owner[aname],
                             "agent names must be unique on a host; rename one",
                             host=host.name, group=gname, agent=aname, field="agents")
            else:
                owner[aname] = gname


def check_depends_on(host: Host, hosts: Mapping[str, Host], problems: Problems) -> None:
    for gname, group in host.groups.items():
        for dep in group.depends_on:
            if dep in host.groups:
                if dep == gname:
                    problems.add("group depends on itself", "remove '%s' from depends_on" % dep,
                                 host=host.name, group=gname, field="depends_on")
                continue
            other = [h for h in sorted(hosts) if dep in hosts[h].groups]
            if other:
                problems.add(
                    "depends_on '%s' is a group on host %s; a unit can only wait for groups "
                    "on its own host" % (dep, other[0]),
                    "remove it from depends_on and list the agents you use in connects_to",
                    host=host.name, group=gname, field="depends_on")
            else:
                close = difflib.get_close_matches(dep, list(host.groups), n=1)
                problems.add("depends_on names unknown group '%s'" % dep,
                             ("did you mean '%s'?" % close[0]) if close else
                             "groups on %s: %s" % (host.name, ", ".join(sorted(host.groups))),
                             host=host.name, group=gname, field="depends_on")
    for cycle in find_cycles(host):
        problems.add("depends_on forms a cycle: %s" % " -> ".join(cycle),
                     "break the cycle; start order must be a line, not a loop",
                     host=host.name, group=cycle[0], field="depends_on")


def find_cycles(host: Host) -> List[List[str]]:
    """Each elementary cycle once (rotated to start at its smallest name)."""
    graph = {g: [d for d in grp.depends_on if d in host.groups and d != g]
             for g, grp in host.groups.items()}
    cycles: List[List[str]] = []
    seen = set()
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):]
                start = cyc.index(min(cyc))
                rotated = tuple(cyc[start:] + cyc[:start])
                if rotated not in seen:
                    seen.add(rotated)
                    cycles.append(list(rotated) + [rotated[0]])
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)
    return cycles


def start_order(host: Host) -> List[str]:
    """Groups in an order where each comes after its dependencies (stable)."""
    remaining = {g: {d for d in grp.depends_on if d in host.groups and d != g}
                 for g, grp in host.groups.items()}
    order: List[str] = []
    while remaining:
        ready = sorted(g for g, deps in remaining.items() if not deps)
        if not ready:  # a cycle: reported elsewhere; keep going deterministically
            ready = [sorted(remaining)[0]]
        for g in ready:
            order.append(g)
            del remaining[g]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def agent_index(hosts: Mapping[str, Host]) -> Dict[str, List[Tuple[str, str, Agent]]]:
    index: Dict[str, List[Tuple[str, str, Agent]]] = {}
    for hname in sorted(hosts):
        for gname, group in hosts[hname].groups.items():
            for aname, agent in group.agents.items():
                index.setdefault(aname, []).append((hname, gname, agent))
    return index


def resolve_links(hosts: Mapping[str, Host], problems: Problems) -> List[Link]:
    index = agent_index(hosts)
    links: List[Link] = []
    for hname in sorted(hosts):
        for gname, group in hosts[hname].groups.items():
            for connect in group.connects_to:
                ref = connect.target
                where = dict(host=hname, group=gname, field="connects_to")
                target_host: Optional[str] = None
                name = ref
                if "/" in ref:
                    target_host, name = ref.split("/", 1)
                    if target_host not in hosts:
                        problems.add("connects_to '%s' names unknown host '%s'" % (ref, target_host),
                                     "hosts: %s" % ", ".join(sorted(hosts)), **where)
                        continue
                found = [c for c in index.get(name, []) if target_host in (None, c[0])]
                if not found:
                    close = difflib.get_close_matches(name, list(index), n=1)
                    problems.add("connects_to '%s' names no agent" % ref,
                                 ("did you mean '%s'?" % close[0]) if close else
                                 "name an agent declared in some group's agents", **where)
                    continue
                if len({c[0] for c in found}) == 1:
                    found = found[:1]  # a name twice on one host: reported on its own
                if len(found) > 1:
                    problems.add(
                        "connects_to '%s' is ambiguous: %s" % (
                            ref, ", ".join("%s/%s (group %s)" % (h, name, g) for h, g, dummy in found)),
                        "qualify it with the host, e.g. '%s/%s'" % (found[-1][0], name), **where)
                    continue
                thost, tgroup, agent = found[0]
                if connect.localhost and thost != hname:
                    problems.add("connects_to %s says localhost, but %s runs on host %s"
                                 % (ref, name, thost),
                                 "localhost reaches only agents of the same host: remove "
                                 "'localhost: true' (the plan gives the agent's LAN address)",
                                 **where)
                    continue
                if thost == hname and tgroup == gname:
                    continue  # an agent talking to its own group needs no plumbing
                links.append(Link(hname, gname, thost, tgroup, agent,
                                  strict=connect.strict, request=connect.request,
                                  localhost=connect.localhost))
    return links


def check_gpus(host: Host, problems: Problems) -> None:
    gpu_groups = {g: grp for g, grp in host.groups.items() if grp.gpu is not None}
    if not gpu_groups:
        return
    if host.gpu is None:
        for gname in sorted(gpu_groups):
            problems.add("group asks for a GPU but the host declares none",
                         "set ai_gpu (model, memory_mib) for %s, or gpu: false on the group"
                         % host.name, host=host.name, group=gname, field="gpu")
        return
    for gname, grp in sorted(gpu_groups.items()):
        for dev in grp.gpu.devices:
            if dev.isdigit() and int(dev) >= host.gpu.count:
                problems.add("gpu device %s does not exist: the host declares %d GPU(s)"
                             % (dev, host.gpu.count),
                             "use an index below %d or 'all'" % host.gpu.count,
                             host=host.name, group=gname, field="gpu.devices")
    for gname, grp in sorted(gpu_groups.items()):
        if grp.gpu.compute_percent is not None and host.gpu.sharing != "mps":
            problems.add("gpu.compute_percent takes effect only with CUDA MPS",
                         "set ai_gpu.sharing: mps for %s, or remove compute_percent" % host.name,
                         host=host.name, group=gname, field="gpu.compute_percent")
    if host.gpu.sharing == "mps":
        check_mps(host, gpu_groups, problems)
        return
    budgets = {g: grp.gpu.vram_mib for g, grp in gpu_groups.items() if grp.gpu.vram_mib}
    _check_fit(host, host.gpu, "", budgets, problems)


def _check_fit(host: Host, gpu: HostGpu, gpu_label: str, budgets: Mapping[str, int],
               problems: Problems) -> None:
    """The budgets of the groups on one GPU plus the host's reserve fit its memory."""
    reserve = gpu.vram_reserve_mib
    total = sum(budgets.values()) + reserve
    if not budgets or total <= gpu.memory_mib:
        return
    parts = ", ".join("%s %d" % (g, budgets[g]) for g in sorted(budgets))
    if reserve:
        parts += ", ai_gpu.vram_reserve_mib %d" % reserve
    problems.add(
        "VRAM budgets add up to %d MiB (%s), more than the %d MiB of the host's %s%s"
        % (total, parts, gpu.memory_mib, gpu.model, gpu_label),
        "lower gpu.vram_mib of these groups or move one to another host",
        host=host.name, group=sorted(budgets)[0], field="gpu.vram_mib")


def mps_gpu_index(host: Host, group: Group) -> Optional[int]:
    """The one GPU (index) whose MPS daemon serves ``group``, or None when the
    group does not name exactly one GPU of the host."""
    if host.gpu is None or group.gpu is None or len(group.gpu.devices) != 1:
        return None
    dev = group.gpu.devices[0]
    if dev == "all":
        return 0 if host.gpu.count == 1 else None
    return int(dev) if dev.isdigit() and int(dev) < host.gpu.count else None


def check_mps(host: Host, gpu_groups: Mapping[str, Group], problems: Problems) -> None:
    """``ai_gpu.sharing: mps``: one MPS daemon per GPU enforces each group's budget."""
    gpu = host.gpu
    if gpu is None:
        return
    per_gpu: Dict[int, Dict[str, int]] = {}
    for gname, grp in sorted(gpu_groups.items()):
        where = dict(host=host.name, group=gname)
        if not grp.gpu.vram_mib:
            problems.add("group has no VRAM budget, but ai_gpu.sharing is mps: MPS limits "
                         "each group's device memory to its gpu.vram_mib",
                         "set gpu.vram_mib (MiB) on the group, or ai_gpu.sharing: none",
                         field="gpu.vram_mib", **where)
        index = mps_gpu_index(host, grp)
        if index is None and not any(d.isdigit() and int(d) >= gpu.count
                                     for d in grp.gpu.devices):
            problems.add("gpu.devices %s do not name one GPU: each MPS daemon serves one GPU"
                         % ", ".join(grp.gpu.devices),
                         "name one GPU index, e.g. devices: [0]%s"
                         % (" ('all' is enough on a host with one GPU)" if gpu.count == 1
                            else ""),
                         field="gpu.devices", **where)
        if grp.security.userns:
            problems.add("security.userns %r cannot be used with MPS: the MPS control daemon "
                         "runs one server per user ID, and clients of a second user wait until "
                         "the first user's clients have all exited" % grp.security.userns,
                         "remove security.userns from the group (GPU groups run in the host's "
                         "user namespace), or set ai_gpu.sharing: none",
                         field="security.userns", **where)
        if index is not None and grp.gpu.vram_mib:
            per_gpu.setdefault(index, {})[gname] = grp.gpu.vram_mib
    for index, budgets in sorted(per_gpu.items()):
        _check_fit(host, gpu, " (GPU %d)" % index if gpu.count > 1 else "", budgets, problems)


def gpu_warnings(host: Host) -> List[str]:
    shared = sorted(g for g, grp in host.groups.items()
                    if grp.gpu is not None and not grp.gpu.vram_mib)
    if len([g for g in host.groups.values() if g.gpu is not None]) > 1 and shared:
        return ["host %s: GPU groups %s share the GPU without a VRAM budget (gpu.vram_mib)"
                % (host.name, ", ".join(shared))]
    return []


def check_secrets(host: Host, problems: Problems) -> None:
    defined = set(host.settings.secret_names)
    for gname, group in host.groups.items():
        for ref in group.secrets:
            if ref.name not in defined:
                problems.add("secret '%s' is referenced but not defined" % ref.name,
                             "add it to ai_secrets (in an Ansible Vault file)",
                             host=host.name, group=gname, field="secrets")


def check_lan_addresses(hosts: Mapping[str, Host], problems: Problems) -> None:
    for hname in sorted(hosts):
        subnet = hosts[hname].subnet
        for other in sorted(hosts):
            addr = hosts[other].lan_address
            if other != hname and subnet and addr and \
                    ipaddress.ip_address(addr) in ipaddress.ip_network(subnet):
                problems.add("ai_network_subnet %s holds the LAN address %s of host %s"
                             % (subnet, addr, other),
                             "choose a container subnet apart from the LAN", host=hname,
                             field="ai_network_subnet")
    owner: Dict[str, str] = {}
    for hname in sorted(hosts):
        addr = hosts[hname].lan_address
        if addr and addr in owner:
            problems.add("ai_lan_address %s is also the address of host %s" % (addr, owner[addr]),
                         "give every host its own LAN address", host=hname,
                         field="ai_lan_address")
        elif addr:
            owner[addr] = hname


def unit_file(host: Host, name: str, kind: str = "container") -> str:
    """The Quadlet file of a group ("container", "build") or named volume."""
    return "%s%s.%s" % (host.settings.unit_prefix, name, kind)


def network_file(host: Host) -> str:
    return "%s.network" % host.settings.network_name


def check_unit_names(host: Host, problems: Problems) -> None:
    """Two Quadlet files that Quadlet would turn into one systemd service (a
    group named like the network's or a volume's service) are refused."""
    owners: Dict[str, str] = {}

    def claim(unit: str, what: str, group: str = "", field: str = "") -> None:
        service = quadlet.service_name(unit)
        if service in owners and owners[service] != what:
            problems.add("%s would run as %s, the service of %s" % (what, service, owners[service]),
                         "rename one of them", host=host.name, group=group, field=field)
        owners.setdefault(service, what)

    claim(network_file(host), "network %s" % host.settings.network_name, field="ai_network_name")
    for gname in sorted(host.groups):
        group = host.groups[gname]
        for mount in group.volumes:
            if mount.named_volume:
                claim(unit_file(host, mount.source, "volume"), "volume %s" % mount.source,
                      gname, "volumes")
        if group.build:
            claim(unit_file(host, gname, "build"), "the image build of group %s" % gname,
                  gname, "build")
    for gname in sorted(host.groups):
        claim(unit_file(host, gname), "group %s" % gname, gname)


def host_dirs(host: Host) -> List[Mount]:
    """The host directories the groups mount, one mount each, by path."""
    seen: Dict[str, Mount] = {}
    for gname in sorted(host.groups):
        for mount in host.groups[gname].volumes:
            if not mount.named_volume:
                seen.setdefault(mount.source, mount)
    return [seen[path] for path in sorted(seen)]


def check_host_dirs(host: Host, problems: Problems) -> None:
    """Two groups that mount one host directory must agree on how it is created."""
    first: Dict[str, Tuple[str, Mount]] = {}
    for gname in sorted(host.groups):
        for mount in host.groups[gname].volumes:
            if mount.named_volume:
                continue
            owner = first.setdefault(mount.source, (gname, mount))
            wanted = (owner[1].owner, owner[1].group, owner[1].mode)
            if (mount.owner, mount.group, mount.mode) != wanted:
                problems.add("volume %s is created as %s:%s %s here but as %s:%s %s by group %s"
                             % ((mount.source, mount.owner, mount.group, mount.mode) + wanted
                                + (owner[0],)),
                             "give both groups the same owner, group and mode", host=host.name,
                             group=gname, field="volumes")


def check_all(hosts: Mapping[str, Host], problems: Problems) -> List[Link]:
    check_group_names(hosts, problems)
    check_lan_addresses(hosts, problems)
    for hname in sorted(hosts):
        host = hosts[hname]
        check_ports(host, problems)
        check_unit_names(host, problems)
        check_host_dirs(host, problems)
        check_agent_names(host, problems)
        check_depends_on(host, hosts, problems)
        check_gpus(host, problems)
        check_secrets(host, problems)
    return resolve_links(hosts, problems)
