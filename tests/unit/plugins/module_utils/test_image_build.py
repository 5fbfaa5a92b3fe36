# -*- coding: utf-8 -*-
"""image_build: the ai_images model, the source digest, .containerignore, the
tag; image_build_run: build once, contract check, push or archive (with a
recorded podman)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.images import image_build
from ansible_collections.ai_system.containers.plugins.module_utils.images.image_build import (
    build_failure, context_files, ignore_rules, image_name_of, image_ref, is_ignored,
    parse_images, source_digest,
)
from ansible_collections.ai_system.containers.plugins.module_utils.images.image_build_run import (
    build_images, layout_dir, manifest_url,
)
from ansible_collections.ai_system.containers.plugins.module_utils.model.model_load import load_hosts


def write(root, rel, text="x", mode=0o644):
    path = os.path.join(str(root), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return path


@pytest.fixture()
def context(tmp_path):
    src = tmp_path / "src"
    write(src, "Containerfile", "FROM base\nCOPY . /app/\n")
    write(src, "app/agent.py", "print('agent')\n")
    write(src, "app/lib/util.py", "X = 1\n")
    write(src, "models/big.gguf", "weights")
    write(src, "logs/run.log", "log")
    write(src, ".git/HEAD", "ref: main")
    write(src, ".containerignore", "# not part of the image\nmodels\n**/*.log\n.git\n")
    return src


def digest(ctx, args=None, target=""):
    return source_digest(str(ctx), os.path.join(str(ctx), "Containerfile"), args or {}, target)[0]


# --- .containerignore --------------------------------------------------------

def test_ignored_files_are_not_part_of_the_context(context):
    assert context_files(str(context)) == [
        ".containerignore", "Containerfile", "app/agent.py", "app/lib/util.py"]


def test_ignore_rules_follow_the_last_match_and_parent_directories():
    rules = ignore_rules("docs\n*.md\n!README.md\n**/cache/**\n/tmp/\n")
    assert is_ignored("docs/a/b.txt", rules)
    assert is_ignored("NOTES.md", rules)
    assert not is_ignored("README.md", rules)
    assert not is_ignored("src/README.md", rules)  # *.md matches at the top level only
    assert is_ignored("src/cache/x.bin", rules)
    assert is_ignored("tmp/a", rules)
    assert not is_ignored("src/main.py", rules)


def test_negated_rule_keeps_a_file_inside_an_ignored_directory(tmp_path):
    write(tmp_path, "Containerfile", "FROM x\n")
    write(tmp_path, "data/keep.json", "{}")
    write(tmp_path, "data/drop.bin", "b")
    write(tmp_path, ".dockerignore", "data\n!data/keep.json\n")
    assert context_files(str(tmp_path)) == [".dockerignore", "Containerfile", "data/keep.json"]


# --- digest --------------------------------------------------------------------

def test_digest_is_stable_and_changes_with_every_input(context):
    first = digest(context)
    assert first == digest(context)
    assert len(first) == 64
    assert digest(context, {"A": "1"}) != first
    assert digest(context, target="final") != first
    write(context, "app/agent.py", "print('agent v2')\n")
    second = digest(context)
    assert second != first
    os.chmod(os.path.join(str(context), "app/agent.py"), 0o755)
    assert digest(context) != second


def test_digest_ignores_what_the_build_does_not_read(context):
    first = digest(context)
    write(context, "models/big.gguf", "other weights")
    write(context, "logs/new.log", "more")
    write(context, "app/x/debug.log", "more")
    assert digest(context) == first


def test_digest_covers_a_containerfile_outside_the_context(context, tmp_path_factory):
    other = tmp_path_factory.mktemp("cf")
    cfile = write(other, "Containerfile.prod", "FROM base\n")
    one = source_digest(str(context), cfile, {}, "")[0]
    write(other, "Containerfile.prod", "FROM base2\n")
    assert source_digest(str(context), cfile, {}, "")[0] != one


def test_tag_names_registry_name_and_twelve_hex():
    assert image_ref("agents", "ab" * 32) == "localhost/ai-system/agents:src-abababababab"
    assert image_ref("agents", "ab" * 32, "10.0.0.5:5000/") == (
        "10.0.0.5:5000/ai-system/agents:src-abababababab")


# --- the model -----------------------------------------------------------------

def test_relative_context_is_read_from_the_inventory_dir(context):
    inv = os.path.join(str(context), "inventory")
    os.makedirs(inv)
    model = parse_images({"agents": {"context": "..", "build_args": {"CUDA": 12, "X": True}}},
                         inv)
    assert model.problems == []
    spec = model.images["agents"]
    assert spec.context == str(context)
    assert spec.containerfile == os.path.join(str(context), "Containerfile")
    assert spec.build_args == (("CUDA", "12"), ("X", "true"))
    assert spec.ref == "localhost/ai-system/agents:src-" + spec.digest[:12]
    assert spec.files == 4


def test_model_problems_are_located(tmp_path):
    write(tmp_path, "empty/.keep", "")
    model = parse_images({
        "missing": {"context": "nowhere"},
        "nocf": {"context": "empty"},
        "Bad Name": {"context": "."},
        "typo": {"contex": "."},
        "args": {"context": "empty", "containerfile": "none", "build_args": []},
    }, str(tmp_path), registry="http://x")
    located = {(p.field, p.message.split(" ")[0]) for p in model.problems}
    assert ("ai_registry", "ai_registry") in located
    fields = [p.field for p in model.problems]
    assert "ai_images.missing.context" in fields
    assert "ai_images.nocf.containerfile" in fields
    assert "ai_images.Bad Name" in fields
    assert "ai_images.typo.contex" in fields
    assert "ai_images.typo.context" in fields
    assert "ai_images.args.containerfile" in fields
    missing = [p for p in model.problems if p.field == "ai_images.missing.context"][0]
    assert os.path.join(str(tmp_path), "nowhere") in missing.message
    assert model.images == {}


def test_image_name_reference_syntax():
    assert image_name_of({"name": "agents"}) == "agents"
    assert image_name_of("docker.io/library/redis:7") is None
    assert image_name_of({"name": 3}) == ""


def hostvars(tmp_path, image, **extra):
    group = {"agents": {"A": {"port": 7100}}, "image": image}
    data = {"ai_lan_address": "192.168.1.5", "ai_network_subnet": "172.20.0.0/16",
            "ai_groups": {"core": group, "redis": {"image": "docker.io/library/redis:7",
                                                   "agents": {"R": {"port": 7200}}}},
            "inventory_dir": str(tmp_path)}
    data.update(extra)
    return {"h1": data}


def test_groups_run_the_image_by_its_source_digest(context):
    images = {"agents": {"context": str(context)}}
    hosts, problems = load_hosts(hostvars(context, {"name": "agents"}, ai_images=images))
    assert list(problems.items) == []
    ref = parse_images(images, str(context)).images["agents"].ref
    assert hosts["h1"].groups["core"].image == ref
    assert hosts["h1"].groups["redis"].image == "docker.io/library/redis:7"
    hosts, problems = load_hosts(hostvars(context, {"name": "agents"}, ai_images=images,
                                          ai_registry="10.89.100.20:5000"))
    assert hosts["h1"].groups["core"].image.startswith("10.89.100.20:5000/ai-system/agents:src-")


def test_unknown_image_name_is_a_located_problem(context):
    hosts, problems = load_hosts(hostvars(context, {"name": "agnets"},
                                          ai_images={"agents": {"context": str(context)}}))
    (problem,) = problems.items
    assert (problem.host, problem.group, problem.field) == ("h1", "core", "image.name")
    assert "'agnets' is not in ai_images" in problem.message
    assert "agents" in problem.fix


def test_missing_context_is_reported_once_for_all_hosts(tmp_path):
    both = hostvars(tmp_path, "docker.io/x/y:1", ai_images={"agents": {"context": "gone"}})
    both["h2"] = dict(both["h1"], ai_lan_address="192.168.1.6")
    dummy, problems = load_hosts(both)
    assert [p.field for p in problems.items] == ["ai_images.agents.context"]


# --- build, contract, push, archive (recorded podman) -----------------------

class FakePodman:
    def __init__(self, have=(), fail=None, out=""):
        self.have = set(have)
        self.calls = []
        self.fail = fail or {}
        self.out = out

    def __call__(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        verb = argv[0] if argv[0] != "image" else "image " + argv[1]
        if verb in self.fail:
            return 1, self.out, self.fail[verb]
        if verb == "image exists":
            return (0 if argv[-1] in self.have else 1), "", ""
        if verb == "build":
            self.have.add(argv[argv.index("--tag") + 1])
        if verb == "image inspect":
            return 0, "sha256id\n", ""
        if verb == "save":
            # An uncompressed OCI layout: a base layer and a top layer.
            out = argv[argv.index("--output") + 1]
            os.makedirs(os.path.join(out, "blobs", "sha256"))
            manifest = json.dumps({"layers": [{"digest": "sha256:" + "a" * 64},
                                              {"digest": "sha256:" + "b" * 64}]})
            mdigest = hashlib.sha256(manifest.encode()).hexdigest()
            files = {"oci-layout": "{}", "blobs/sha256/" + mdigest: manifest,
                     "blobs/sha256/" + "a" * 64: "base", "blobs/sha256/" + "b" * 64: "top",
                     "index.json": json.dumps({"manifests": [{"digest": "sha256:" + mdigest}]})}
            for rel, text in files.items():
                with open(os.path.join(out, rel), "w") as handle:
                    handle.write(text)
        return 0, "", ""

    def verbs(self):
        return [c[0] if c[0] != "image" else "image " + c[1] for c in self.calls]


def params(context, tmp_path, **extra):
    base = {"images": {"agents": {"context": str(context)}}, "base_dir": str(context),
            "registry": "", "registry_insecure": False, "push": True,
            "archive_dir": str(tmp_path / "archives"), "check_contract": True}
    base.update(extra)
    return base


def no_registry(url):
    raise AssertionError("no registry call expected: %s" % url)


def test_first_run_builds_checks_and_archives_second_run_does_nothing(context, tmp_path):
    podman = FakePodman()
    result = build_images(params(context, tmp_path), podman, no_registry)
    assert "failed" not in result and result["changed"]
    assert podman.verbs() == ["image exists", "build", "run", "image inspect", "save"]
    build = podman.calls[1]
    assert build[build.index("--tag") + 1] == result["images"]["agents"]["ref"]
    assert podman.calls[2][-5:] == ["python3", "--", result["images"]["agents"]["ref"],
                                    "-c", "import zmq"]
    ref = result["images"]["agents"]["ref"]
    save = podman.calls[4]
    assert save[:4] == ["save", "--format", "oci-dir", "--uncompressed"]
    spec = parse_images(params(context, tmp_path)["images"], "/").images["agents"]
    layout = result["layouts"][ref]
    assert layout["dir"] == layout_dir(str(tmp_path / "archives"), spec)
    assert layout["layers"] == ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    assert len(layout["files"]) == 5 and "index.json" in layout["files"]
    assert result["digests"] == ["agents %s sha256id" % ref]
    again = FakePodman(have=[ref])
    result = build_images(params(context, tmp_path), again, no_registry)
    assert not result["changed"]
    assert again.verbs() == ["image exists", "image inspect"]


def test_failed_build_names_the_image_and_the_step(context, tmp_path):
    out = "STEP 1/3: FROM base\nSTEP 2/3: RUN make\nmake: *** no rule\n"
    podman = FakePodman(fail={"build": 'Error: building at STEP "RUN make": exit status 2'},
                        out=out)
    result = build_images(params(context, tmp_path), podman, no_registry)
    assert result["failed"]
    assert result["msg"].startswith("image agents: the build failed at STEP 2/3: RUN make: "
                                    'Error: building at STEP "RUN make"')
    assert "no host changed" in result["msg"]
    assert "run" not in podman.verbs()


def test_image_without_pyzmq_is_refused_and_untagged(context, tmp_path):
    podman = FakePodman(fail={"run": "ModuleNotFoundError: No module named 'zmq'"})
    result = build_images(params(context, tmp_path), podman, no_registry)
    assert result["failed"]
    assert "does not meet the image contract" in result["msg"]
    assert "No module named 'zmq'" in result["msg"]
    assert "python3-zmq" in result["msg"] and "pyzmq" in result["msg"]
    assert podman.verbs()[-1] == "rmi"
    assert not os.path.exists(str(tmp_path / "archives"))


def test_registry_push_only_what_the_registry_lacks(context, tmp_path):
    asked = []

    def registry(status):
        def head(url):
            asked.append(url)
            return 200 if url.endswith("/v2/") else status
        return head

    p = params(context, tmp_path, registry="10.89.100.20:5000", registry_insecure=True)
    podman = FakePodman()
    result = build_images(p, podman, registry(404))
    ref = result["images"]["agents"]["ref"]
    assert ref.startswith("10.89.100.20:5000/ai-system/agents:src-")
    assert podman.calls[-1] == ["push", "--tls-verify=false", "--", ref]
    assert asked[-1] == manifest_url("10.89.100.20:5000", ref, True)
    assert asked[-1].startswith("http://10.89.100.20:5000/v2/ai-system/agents/manifests/src-")
    assert result["layouts"] == {} and result["images"]["agents"]["pushed"]
    podman = FakePodman(have=[ref])
    result = build_images(p, podman, registry(200))
    assert not result["changed"] and "push" not in podman.verbs()


def test_image_in_the_registry_is_neither_built_nor_pushed(context, tmp_path):
    podman = FakePodman()
    p = params(context, tmp_path, registry="registry.lan:5000")
    result = build_images(p, podman, lambda url: 200)
    assert not result["changed"]
    assert podman.verbs() == ["image exists"]
    assert result["images"]["agents"]["in_registry"] is True
    assert result["digests"] == ["agents %s in-registry" % result["images"]["agents"]["ref"]]


def test_unreachable_registry_stops_before_any_build(context, tmp_path):
    podman = FakePodman()
    result = build_images(params(context, tmp_path, registry="10.89.100.99:5000"), podman,
                          lambda url: "[Errno 113] No route to host")
    assert result["failed"]
    assert result["msg"].startswith("registry 10.89.100.99:5000 cannot be reached "
                                    "([Errno 113] No route to host)")
    assert podman.calls == []


def test_build_failure_without_step_lines():
    assert build_failure("x", "Error: no such file Containerfile") == (
        "image x: the build failed at before the first step: Error: no such file Containerfile")


def test_build_argv_passes_args_target_limits_and_digest_label(context):
    spec = parse_images({"a": {"context": str(context), "build_args": {"B": "2"},
                               "target": "final"}}, "/").images["a"]
    argv = image_build.build_argv("podman", spec, {"nofile": (1024, 4096), "nproc": (-1, -1)})
    assert argv[:4] == ["podman", "build", "--layers", "--file"]
    assert ["--ulimit", "nofile=1024:4096"] == argv[7:9]
    assert "nproc=-1:-1" in argv
    assert argv[argv.index("--build-arg") + 1] == "B=2"
    assert argv[argv.index("--target") + 1] == "final"
    assert argv[-2:] == ["--", str(context)]
    assert "ai-system.source-digest=" + spec.digest in argv


# --- git sources (real git, local repositories) ----------------------------------

def git(*args, cwd=None):
    import subprocess
    return subprocess.run(["git"] + list(args), cwd=cwd, check=True, capture_output=True,
                          text=True, env=dict(os.environ, GIT_AUTHOR_NAME="t",
                                              GIT_AUTHOR_EMAIL="t@example.org",
                                              GIT_COMMITTER_NAME="t",
                                              GIT_COMMITTER_EMAIL="t@example.org")).stdout.strip()


@pytest.fixture()
def repo(tmp_path):
    path = tmp_path / "app"
    write(path, "docker/Containerfile", "FROM base\nCOPY . /app/\n")
    write(path, "docker/agent.py", "print(1)\n")
    git("init", "-q", "-b", "main", str(path))
    git("add", "-A", cwd=str(path))
    git("commit", "-q", "-m", "one", cwd=str(path))
    return path


def test_git_source_is_named_after_the_commit_of_its_ref(repo, tmp_path):
    spec = {"git": {"repo": "app", "ref": "main"}, "context": "docker"}
    model = parse_images({"agents": spec}, str(tmp_path))
    assert model.problems == []
    image = model.images["agents"]
    first_commit = git("rev-parse", "HEAD", cwd=str(repo))
    assert (image.git_repo, image.git_commit) == (str(repo), first_commit)
    assert parse_images({"agents": spec}, str(tmp_path)).images["agents"].ref == image.ref
    write(repo, "docker/agent.py", "print(2)\n")
    git("commit", "-q", "-am", "two", cwd=str(repo))
    moved = parse_images({"agents": spec}, str(tmp_path)).images["agents"]
    assert moved.git_commit != first_commit and moved.ref != image.ref
    pinned = parse_images({"agents": dict(spec, git={"repo": "app", "ref": first_commit})},
                          str(tmp_path)).images["agents"]
    assert pinned.ref == image.ref


def test_git_checkout_builds_from_the_commit(repo, tmp_path):
    image = parse_images({"agents": {"git": {"repo": str(repo)}, "context": "docker"}},
                         "/").images["agents"]
    write(repo, "docker/agent.py", "print('not committed')\n")
    dest = str(tmp_path / "src" / "agents")
    assert image_build.checkout(image.git_repo, image.git_commit, dest) == ""
    built = image.checked_out(dest)
    assert built.context == os.path.join(dest, "docker")
    assert built.containerfile == os.path.join(dest, "docker", "Containerfile")
    with open(os.path.join(built.context, "agent.py")) as handle:
        assert handle.read() == "print(1)\n"


def test_git_problems_are_located(repo, tmp_path):
    model = parse_images({
        "a": {"git": {"repo": str(repo), "ref": "no-such-branch"}},
        "b": {"git": {"repo": str(tmp_path / "nothing")}},
        "c": {"git": {"repo": str(repo), "branch": "x"}, "context": "../up"},
    }, str(tmp_path))
    by_field = {p.field: p for p in model.problems}
    assert "no branch or tag no-such-branch" in by_field["ai_images.a.git"].message
    assert "cannot resolve HEAD" in by_field["ai_images.b.git"].message
    assert "ai_images.c.git.branch" in by_field
    assert "ai_images.c.context" in by_field
    assert model.images == {}


def test_git_image_is_checked_out_then_built(repo, tmp_path):
    podman = FakePodman()
    p = {"images": {"agents": {"git": {"repo": str(repo)}, "context": "docker"}},
         "base_dir": "/", "archive_dir": str(tmp_path / "archives"),
         "source_dir": str(tmp_path / "checkouts")}
    result = build_images(p, podman, no_registry)
    assert "failed" not in result, result.get("msg")
    build = podman.calls[1]
    commit = git("rev-parse", "HEAD", cwd=str(repo))
    checkout = str(tmp_path / "checkouts" / ("agents-" + commit[:12]))
    assert build[-2:] == ["--", os.path.join(checkout, "docker")]
    assert build[build.index("--file") + 1] == os.path.join(checkout, "docker", "Containerfile")
