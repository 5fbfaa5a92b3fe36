# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as users get it: built, installed offline, run by FQCN from
a folder of their own, without this checkout's ansible.cfg.

Its output lands in the folder ansible-playbook runs in, and nowhere else:
the installed collection stays as installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
DEPS = os.path.join(REPO, ".deps", "collections")
INVENTORY = os.path.join(REPO, "inventory", "production")
HOSTS = ("mainpc", "pc2")
# The collection of a task's module: "  - containers.podman.podman_secret:".
TASK_FQCN = re.compile(r"^[ -]*([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:", re.MULTILINE)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collections path the tarball was installed into (by scripts/check-artifact.sh)."""
    path = tmp_path_factory.mktemp("installed") / "collections"
    res = subprocess.run(["bash", os.path.join(REPO, "scripts", "check-artifact.sh"),
                          "--install-to", str(path)],
                         capture_output=True, text=True, env=dict(os.environ, VENV_BIN=BIN),
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return path


def collection_dir(installed):
    return installed / "ansible_collections" / "ai_system" / "containers"


def snapshot(root):
    """{relative path: (kind, mode, sha256)}; Python's bytecode caches aside."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = None
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            out[os.path.relpath(path, root)] = (os.path.isdir(path), st.st_mode, digest)
    return out


def ansible_playbook(installed, cwd, *args, pwd=None):
    """Run ansible-playbook in cwd as a user would, with PWD as given (the
    shell's idea of the working directory; None: not set)."""
    cfg = cwd.parent / "empty.cfg"
    cfg.write_text("")
    env = {"PATH": BIN + os.pathsep + "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "ANSIBLE_CONFIG": str(cfg), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(installed), DEPS]),
           "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}
    if pwd is not None:
        env["PWD"] = str(pwd)
    # Every task runs on this machine: nothing may reach a real host.
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY,
                           "-e", "ansible_connection=local"] + list(args),
                          cwd=str(cwd), env=env, capture_output=True, text=True, check=False)


def listing(root):
    return sorted(os.path.relpath(os.path.join(d, n), root)
                  for d, dirs, files in os.walk(root) for n in dirs + files)


def assert_rendered(out):
    for host in HOSTS:
        units = sorted(p.name for p in (out / host / "quadlet").iterdir())
        assert any(u.endswith(".container") for u in units), units
        assert (out / host / "config" / "groups").is_dir()


@pytest.mark.parametrize("pwd", ["same", "stale", "unset"])
def test_render_lands_in_the_folder_it_runs_in_and_nowhere_else(installed, tmp_path, pwd):
    work = tmp_path / "work"
    elsewhere = tmp_path / "elsewhere"  # where a stale $PWD points
    work.mkdir()
    elsewhere.mkdir()
    before = snapshot(collection_dir(installed))
    res = ansible_playbook(installed, work, "ai_system.containers.render",
                           pwd={"same": work, "stale": elsewhere, "unset": None}[pwd])
    assert res.returncode == 0, res.stdout + res.stderr

    assert_rendered(work / "build" / "rendered")
    assert os.listdir(work) == ["build"] and os.listdir(work / "build") == ["rendered"]
    assert sorted(os.listdir(work / "build" / "rendered")) == list(HOSTS)
    assert os.listdir(elsewhere) == []
    assert snapshot(collection_dir(installed)) == before
    assert not [p for p in listing(installed) if p.endswith(os.path.join("playbooks", "build"))]


