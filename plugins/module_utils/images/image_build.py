# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The images the collection builds from source (``ai_images``): their model,
the digest of their sources and build inputs, and the tag that digest names.

Pure Python, no Ansible imports; reads the build contexts on the controller.

An image's tag is ``<registry or localhost>/ai-system/<name>:src-<12 hex>``,
where the hex is the SHA-256 of everything ``podman build`` reads: the files of
the context that ``.containerignore`` (or ``.dockerignore``) lets through, with
their paths, contents and executable bits, the Containerfile, the build
arguments and the target stage. The same sources give the same tag on every
controller; a changed file gives a new tag, so the units of exactly the groups
that run that image change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import file_sha256

IMAGE_KEYS = ("context", "git", "containerfile", "build_args", "target")
GIT_KEYS = ("repo", "ref")
COMMIT_RE = re.compile(r"[0-9a-f]{40}\Z")
IMAGE_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?\Z")
REGISTRY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?(?:/[a-z0-9._-]+)*\Z")
ARG_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TARGET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
CONTAINERFILES = ("Containerfile", "Dockerfile")
IGNORE_FILES = (".containerignore", ".dockerignore")
# Bumped when what the digest covers changes, so old tags are not reused.
DIGEST_FORMAT = "ai-system-image-digest-1"
TAG_PREFIX = "src-"
TAG_HEX = 12
# The image contract: the health probe runs python3 with pyzmq in the container.
CONTRACT_COMMAND = ("python3", "-c", "import zmq")
CONTRACT_FIX = ("the health probe runs python3 with pyzmq inside every agent container: add "
                "both to the image (e.g. `RUN apt-get install -y python3-zmq` on Debian or "
                "Ubuntu, or `RUN pip install pyzmq`)")


@dataclass(frozen=True)
class ImageSpec:
    """One entry of ai_images, resolved on the controller."""

    name: str
    context: str  # absolute path of the build context on the controller
    containerfile: str  # absolute path of the Containerfile
    build_args: Tuple[Tuple[str, str], ...] = ()
    target: str = ""
    digest: str = ""  # full SHA-256 hex of sources and inputs
    ref: str = ""  # the tag the image is built, delivered and run as
    files: int = 0  # files of the context the digest covers
    # A git source: the context is `context` inside a checkout of git_commit,
    # and containerfile is relative to it (both resolved at build time).
    git_repo: str = ""
    git_commit: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "context": self.context, "containerfile": self.containerfile,
                "build_args": dict(self.build_args), "target": self.target,
                "digest": self.digest, "ref": self.ref, "files": self.files,
                "git_repo": self.git_repo, "git_commit": self.git_commit}

    def checked_out(self, checkout: str) -> "ImageSpec":
        """This git image with its context and Containerfile inside ``checkout``."""
        context = os.path.normpath(os.path.join(checkout, self.context))
        return ImageSpec(name=self.name, context=context,
                         containerfile=os.path.join(context, self.containerfile),
                         build_args=self.build_args, target=self.target, digest=self.digest,
                         ref=self.ref, files=self.files, git_repo=self.git_repo,
                         git_commit=self.git_commit)


@dataclass
class ImageProblem:
    message: str
    fix: str = ""
    field: str = ""


@dataclass
class ImageModel:
    images: Dict[str, ImageSpec] = field(default_factory=dict)
    problems: List[ImageProblem] = field(default_factory=list)
    registry: str = ""


# ---------------------------------------------------------------------------
# .containerignore
# ---------------------------------------------------------------------------

def _pattern_regex(pattern: str) -> "re.Pattern[str]":
    """A .containerignore pattern (Go filepath.Match with `**`) as a regex
    over a slash-separated path relative to the context."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i:i + 2] == "**":
                # `**/` matches any number of directories, `**` anything.
                if pattern[i:i + 3] == "**/":
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def ignore_rules(text: str) -> List[Tuple[bool, "re.Pattern[str]"]]:
    """(negated, regex) per rule of an ignore file, in order; the last rule
    that matches a path (or one of its parent directories) decides."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:].strip()
        line = os.path.normpath(line).replace(os.sep, "/").lstrip("/")
        if line in ("", "."):
            continue
        rules.append((negated, _pattern_regex(line)))
    return rules


