"""The run of ``plan`` and ``apply`` over its targets: one (the usual run) or several
(``--target a --target b``, ``--all-targets``), by one path.

The caller's thread loads every target first (``load_target``: the spec as the target
takes it, one at a time, since loading is CPU-bound); for apply it then takes each
target's state lock, held until every target is done. Then each target runs
``runs.plan_target`` / ``runs.apply_target``: a single target in the caller's thread, several
side by side in threads of their own, each with its own client (and so its own rate
limiter and connection pool) and its own state. One target failing never stops the
others: its error is kept with its name (a single target's is raised by ``unwrap``).

An apply asks once: every target plans, then waits at its confirmation until all have
planned (or failed); the caller is shown the plans together and answers once for all.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, TypeVar

from reconciler.errors import ConfigError, ReconcilerError
from reconciler.planning.changes import Plan
from reconciler.workflow.options import LoadedTarget, RunOptions, load_target
from reconciler.workflow.runs import (
    ApplyOutcome,
    PlanOutcome,
    ProgressFactory,
    apply_target,
    plan_target,
)

Outcome = TypeVar("Outcome", PlanOutcome, ApplyOutcome)


@dataclass(frozen=True, slots=True)
class TargetResult(Generic[Outcome]):
    """What one target's run came to: an outcome, or the error that stopped it."""

    name: str
    outcome: Outcome | None
    #: a ReconcilerError (the user can act on it), or anything else (a bug)
    error: Exception | None = None

    def unwrap(self) -> Outcome:
        """The outcome; the error that stopped the target is raised."""
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


def plan_targets(runs: Sequence[RunOptions]) -> list[TargetResult[PlanOutcome]]:
    """``plan_target`` for each target; results in the order given."""
    results: dict[int, TargetResult[PlanOutcome]] = {}
    loaded = _load_each(runs, results)

    def one(index: int) -> None:
        name = _name(runs[index])
        try:
            results[index] = TargetResult(name, plan_target(loaded[index], runs[index]))
        except Exception as error:  # noqa: BLE001 - kept with the target, rendered by the caller
            results[index] = TargetResult(name, None, error)

    if len(runs) == 1:  # one target: in the caller's thread
        if loaded:
            one(0)
    else:
        _join(_start({index: partial(one, index) for index in loaded}, "plan", runs))
    return [results[i] for i in range(len(runs))]


class _Gate:
    """Where every target's apply waits for the one answer."""

    def __init__(self, names: Sequence[str]) -> None:
        self._condition = threading.Condition()
        self._pending = set(names)
        self.plans: dict[str, Plan] = {}
        self._answer: bool | None = None

    def ask(self, name: str, the_plan: Plan) -> bool:
        with self._condition:
            self.plans[name] = the_plan
            self._pending.discard(name)
            self._condition.notify_all()
            while self._answer is None:
                self._condition.wait()
            return self._answer

    def leave(self, name: str) -> None:
        with self._condition:
            self._pending.discard(name)
            self._condition.notify_all()

    def wait_for_all(self) -> None:
        with self._condition:
            while self._pending:
                self._condition.wait(timeout=0.2)  # short: Ctrl-C reaches the main thread

    def answer(self, yes: bool) -> None:
        with self._condition:
            if self._answer is None:
                self._answer = yes
            self._condition.notify_all()


