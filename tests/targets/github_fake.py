"""GitHub as the GitOps workflow sees it, in memory: pull requests and their comments, the
workflow's runs with their artifacts, issues and labels; and ``gh``, answering the commands
the workflow runs from it, with the permissions of the job's token (``permissions:``; a
fork's pull request gets read-only ones) checked as GitHub checks them.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEVELS = {"none": 0, "read": 1, "write": 2}


@dataclass
class PullRequest:
    number: int
    head_sha: str
    fork: bool = False
    #: sticky comments by header (marocchino/sticky-pull-request-comment)
    comments: dict[str, str] = field(default_factory=dict)


@dataclass
class Issue:
    number: int
    title: str
    labels: list[str]
    body: str
    state: str = "open"
    comments: list[str] = field(default_factory=list)
    #: every body it has had, the first first
    bodies: list[str] = field(default_factory=list)


@dataclass
class WorkflowRun:
    id: int
    event: str
    head_sha: str
    workflow: str
    status: str = "in_progress"
    legs: list[Any] = field(default_factory=list)  # actions_runner.Leg
    #: artifact name → file path (relative) → content
    artifacts: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def jobs(self, job: str) -> list[Any]:
        return [leg for leg in self.legs if leg.job == job]

    def leg(self, job: str, target: str) -> Any:
        (found,) = [leg for leg in self.jobs(job) if leg.target == target]
        return found

    def result(self, job: str) -> str:
        legs = self.jobs(job)
        if not legs or all(leg.result == "skipped" for leg in legs):
            return "skipped"
        return "failure" if any(leg.result == "failure" for leg in legs) else "success"

    def outputs(self, job: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for leg in self.jobs(job):
            merged.update({k: v for k, v in leg.outputs.items() if v})
        return merged

    def upload(self, name: str, workspace: Path, paths: str, if_none: str) -> tuple[bool, str]:
        """actions/upload-artifact@v4: the files named (paths relative to their common
        folder); a second artifact of one name in a run fails, as it does on GitHub."""
        if name in self.artifacts:
            return False, f"an artifact named {name} exists already in this run\n"
        found = [workspace / p.strip() for p in paths.splitlines() if p.strip()]
        found = [p for p in found if p.is_file()]
        if not found:
            return if_none != "error", f"no files were found for {name}\n"
        common = Path(*_common_parts([p.parent.parts for p in found]))
        self.artifacts[name] = {str(p.relative_to(common)): p.read_bytes() for p in found}
        return True, ""

    def download(self, name: str, into: Path) -> tuple[bool, str]:
        files = self.artifacts.get(name)
        if files is None:
            return False, f"no artifact {name} in run {self.id}\n"
        for relative, content in files.items():
            (into / relative).parent.mkdir(parents=True, exist_ok=True)
            (into / relative).write_bytes(content)
        return True, ""


def _common_parts(parts: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    common = parts[0]
    for other in parts[1:]:
        n = 0
        while n < min(len(common), len(other)) and common[n] == other[n]:
            n += 1
        common = common[:n]
    return common


@dataclass(frozen=True)
class Grant:
    """What a job's ``GITHUB_TOKEN`` may do."""

    run: WorkflowRun
    permissions: Mapping[str, str]


def permitted(grant: Grant, scope: str, level: str) -> bool:
    return LEVELS[grant.permissions.get(scope, "none")] >= LEVELS[level]


