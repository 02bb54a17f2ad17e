"""A GitHub Actions runner for one workflow, on this machine, close enough to drive the GitOps
workflow job by job: the jobs of an event in ``needs`` order, each matrix leg from a fresh
checkout (no state survives between jobs), ``if:`` and ``${{ }}`` evaluated as GitHub does
(``actions_expressions``), ``run:`` steps in real bash (``shell: bash`` is ``bash
--noprofile --norc -eo pipefail``) with ``GITHUB_OUTPUT``, ``GITHUB_ENV`` and
``GITHUB_STEP_SUMMARY``, environments that wait for an approval, and the few actions the
workflow uses (checkout, setup-python, upload/download-artifact, a sticky PR comment).

The commands the steps run are the real ones but three: ``reconciler``, ``gh`` and ``pip``
are small scripts that hand their argv, working folder and environment to this process
(over loopback TCP). ``reconciler`` runs the real CLI in this process, on the test's clock,
against the test's emulators; ``gh`` answers from ``FakeGitHub`` (pull requests, runs and
their artifacts, issues, labels), checking the job's ``permissions`` (a fork's pull
request gets read-only ones and no secrets); ``pip`` checks what it is asked to install.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import selectors
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count, product
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.cli.base import main
from reconciler.clock import Clock
from tests.targets.actions_expressions import condition, interpolate, to_text
from tests.targets.github_fake import FakeGitHub, WorkflowRun, permitted

SHELLS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
    None: ["bash", "-e"],
}
#: a step that is one command of a shim with plain words: run without starting bash
_SIMPLE = re.compile(r"(reconciler|gh|pip)( [A-Za-z0-9_./=:-]+)*")
#: ``BASH_ENV`` of every step: ``reconciler``, ``gh`` and ``pip`` as shell functions that send
#: their argv, working folder and exported environment to the runner (NUL-separated, over
#: loopback TCP, with bash builtins only: no process is started for them) and print its answer
_SHIMS = """\
__runner() {{
  local __fd __code __out __err __name __names
  exec {{__fd}}<>/dev/tcp/127.0.0.1/{port} || return 98
  __names=($(compgen -e))
  {{
    printf '%s\\0' "$1" "$PWD" "$(($# - 1))" "${{@:2}}" "${{#__names[@]}}"
    for __name in "${{__names[@]}}"; do printf '%s=%s\\0' "$__name" "${{!__name}}"; done
  }} >&$__fd
  IFS= read -r -d '' __code <&$__fd
  IFS= read -r -d '' __out <&$__fd
  IFS= read -r -d '' __err <&$__fd
  exec {{__fd}}>&-
  printf '%s' "$__out"
  printf '%s' "$__err" >&2
  return "$__code"
}}
reconciler() {{ __runner reconciler "$@"; }}
gh() {{ __runner gh "$@"; }}
pip() {{ __runner pip "$@"; }}
"""


@dataclass
class Step:
    name: str
    outcome: str  # success | failure | skipped
    log: str = ""


@dataclass
class Leg:
    """One job, or one leg of a matrix job, as it ran."""

    job: str
    matrix: dict[str, Any]
    result: str = "success"  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    summary: str = ""
    environment: str | None = None
    concurrency: str | None = None
    max_parallel: Any = None
    #: every command a ``reconciler``/``gh``/``pip`` shim ran, as argv with the tool first
    commands: list[list[str]] = field(default_factory=list)

    @property
    def target(self) -> str | None:
        target = self.matrix.get("target")
        return target.get("name") if isinstance(target, dict) else target

    @property
    def log(self) -> str:
        return "".join(step.log for step in self.steps)

    @property
    def annotations(self) -> list[str]:
        return [line for line in self.log.splitlines()
                if re.match(r"::(error|warning|notice)\b", line)]

    def ran(self, *words: str) -> bool:
        """Whether some command started with these words (``ran("reconciler", "apply")``)."""
        return any(argv[: len(words)] == list(words) for argv in self.commands)


class Actions:
    """Runs ``workflow`` for events of ``repo`` (the files at the commit the event is for)."""

    def __init__(self, workflow: Path, repo: Path, work: Path, github: FakeGitHub,
                 clock: Clock) -> None:
        self.workflow = YAML(typ="safe", pure=True).load(workflow.read_text(encoding="utf-8"))
        self.repo = repo
        self.work = work
        self.github = github
        self.clock = clock
        self.installs: list[list[str]] = []
        self._runs = count(1000)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.setblocking(False)
        work.mkdir(parents=True)
        self._shims = work / "shims.bash"
        self._shims.write_text(_SHIMS.format(port=self._server.getsockname()[1]))

    def close(self) -> None:
        self._server.close()

    # -- a run --------------------------------------------------------------------------

    def run(self, event: str, *, sha: str, secrets: Mapping[str, str] | None = None,
            pull_request: int | None = None, schedule: str | None = None,
            inputs: Mapping[str, str] | None = None,
            approve: Callable[[str, Leg], bool] = lambda environment, leg: True,
            ) -> WorkflowRun:
        """One workflow run for ``event``; returns it with every leg of every job."""
        run = WorkflowRun(next(self._runs), event, sha, self.workflow.get("name", ""))
        self.github.runs.append(run)
        pr = self.github.pulls.get(pull_request) if pull_request is not None else None
        fork = bool(pr and pr.fork)
        secrets = {} if fork else dict(secrets or {})
        checkout = self.work / f"run-{run.id}" / "checkout"
        shutil.copytree(self.repo, checkout, ignore=shutil.ignore_patterns(".reconciler"))
        event_body: dict[str, Any] = {}
        if pr is not None:
            event_body["pull_request"] = {"number": pr.number, "head": {
                "sha": pr.head_sha, "repo": {"fork": pr.fork}}}
        if schedule is not None:
            event_body["schedule"] = schedule
        if inputs is not None:
            event_body["inputs"] = dict(inputs)
        github = {
            "event_name": event, "event": event_body, "sha": sha,
            "ref": "refs/heads/main" if event != "pull_request" else f"refs/pull/{pull_request}/merge",
            "repository": self.github.repository, "run_id": str(run.id),
            "workflow": run.workflow,
        }
        declared = (self.workflow.get("on") or self.workflow.get(True) or {})
        defaults = ((declared.get("workflow_dispatch") or {}).get("inputs") or {})
        given = {k: str(v.get("default", "")) for k, v in defaults.items()}
        given.update(inputs or {})
        jobs: dict[str, dict[str, Any]] = self.workflow["jobs"]
        for job_id in self._order(jobs):
            self._job(run, job_id, jobs[job_id], github, secrets, given, fork, checkout, approve)
        run.status = "completed"
        return run

    def _order(self, jobs: Mapping[str, Any]) -> list[str]:
        done: list[str] = []
        while len(done) < len(jobs):
            for job_id, job in jobs.items():
                if job_id not in done and all(n in done for n in _needs(job)):
                    done.append(job_id)
        return done

    def _job(self, run: WorkflowRun, job_id: str, job: dict[str, Any], github: dict[str, Any],
             secrets: Mapping[str, str], inputs: Mapping[str, str], fork: bool,
             checkout: Path, approve: Callable[[str, Leg], bool]) -> None:
        needs = {n: {"result": run.result(n), "outputs": run.outputs(n)} for n in _needs(job)}
        contexts = {"github": github, "needs": needs, "vars": {}, "inputs": inputs,
                    "secrets": secrets}
        status = {
            "success": lambda: all(n["result"] == "success" for n in needs.values()),
            "failure": lambda: any(n["result"] == "failure" for n in needs.values()),
            "always": lambda: True, "cancelled": lambda: False,
        }
        if not condition(job.get("if"), contexts, status):
            run.legs.append(Leg(job_id, {}, result="skipped"))
            return
        strategy = job.get("strategy") or {}
        matrix = interpolate(strategy.get("matrix") or {}, contexts)
        for key, values in matrix.items():
            assert isinstance(values, list) and values, (
                f"{job_id}: the matrix's {key} is {values!r}; GitHub fails a run on an empty "
                "or missing matrix vector")
        legs = [dict(zip(matrix, combo, strict=True)) for combo in product(*matrix.values())]
        for values in legs or [{}]:
            leg = Leg(job_id, values, max_parallel=interpolate(strategy.get("max-parallel"),
                                                               contexts))
            run.legs.append(leg)
            self._leg(run, leg, job, {**contexts, "matrix": values}, fork, checkout, approve)

    def _leg(self, run: WorkflowRun, leg: Leg, job: dict[str, Any], contexts: dict[str, Any],
             fork: bool, checkout: Path, approve: Callable[[str, Leg], bool]) -> None:
        environment = interpolate(job.get("environment"), contexts)
        leg.environment = environment.get("name") if isinstance(environment, dict) else environment
        concurrency = interpolate(job.get("concurrency"), contexts)
        leg.concurrency = concurrency.get("group") if isinstance(concurrency, dict) else concurrency
        if leg.environment and not approve(leg.environment, leg):
            leg.result = "failure"
            return
        workspace = self.work / f"run-{run.id}" / f"{leg.job}-{len(run.legs)}"
        shutil.copytree(checkout, workspace)
        files = workspace.parent / f"{workspace.name}.files"
        files.mkdir()
        permissions = job.get("permissions", self.workflow.get("permissions", {}))
        token = self.github.issue_token(run, permissions, fork=fork)
        contexts["github"] = {**contexts["github"], "token": token}
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        base_env.update({
            "BASH_ENV": str(self._shims), "CI": "true",
            "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": self.github.repository,
            "GITHUB_SHA": contexts["github"]["sha"], "GITHUB_REF": contexts["github"]["ref"],
            "GITHUB_EVENT_NAME": contexts["github"]["event_name"],
            "GITHUB_RUN_ID": str(run.id), "GITHUB_WORKFLOW": run.workflow,
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(files),
        })
        env: dict[str, str] = {}
        for scope in (self.workflow.get("env") or {}, job.get("env") or {}):
            env.update({k: to_text(v) for k, v in interpolate(scope, {**contexts,
                                                                       "env": env}).items()})
        steps_context: dict[str, Any] = {}
        failed = [False]  # (read by the status functions of every step's if:)
        status = {"success": lambda: not failed[0], "failure": lambda: failed[0],
                  "always": lambda: True, "cancelled": lambda: False}
        shell = ((self.workflow.get("defaults") or {}).get("run") or {}).get("shell")
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {index}"
            step_contexts = {**contexts, "env": env, "steps": steps_context}
            if not condition(step.get("if"), step_contexts, status):
                leg.steps.append(Step(name, "skipped"))
                if "id" in step:
                    steps_context[step["id"]] = {"outputs": {}, "outcome": "skipped",
                                                 "conclusion": "skipped"}
                continue
            step_env = {**env, **{k: to_text(v) for k, v in
                                  interpolate(step.get("env") or {}, step_contexts).items()}}
            outputs: dict[str, str] = {}
            if "uses" in step:
                ok, log = self._action(run, leg, step["uses"],
                                       interpolate(step.get("with") or {}, step_contexts),
                                       workspace, token, contexts)
            else:
                ok, log, outputs, added_env, summary = self._bash(
                    leg, interpolate(step["run"], step_contexts), step.get("shell", shell),
                    {**base_env, **step_env}, workspace, files)
                env.update(added_env)
                leg.summary += summary
            leg.steps.append(Step(name, "success" if ok else "failure", log))
            if "id" in step:
                outcome = "success" if ok else "failure"
                steps_context[step["id"]] = {"outputs": outputs, "outcome": outcome,
                                             "conclusion": outcome}
            failed[0] = failed[0] or not ok
        leg.result = "failure" if failed[0] else "success"
        leg.outputs = {k: to_text(v) for k, v in interpolate(
            job.get("outputs") or {}, {**contexts, "steps": steps_context}).items()}

    # -- run: steps -------------------------------------------------------------------------

    def _bash(self, leg: Leg, script: str, shell: str | None, env: dict[str, str],
              workspace: Path, files: Path,
              ) -> tuple[bool, str, dict[str, str], dict[str, str], str]:
        paths = {name: files / name for name in ("output", "env", "summary")}
        for path in paths.values():
            path.write_text("")
        simple = _SIMPLE.fullmatch(script.strip())
        if simple is not None:  # one plain command of a shim: what bash would do, without it
            env = {**env, "GITHUB_OUTPUT": str(paths["output"]),
                   "GITHUB_ENV": str(paths["env"]), "GITHUB_STEP_SUMMARY": str(paths["summary"])}
            code, out, err = self._dispatch(leg, script.split(), workspace, env)
            return code == 0, out + err, {}, {}, ""
        script_file = files / "step.sh"
        script_file.write_text(script)
        env = {**env, "GITHUB_OUTPUT": str(paths["output"]), "GITHUB_ENV": str(paths["env"]),
               "GITHUB_STEP_SUMMARY": str(paths["summary"])}
        process = subprocess.Popen([*SHELLS[shell], str(script_file)], cwd=workspace, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = self._serve_until_done(process, leg)
        return (process.wait() == 0, log, _key_values(paths["output"].read_text()),
                _key_values(paths["env"].read_text()), paths["summary"].read_text())

    def _serve_until_done(self, process: subprocess.Popen[bytes], leg: Leg) -> str:
        """The step's output, answering its shims' requests in this thread meanwhile."""
        assert process.stdout is not None
        log = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(self._server, selectors.EVENT_READ)
            selector.register(process.stdout, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._server:
                        connection, _ = self._server.accept()
                        with connection:
                            self._answer(connection, leg)
                    else:
                        chunk = os.read(process.stdout.fileno(), 65536)
                        if not chunk:
                            process.stdout.close()
                            return log.decode("utf-8", "replace")
                        log.extend(chunk)

    def _answer(self, connection: socket.socket, leg: Leg) -> None:
        connection.setblocking(True)
        fields = _Fields(connection)
        tool, cwd = fields.next(), Path(fields.next())
        argv = [fields.next() for _ in range(int(fields.next()))]
        env = dict(fields.next().split("=", 1) for _ in range(int(fields.next())))
        code, out, err = self._dispatch(leg, [tool, *argv], cwd, env)
        connection.sendall(b"".join(f"{v}".replace("\0", "").encode() + b"\0"
                                    for v in (code, out, err)))

    def _dispatch(self, leg: Leg, argv: list[str], cwd: Path, env: Mapping[str, str],
                  ) -> tuple[int, str, str]:
        leg.commands.append(argv)
        tool, rest = argv[0], argv[1:]
        if tool == "reconciler":
            return self._reconciler(rest, cwd, env)
        if tool == "gh":
            return self.github.gh(rest, cwd, env)
        return self._pip(rest, cwd)

    def _reconciler(self, argv: list[str], cwd: Path, env: Mapping[str, str],
                    ) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with _environment(env, cwd), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            code = main(argv, clock=self.clock)
        return code, out.getvalue(), err.getvalue()

    def _pip(self, argv: list[str], cwd: Path) -> tuple[int, str, str]:
        """``pip install -r FILE``: the file pins hubspot-reconciler to one commit."""
        self.installs.append(argv)
        if argv[:2] != ["install", "-r"] or len(argv) != 3:
            return 1, "", f"fake pip: only `pip install -r FILE` is expected, not {argv}\n"
        lines = [line.split("#")[0].strip() for line in (cwd / argv[2]).read_text().splitlines()]
        pins = [line for line in lines if line]
        if len(pins) != 1 or not re.fullmatch(
            r"hubspot-reconciler @ git\+https://\S+@[0-9a-f]{40}", pins[0]
        ):
            return 1, "", f"fake pip: {argv[2]} does not pin one commit: {pins}\n"
        return 0, f"Successfully installed {pins[0]}\n", ""

    # -- uses: steps ------------------------------------------------------------------------

    def _action(self, run: WorkflowRun, leg: Leg, uses: str, inputs: Mapping[str, Any],
                workspace: Path, token: str, contexts: Mapping[str, Any]) -> tuple[bool, str]:
        name = uses.split("@")[0]
        if name in ("actions/checkout", "actions/setup-python"):
            return True, ""  # a fresh checkout is there already; Python is this one
        if name == "actions/upload-artifact":
            return run.upload(str(inputs["name"]), workspace, str(inputs["path"]),
                              str(inputs.get("if-no-files-found", "warn")))
        if name == "actions/download-artifact":
            source = self.github.run(int(inputs["run-id"])) if inputs.get("run-id") else run
            return source.download(str(inputs["name"]), workspace / str(inputs.get("path", ".")))
        if name == "marocchino/sticky-pull-request-comment":
            event = contexts["github"]["event"]
            number = inputs.get("number") or (event.get("pull_request") or {}).get("number")
            if not permitted(self.github.tokens[token], "pull-requests", "write"):
                return False, "Resource not accessible by integration (pull-requests: write)\n"
            text = (workspace / str(inputs["path"])).read_text() if inputs.get("path") \
                else str(inputs.get("message", ""))
            self.github.pulls[int(number)].comments[str(inputs.get("header", ""))] = text
            return True, ""
        raise AssertionError(f"the runner does not know the action {uses}")


@contextlib.contextmanager
def _environment(env: Mapping[str, str], cwd: Path) -> Iterator[None]:
    """The environment and working folder the shim's process had, while the CLI runs."""
    saved, where = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(where)
        os.environ.clear()
        os.environ.update(saved)


class _Fields:
    """NUL-terminated fields read from a connection the client cannot half-close."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.buffer = b""

    def next(self) -> str:
        while b"\0" not in self.buffer:
            chunk = self.connection.recv(65536)
            assert chunk, "the shim hung up"
            self.buffer += chunk
        field, self.buffer = self.buffer.split(b"\0", 1)
        return field.decode("utf-8", "surrogateescape")


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _key_values(text: str) -> dict[str, str]:
    """``GITHUB_OUTPUT``/``GITHUB_ENV``: ``name=value`` lines and ``name<<EOF`` blocks."""
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, marker = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == marker:
                    break
                body.append(inner)
            found[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found