def test_render_dir_is_relative_to_the_folder_it_runs_in(installed, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    res = ansible_playbook(installed, work, "ai_system.containers.render",
                           "-e", "ai_render_dir=units", pwd=work)
    assert res.returncode == 0, res.stdout + res.stderr
    assert_rendered(work / "units")
    assert os.listdir(work) == ["units"]
    assert not (collection_dir(installed) / "playbooks" / "units").exists()


def test_kube_manifests_land_in_build_kube_of_the_folder_it_runs_in(installed, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(collection_dir(installed))
    res = ansible_playbook(installed, work, "ai_system.containers.kube", pwd=work)
    assert res.returncode == 0, res.stdout + res.stderr
    assert os.listdir(work) == ["build"] and os.listdir(work / "build") == ["kube"]
    kustomization = yaml.safe_load((work / "build" / "kube" / "kustomization.yaml").read_text())
    assert len(kustomization["resources"]) == 19
    probe = yaml.safe_load((work / "build" / "kube" / "probe.yaml").read_text())
    # The pods' probe is the installed collection's own.
    with open(collection_dir(installed) / "plugins" / "module_utils" / "verify" / "zmq_health.py",
              encoding="utf-8") as handle:
        assert probe["data"]["zmq_health.py"] == handle.read()
    assert snapshot(collection_dir(installed)) == before


def test_verify_report_lands_in_reports_of_the_folder_it_runs_in(installed, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(collection_dir(installed))
    # The report phase alone: the plan on the controller, nothing on a host.
    res = ansible_playbook(installed, work, "ai_system.containers.verify", "--tags", "verify_report")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads((work / "reports" / "latest.json").read_text())
    assert sorted(report["hosts"]) == list(HOSTS)
    assert os.listdir(work) == ["reports"]
    assert snapshot(collection_dir(installed)) == before
    assert not (collection_dir(installed) / "playbooks" / "reports").exists()


def test_the_installed_collection_is_the_collection_only(installed):
    top = sorted(os.listdir(collection_dir(installed)))
    assert top == ["CHANGELOG.md", "COPYING", "FILES.json", "MANIFEST.json", "README.md",
                   "bindep.txt", "changelogs", "docs", "examples", "meta", "playbooks", "plugins",
                   "roles"]
    root = collection_dir(installed)
    outside = [p for p in listing(root) if (root / p).is_symlink() and
               not os.path.realpath(root / p).startswith(str(root) + os.sep)]
    assert outside == []


def test_the_tested_dependency_collections_meet_the_declared_ranges(installed):
    manifest = json.loads((collection_dir(installed) / "MANIFEST.json").read_text())
    deps = manifest["collection_info"]["dependencies"]
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        assert deps == yaml.safe_load(handle)["dependencies"]
    # Every other collection whose modules the roles and playbooks call is one.
    used = set()
    for folder in ("roles", "playbooks"):
        for dirpath, _dirs, files in os.walk(collection_dir(installed) / folder):
            for name in files:
                if name.endswith(".yml"):
                    with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                        used.update(TASK_FQCN.findall(handle.read()))
    assert used - {"ansible.builtin", "ai_system.containers"} == set(deps)
    for name, wanted in deps.items():
        with open(os.path.join(DEPS, "ansible_collections", *name.split("."), "MANIFEST.json"),
                  encoding="utf-8") as handle:
            tested = json.load(handle)["collection_info"]["version"]
        assert meets_requirements(tested, wanted), (name, tested, wanted)


def _user_env(installed, cwd):
    cfg = cwd.parent / "empty.cfg"
    cfg.write_text("")
    return {"PATH": BIN + os.pathsep + "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8", "ANSIBLE_CONFIG": str(cfg), "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(installed), DEPS])}


def test_ansible_doc_shows_the_inventory_model_with_ai_groups_suboptions(installed, tmp_path):
    from ansible_collections.ai_system.containers.plugins.module_utils.model import stack_model

    res = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role", "-j",
                          "ai_system.containers.stack"], cwd=str(tmp_path),
                         env=_user_env(installed, tmp_path / "x"), capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)["ai_system.containers.stack"]["entry_points"]["inventory"]
    options = doc["options"]
    # inventory_dir is Ansible's own (where relative image contexts are read).
    assert {v for v in stack_model.PLAN_VARS if v.startswith("ai_")} <= set(options)
    assert set(options["ai_groups"]["options"]) == set(stack_model.GROUP_KEYS)
    assert set(options["ai_groups"]["options"]["agents"]["options"]) == set(stack_model.AGENT_KEYS)
    text = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role",
                           "ai_system.containers.stack"], cwd=str(tmp_path),
                          env=_user_env(installed, tmp_path / "x"), capture_output=True, text=True,
                          check=False).stdout
    assert re.search(r"ENTRY POINT: \W*inventory\b", text) and "health_port" in text


def test_the_shipped_example_inventory_copied_out_and_vaulted_renders(installed, tmp_path):
    """docs/getting-started.md steps 2 and 3 as written, then a render by FQCN."""
    work = tmp_path / "work"
    work.mkdir()
    env = dict(_user_env(installed, work), HOME=str(tmp_path / "home"))
    os.makedirs(env["HOME"])
    example = collection_dir(installed) / "examples" / "inventory"
    subprocess.run(["cp", "-r", str(example), "inventory"], cwd=str(work), check=True)
    password = tmp_path / "home" / ".ai-system-vault-pass"
    password.write_text("a-throwaway-test-password\n")
    password.chmod(0o600)
    (work / "ansible.cfg").write_text("[defaults]\nvault_password_file = ~/.ai-system-vault-pass\n")
    env.pop("ANSIBLE_CONFIG")  # ./ansible.cfg, as the guide has it
    vault = work / "inventory" / "group_vars" / "all" / "vault.yml"
    res = subprocess.run([os.path.join(BIN, "ansible-vault"), "encrypt", str(vault)],
                         cwd=str(work), env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert vault.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")

    res = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "inventory",
                          "ai_system.containers.render", "-e", "ansible_connection=local"],
                         cwd=str(work), env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    out = work / "build" / "rendered"
    assert sorted(os.listdir(out)) == ["cpu-pc", "gpu-pc"]
    gpu_unit = (out / "gpu-pc" / "quadlet" / "ai-inference.container").read_text()
    assert "AddDevice=nvidia.com/gpu=all" in gpu_unit
    assert "Secret=ai_api_token,type=env,target=AI_API_TOKEN" in gpu_unit
    assert "PublishPort=192.168.1.10:5600:5600" in gpu_unit
    endpoints = json.loads((out / "cpu-pc" / "config" / "groups" / "coordinator" /
                            "endpoints.json").read_text())
    assert endpoints["endpoints"]["InferenceAgent"]["url"] == "tcp://192.168.1.10:5600"

    # A mistyped group: non-zero, naming the group and the inventory's groups.
    res = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "inventory",
                          "ai_system.containers.site", "-e", "ai_hosts_group=ai_host"],
                         cwd=str(work), env=env, capture_output=True, text=True, check=False)
    assert res.returncode != 0
    assert "No hosts in inventory group 'ai_host' (ai_hosts_group)" in res.stdout
    assert "groups with hosts are ai_hosts, cpu, gpu." in res.stdout