class FakeGitHub:
    repository = "acme/demo-data"

    def __init__(self) -> None:
        self.pulls: dict[int, PullRequest] = {}
        self.merges: dict[str, int] = {}  # merge commit → pull request
        self.runs: list[WorkflowRun] = []
        self.issues: dict[int, Issue] = {}
        self.labels: set[str] = set()
        self.tokens: dict[str, Grant] = {}

    # -- what a test does ---------------------------------------------------------------

    def open_pull_request(self, head_sha: str, *, fork: bool = False) -> int:
        number = len(self.pulls) + len(self.issues) + 1
        self.pulls[number] = PullRequest(number, head_sha, fork)
        return number

    def merge(self, number: int, merge_sha: str) -> None:
        self.merges[merge_sha] = number

    def run(self, run_id: int) -> WorkflowRun:
        (found,) = [r for r in self.runs if r.id == run_id]
        return found

    def issue_token(self, run: WorkflowRun, permissions: Mapping[str, str] | str,
                    *, fork: bool) -> str:
        if isinstance(permissions, str):  # read-all / write-all
            level = permissions.split("-")[0]
            permissions = {s: level for s in ("actions", "contents", "issues", "pull-requests")}
        granted = {scope: ("read" if fork and level == "write" else level)
                   for scope, level in permissions.items()}
        token = f"ghs_fake{len(self.tokens)}"
        self.tokens[token] = Grant(run, granted)
        return token

    def open_issues(self, label: str) -> list[Issue]:
        return [i for i in self.issues.values() if i.state == "open" and label in i.labels]

    # -- gh --------------------------------------------------------------------------------

    def gh(self, argv: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str, str]:
        grant = self.tokens.get(env.get("GH_TOKEN", ""))
        if grant is None:
            return 4, "", "gh: set the GH_TOKEN environment variable to use GitHub CLI here\n"
        args, options = _parse(argv)
        command = " ".join(args[:2])
        try:
            result = self._command(command, args, options, grant, cwd)
        except _Refused as refused:
            return 1, "", f"{refused} (HTTP 403)\n"
        if isinstance(result, tuple):
            return result
        if "jq" in options:
            done = subprocess.run(["jq", "-r", "-c", options["jq"]], input=json.dumps(result),
                                  capture_output=True, text=True, env=dict(env), check=False)
            return done.returncode, done.stdout, done.stderr
        return 0, result if isinstance(result, str) else json.dumps(result) + "\n", ""

    def _command(self, command: str, args: list[str], options: Mapping[str, str],
                 grant: Grant, cwd: Path) -> Any:
        if command.startswith("api "):
            return self._api(args[1], grant)
        if command == "run list":
            _need(grant, "actions", "read")
            runs = [r for r in reversed(self.runs)
                    if r.workflow == options.get("workflow") and r.event == options.get("event")
                    and r.head_sha == options.get("commit")
                    and (options.get("status") != "completed" or r.status == "completed")]
            return [{"databaseId": r.id} for r in runs[: int(options.get("limit", 20))]]
        if command == "run download":
            _need(grant, "actions", "read")
            ok, message = self.run(int(args[2])).download(options["name"],
                                                         cwd / options.get("dir", "."))
            return (0, "", "") if ok else (1, "", message)
        if command == "issue list":
            _need(grant, "issues", "read")
            found = [i for i in self.issues.values()
                     if i.state == options.get("state", "open")
                     and options.get("label", i.labels[0] if i.labels else "") in i.labels]
            return [{"number": i.number, "title": i.title} for i in found]
        if command == "issue create":
            _need(grant, "issues", "write")
            label = options["label"]
            if label not in self.labels:
                return 1, "", f"could not add label: '{label}' not found\n"
            number = len(self.pulls) + len(self.issues) + 1
            body = (cwd / options["body-file"]).read_text()
            self.issues[number] = Issue(number, options["title"], [label], body, bodies=[body])
            return f"https://github.com/{self.repository}/issues/{number}\n"
        if command in ("issue edit", "issue close"):
            _need(grant, "issues", "write")
            issue = self.issues[int(args[2])]
            if command == "issue edit":
                issue.body = (cwd / options["body-file"]).read_text()
                issue.bodies.append(issue.body)
            else:
                issue.state = "closed"
                issue.comments.append(options.get("comment", ""))
            return ""
        if command == "label create":
            _need(grant, "issues", "write")
            if args[2] in self.labels and "force" not in options:
                return 1, "", f"label with name \"{args[2]}\" already exists\n"
            self.labels.add(args[2])
            return ""
        raise AssertionError(f"the fake gh does not know `gh {shlex.join(args)}`")

    def _api(self, path: str, grant: Grant) -> Any:
        path = path.split("?")[0]
        prefix = f"repos/{self.repository}/"
        assert path.startswith(prefix), path
        parts = path[len(prefix):].split("/")
        if parts[0] == "commits" and parts[2:] == ["pulls"]:
            _need(grant, "pull-requests", "read")
            number = self.merges.get(parts[1])
            if number is None:
                return []
            return [{"number": number, "head": {"sha": self.pulls[number].head_sha}}]
        if parts[:2] == ["actions", "runs"] and parts[3:] == ["artifacts"]:
            _need(grant, "actions", "read")
            names = list(self.run(int(parts[2])).artifacts)
            return {"total_count": len(names),
                    "artifacts": [{"id": n + 1, "name": name} for n, name in enumerate(names)]}
        raise AssertionError(f"the fake gh does not know the API path {path}")


class _Refused(Exception):
    pass


def _need(grant: Grant, scope: str, level: str) -> None:
    if not permitted(grant, scope, level):
        raise _Refused(f"Resource not accessible by integration: needs {scope}: {level}")


def _parse(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """gh's words: positionals, and ``--name value`` options (``--force``: a flag)."""
    flags = {"force"}
    args: list[str] = []
    options: dict[str, str] = {}
    words = iter(argv)
    for word in words:
        if word.startswith("--"):
            name = word[2:]
            if "=" in name:
                name, value = name.split("=", 1)
                options[name] = value
            elif name in flags:
                options[name] = ""
            else:
                options[name] = next(words)
        else:
            args.append(word)
    return args, options


def copy_artifact(run: WorkflowRun, name: str, into: Path) -> None:
    """A run's artifact, in a folder (for a test to look at)."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    assert run.download(name, into)[0]