def apply_targets(
    runs: Sequence[RunOptions],
    *,
    confirm: Callable[[Sequence[tuple[str, Plan]]], bool],
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
    saved_plan: Path | None = None,
    check_only: bool = False,
) -> list[TargetResult[ApplyOutcome]]:
    """``apply_target`` for each target, with one ``confirm`` for every plan that has
    changes (called in the caller's thread, so it may prompt). ``saved_plan``: apply this
    plan instead of making one (a run over one target); ``check_only``: only check that it
    still holds."""
    if saved_plan is not None and any(options.only for options in runs):
        raise ConfigError(
            "--only limits the plan apply makes; a saved plan is applied as it is. Make the "
            "plan with --only (`reconciler plan --only ADDRESS --out FILE`) instead"
        )
    names = [_name(options) for options in runs]
    results: dict[int, TargetResult[ApplyOutcome]] = {}
    loaded = _load_each(runs, results)

    def one(index: int, ask: Callable[[Plan], bool]) -> None:
        try:
            outcome = apply_target(loaded[index], runs[index], confirm=ask, progress=progress,
                                   stop=stop, saved_plan=saved_plan, check_only=check_only)
            results[index] = TargetResult(names[index], outcome)
        except Exception as error:  # noqa: BLE001 - kept with the target
            results[index] = TargetResult(names[index], None, error)

    with ExitStack() as locks:
        startable = _lock_states(loaded, locks, results, names)
        if len(runs) == 1:  # one target: its run asks the caller's question itself
            if startable:
                one(0, lambda the_plan: confirm([(names[0], the_plan)]))
            return [results[0]]
        gate = _Gate(names)

        def one_of_many(index: int) -> None:
            try:
                one(index, partial(gate.ask, names[index]))
            finally:
                gate.leave(names[index])

        for index in range(len(runs)):
            if index not in startable:
                gate.leave(names[index])
        threads = _start({index: partial(one_of_many, index) for index in sorted(startable)},
                         "apply", runs)
        try:
            gate.wait_for_all()
            asked = [(name, gate.plans[name]) for name in names if name in gate.plans]
            gate.answer(confirm(asked) if asked else False)
        finally:
            gate.answer(False)  # an interrupted question: nobody applies
            _join(threads)
    return [results[i] for i in range(len(runs))]


def _name(options: RunOptions) -> str:
    return options.target_name or options.project.default_target


def _load_each(
    runs: Sequence[RunOptions], results: dict[int, TargetResult[Outcome]]
) -> dict[int, LoadedTarget]:
    """Each target loaded, by index; those that could not be get their error now."""
    loaded: dict[int, LoadedTarget] = {}
    for index, options in enumerate(runs):
        try:
            loaded[index] = load_target(options)
        except Exception as error:  # noqa: BLE001 - kept with the target
            results[index] = TargetResult(_name(options), None, error)
    return loaded


def _lock_states(
    loaded: dict[int, LoadedTarget], locks: ExitStack,
    results: dict[int, TargetResult[ApplyOutcome]], names: Sequence[str],
) -> set[int]:
    """Take each loaded target's state lock (once per state file); the targets that could
    not be locked get their error now. Returns the indexes of those that may start."""
    held: dict[Path, ReconcilerError | None] = {}
    startable: set[int] = set()
    for index, target in sorted(loaded.items()):
        try:
            path = target.store.real_path  # the lock is per state file (state/lock.py)
            if path not in held:
                try:
                    locks.enter_context(target.store.locked(command="apply"))
                    held[path] = None
                except ReconcilerError as error:
                    held[path] = error
            failure = held[path]
            if failure is not None:
                raise failure
        except Exception as error:  # noqa: BLE001 - kept with the target
            results[index] = TargetResult(names[index], None, error)
            continue
        startable.add(index)
    return startable


def _start(
    jobs: dict[int, Callable[[], None]], verb: str, runs: Sequence[RunOptions]
) -> list[threading.Thread]:
    """A thread for each job, started (which leaves Ctrl-C to the caller's thread)."""

    def run(job: Callable[[], None]) -> None:
        _leave_signals_to_the_main_thread()
        job()

    threads = [
        threading.Thread(target=run, args=(job,), name=f"{verb}-{_name(runs[index])}",
                         daemon=True)
        for index, job in jobs.items()
    ]
    for thread in threads:
        thread.start()
    return threads


def _leave_signals_to_the_main_thread() -> None:
    """Block Ctrl-C (SIGINT) in a worker thread. The kernel gives a process signal to any
    thread that does not block it; Python runs its handler only in the main thread, so one
    taken by a worker would wait until the main thread next runs Python code, which, at the
    confirmation prompt, blocked in a read, is never."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _join(threads: Sequence[threading.Thread]) -> None:
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)  # short: Ctrl-C reaches the main thread


def worst_exit_code(codes: Sequence[int]) -> int:
    """The exit code of a run over several targets: a bug (3) > an error (1) >
    interrupted (130) > changes (2, plan --detailed-exitcode) > nothing (0)."""
    rank = {3: 5, 1: 4, 130: 3, 2: 2, 0: 1}
    return max(codes, key=lambda code: rank.get(code, 4), default=0)