def is_ignored(path: str, rules: Sequence[Tuple[bool, "re.Pattern[str]"]]) -> bool:
    """Whether ``path`` (relative, slash-separated) is left out of the context."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negated, regex in rules:
        if any(regex.match(c) for c in candidates):
            ignored = not negated
    return ignored


def read_ignore_rules(context: str) -> List[Tuple[bool, "re.Pattern[str]"]]:
    for name in IGNORE_FILES:
        path = os.path.join(context, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return ignore_rules(handle.read())
    return []


def context_files(context: str) -> List[str]:
    """The files of ``context`` podman build sends (relative, sorted)."""
    rules = read_ignore_rules(context)
    found = []
    for top, dirs, files in os.walk(context):
        rel_top = os.path.relpath(top, context)
        rel_top = "" if rel_top == "." else rel_top.replace(os.sep, "/") + "/"
        dirs.sort()
        # A directory excluded with no negation rule below it is skipped whole.
        if not any(negated for negated, dummy in rules):
            dirs[:] = [d for d in dirs if not is_ignored(rel_top + d, rules)]
        for name in files:
            rel = rel_top + name
            if not is_ignored(rel, rules):
                found.append(rel)
        for name in dirs:
            if os.path.islink(os.path.join(top, name)) and not is_ignored(rel_top + name, rules):
                found.append(rel_top + name)
    return sorted(found)


# ---------------------------------------------------------------------------
# Digest and tag
# ---------------------------------------------------------------------------

def source_digest(context: str, containerfile: str, build_args: Mapping[str, str],
                  target: str) -> Tuple[str, int]:
    """(SHA-256 hex of the sources and build inputs, number of context files)."""
    entries = []
    files = context_files(context)
    for rel in files:
        path = os.path.join(context, rel)
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            entries.append([rel, "link", os.readlink(path)])
        elif stat.S_ISREG(info.st_mode):
            entries.append([rel, "x" if info.st_mode & 0o111 else "f", file_sha256(path)])
    document = {
        "format": DIGEST_FORMAT,
        "containerfile": file_sha256(containerfile),
        "build_args": sorted([k, v] for k, v in build_args.items()),
        "target": target,
        "files": entries,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), len(files)


def image_ref(name: str, digest: str, registry: str = "") -> str:
    """The tag an image with this source digest is built and run as."""
    return "%s/ai-system/%s:%s%s" % (registry.rstrip("/") or "localhost", name, TAG_PREFIX,
                                     digest[:TAG_HEX])


# ---------------------------------------------------------------------------
# The model (ai_images, ai_registry)
# ---------------------------------------------------------------------------

def _resolve(base_dir: str, path: str) -> str:
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    return os.path.normpath(path)


def parse_images(raw: Any, base_dir: str, registry: Any = None,
                 with_digest: bool = True) -> ImageModel:
    """ai_images (name -> {context, containerfile, build_args, target}) with
    relative contexts read from ``base_dir`` (the inventory's directory); every
    problem located by field (``ai_images.<name>.<key>``)."""
    model = ImageModel()
    if registry not in (None, ""):
        if not isinstance(registry, str) or not REGISTRY_RE.match(registry.strip()):
            model.problems.append(ImageProblem(
                "ai_registry %r is not a registry address" % (registry,),
                "write host[:port][/path], e.g. registry.lan:5000", "ai_registry"))
        else:
            model.registry = registry.strip().rstrip("/")
    if raw in (None, {}):
        return model
    if not isinstance(raw, Mapping):
        model.problems.append(ImageProblem(
            "ai_images must be a mapping of image name to its source",
            "write e.g. ai_images: {agents: {context: ../../src}}", "ai_images"))
        return model
    for name, spec in raw.items():
        where = "ai_images.%s" % name
        problems = model.problems
        before = len(problems)
        if not isinstance(name, str) or not IMAGE_NAME_RE.match(name):
            problems.append(ImageProblem(
                "image name %r is not a valid repository name" % (name,),
                "use lower-case letters, digits, '.', '_' and '-'", where))
            continue
        if isinstance(spec, str):
            spec = {"context": spec}
        if not isinstance(spec, Mapping):
            problems.append(ImageProblem("image must be a mapping",
                                         "write e.g. {context: ../../src}", where))
            continue
        for key in spec:
            if key not in IMAGE_KEYS:
                problems.append(ImageProblem(
                    "unknown key %r" % (key,), "allowed: %s" % ", ".join(IMAGE_KEYS),
                    "%s.%s" % (where, key)))
        if "git" in spec:
            image = _parse_git(name, spec, base_dir, problems, where, model.registry)
            if image is not None and len(problems) == before:
                model.images[name] = image
            continue
        context = spec.get("context")
        if not isinstance(context, str) or not context.strip():
            problems.append(ImageProblem(
                "image has no build context",
                "set context: to a directory on the controller (relative paths are read "
                "from the inventory's directory)", where + ".context"))
            continue
        context = _resolve(base_dir, context.strip())
        if not os.path.isdir(context):
            problems.append(ImageProblem(
                "build context %s is not a directory on the controller" % context,
                "fix the path (relative paths are read from the inventory's directory, %s)"
                % base_dir, where + ".context"))
            continue
        cfile = spec.get("containerfile")
        if cfile in (None, ""):
            candidates = [os.path.join(context, c) for c in CONTAINERFILES]
            found = [c for c in candidates if os.path.isfile(c)]
            if not found:
                problems.append(ImageProblem(
                    "no Containerfile or Dockerfile in %s" % context,
                    "add one, or set containerfile:", where + ".containerfile"))
                continue
            cfile = found[0]
        elif not isinstance(cfile, str):
            problems.append(ImageProblem("containerfile must be a path", "",
                                         where + ".containerfile"))
            continue
        else:
            cfile = _resolve(context, cfile)
            if not os.path.isfile(cfile):
                problems.append(ImageProblem(
                    "containerfile %s is not a file" % cfile,
                    "relative paths are read from the context", where + ".containerfile"))
                continue
        clean_args, target = _build_inputs(spec, problems, where)
        if len(problems) > before:
            continue
        image = ImageSpec(name=name, context=context, containerfile=cfile,
                          build_args=tuple(sorted(clean_args.items())), target=target)
        if with_digest:
            digest, count = source_digest(context, cfile, clean_args, target)
            image = ImageSpec(name=name, context=context, containerfile=cfile,
                              build_args=image.build_args, target=target, digest=digest,
                              ref=image_ref(name, digest, model.registry), files=count)
        model.images[name] = image
    return model


def _build_inputs(spec: Mapping[str, Any], problems: List[ImageProblem], where: str
                  ) -> Tuple[Dict[str, str], str]:
    args = spec.get("build_args") or {}
    if not isinstance(args, Mapping):
        problems.append(ImageProblem("build_args must be a mapping of name to value", "",
                                     where + ".build_args"))
        args = {}
    clean_args = {}
    for key, value in args.items():
        if not isinstance(key, str) or not ARG_NAME_RE.match(key):
            problems.append(ImageProblem("build argument name %r is not valid" % (key,),
                                         "", where + ".build_args"))
        elif isinstance(value, (Mapping, list)) or value is None:
            problems.append(ImageProblem("build argument %s must be a text" % key,
                                         "", where + ".build_args." + key))
        else:
            clean_args[key] = str(value).lower() if isinstance(value, bool) else str(value)
    target = spec.get("target") or ""
    if not isinstance(target, str) or (target and not TARGET_RE.match(target)):
        problems.append(ImageProblem("target %r is not a stage name" % (target,), "",
                                     where + ".target"))
        target = ""
    return clean_args, target


def git_commit(repo: str, ref: str) -> Tuple[str, str]:
    """(commit, "") of ``ref`` in ``repo`` (``git ls-remote``), or ("", why not)."""
    if COMMIT_RE.match(ref):
        return ref, ""
    try:
        proc = subprocess.run(["git", "ls-remote", "--", repo, ref], capture_output=True,
                              text=True, timeout=60, check=False,
                              env=dict(os.environ, LANG="C", LC_ALL="C", GIT_TERMINAL_PROMPT="0"))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "", str(exc)
    if proc.returncode != 0:
        return "", last_line(proc.stderr or proc.stdout)
    commits = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            commits[parts[1]] = parts[0]
    for name in (ref, "refs/heads/" + ref, "refs/tags/" + ref + "^{}", "refs/tags/" + ref):
        if name in commits:
            return commits[name], ""
    return "", "no branch or tag %s" % ref


def _parse_git(name: str, spec: Mapping[str, Any], base_dir: str,
               problems: List[ImageProblem], where: str, registry: str) -> Optional[ImageSpec]:
    git = spec.get("git")
    if isinstance(git, str):
        git = {"repo": git}
    if not isinstance(git, Mapping):
        problems.append(ImageProblem("git must be a mapping {repo, ref}", "", where + ".git"))
        return None
    for key in git:
        if key not in GIT_KEYS:
            problems.append(ImageProblem("unknown key %r" % (key,), "allowed: repo, ref",
                                         "%s.git.%s" % (where, key)))
    repo, ref = git.get("repo"), git.get("ref") or "HEAD"
    if not isinstance(repo, str) or not repo.strip() or repo.startswith("-"):
        problems.append(ImageProblem("git.repo must be a repository address or path", "",
                                     where + ".git.repo"))
        return None
    if not isinstance(ref, str) or ref.startswith("-"):
        problems.append(ImageProblem("git.ref must be a branch, tag or commit", "",
                                     where + ".git.ref"))
        return None
    repo = repo.strip()
    if "://" not in repo and not re.match(r"[^/]+@[^/]+:", repo):
        repo = _resolve(base_dir, repo)  # a local repository, relative to the inventory
    subdir = spec.get("context") or "."
    cfile = spec.get("containerfile") or "Containerfile"
    if not isinstance(subdir, str) or os.path.isabs(subdir) or ".." in subdir.split("/"):
        problems.append(ImageProblem("with git, context is a directory inside the repository",
                                     "write a relative path without '..'", where + ".context"))
        return None
    if not isinstance(cfile, str) or os.path.isabs(cfile) or ".." in cfile.split("/"):
        problems.append(ImageProblem("with git, containerfile is a path inside the context",
                                     "write a relative path without '..'",
                                     where + ".containerfile"))
        return None
    args, target = _build_inputs(spec, problems, where)
    commit, why = git_commit(repo, ref.strip())
    if not commit:
        problems.append(ImageProblem("git repository %s: cannot resolve %s (%s)" % (repo, ref, why),
                                     "fix git.repo or git.ref, or make the repository reachable "
                                     "from the controller", where + ".git"))
        return None
    document = {"format": DIGEST_FORMAT, "git": commit, "context": os.path.normpath(subdir),
                "containerfile": os.path.normpath(cfile),
                "build_args": sorted([k, v] for k, v in args.items()), "target": target}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode("utf-8")).hexdigest()
    return ImageSpec(name=name, context=os.path.normpath(subdir),
                     containerfile=os.path.normpath(cfile), build_args=tuple(sorted(args.items())),
                     target=target, digest=digest, ref=image_ref(name, digest, registry),
                     git_repo=repo, git_commit=commit)


def checkout(repo: str, commit: str, dest: str) -> str:
    """Check ``commit`` of ``repo`` out at ``dest`` (kept for the next build of
    that commit); "" when done, else why not."""
    if os.path.isdir(os.path.join(dest, ".git")):
        return ""
    env = dict(os.environ, LANG="C", LC_ALL="C", GIT_TERMINAL_PROMPT="0")
    partial = dest + ".partial"
    if os.path.isdir(partial):
        shutil.rmtree(partial)
    for argv in (["git", "clone", "--quiet", "--no-checkout", "--", repo, partial],
                 ["git", "-C", partial, "checkout", "--quiet", "--detach", commit]):
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=env,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if proc.returncode != 0:
            return last_line(proc.stderr or proc.stdout)
    os.rename(partial, dest)
    return ""


_CACHE: Dict[str, ImageModel] = {}


def cached_images(raw: Any, base_dir: str, registry: Any = None) -> ImageModel:
    """parse_images, once per distinct input within one process (every host
    of an inventory carries the same ai_images)."""
    try:
        key = json.dumps([raw, base_dir, registry], sort_keys=True, default=str)
    except (TypeError, ValueError):
        return parse_images(raw, base_dir, registry)
    if key not in _CACHE:
        _CACHE[key] = parse_images(raw, base_dir, registry)
    return _CACHE[key]


def image_name_of(value: Any) -> Optional[str]:
    """The ai_images name a group's ``image:`` refers to (``{name: agents}``), or None
    for a plain image reference."""
    if isinstance(value, Mapping) and set(value) <= {"name"}:
        name = value.get("name")
        return name if isinstance(name, str) else ""
    return None


def build_failure(name: str, output: str) -> str:
    """The message of a failed build: the image and the step that failed."""
    steps = [line.strip() for line in (output or "").splitlines()
             if re.match(r"\s*(STEP \d+/\d+|\[\d+/\d+\] STEP \d+/\d+)", line)]
    errors = [line.strip() for line in (output or "").splitlines()
              if line.strip().lower().startswith(("error", "error:"))]
    step = steps[-1] if steps else "before the first step"
    error = errors[-1] if errors else last_line(output)
    return "image %s: the build failed at %s: %s" % (name, step, error)


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def contract_failure(name: str, ref: str, output: str) -> str:
    return ("image %s (%s) does not meet the image contract: `%s` failed in the image (%s); %s"
            % (name, ref, " ".join(CONTRACT_COMMAND[:2]) + " '" + CONTRACT_COMMAND[2] + "'",
               last_line(output), CONTRACT_FIX))


def _limit(value: int) -> str:
    return "-1" if value < 0 else str(value)


def build_argv(podman: str, spec: ImageSpec, limits: Mapping[str, Tuple[int, int]] = None
               ) -> List[str]:
    """podman build's argv. ``limits`` ({nofile: (soft, hard), nproc: ...}): the
    RUN steps get the builder's own limits, since Podman's defaults can exceed
    what a confined root may set."""
    argv = [podman, "build", "--layers", "--file", spec.containerfile, "--tag", spec.ref]
    for name, (soft, hard) in sorted((limits or {}).items()):
        argv += ["--ulimit", "%s=%s:%s" % (name, _limit(soft), _limit(hard))]
    for key, value in spec.build_args:
        argv += ["--build-arg", "%s=%s" % (key, value)]
    if spec.target:
        argv += ["--target", spec.target]
    argv += ["--label", "ai-system.source-digest=%s" % spec.digest, "--", spec.context]
    return argv
