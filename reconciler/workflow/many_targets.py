"""Several targets in one command (``--target a --target b``, ``--all-targets``).

Each target runs the single-target path (``workflow.run_plan`` / ``run_apply``) in a thread
of its own, with its own client (and so its own rate limiter and connection pool) and its
own state. One target failing never stops the others: its error is kept with its name.

An apply asks once: every target plans, then waits at its confirmation until all have
planned (or failed); the caller is shown the plans together and answers once for all.
Each target's state lock is taken by the caller's thread before anything starts and held
until every target is done (a target whose state is locked by another run fails alone).
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

from reconciler.errors import ReconcilerError
from reconciler.planning.changes import Plan
from reconciler.workflow.runs import (
    ApplyOutcome,
    PlanOutcome,
    RunOptions,
    run_apply,
    run_plan,
    store_for,
)

Outcome = TypeVar("Outcome", PlanOutcome, ApplyOutcome)


@dataclass(frozen=True, slots=True)
class TargetResult(Generic[Outcome]):
    """What one target's run came to: an outcome, or the error that stopped it."""

    name: str
    outcome: Outcome | None
    #: a ReconcilerError (the user can act on it), or anything else (a bug)
    error: Exception | None = None


def plan_targets(runs: Sequence[RunOptions]) -> list[TargetResult[PlanOutcome]]:
    """``run_plan`` for each target, side by side; results in the order given."""
    results: dict[int, TargetResult[PlanOutcome]] = {}

    def one(index: int, options: RunOptions) -> None:
        name = options.target_name or "?"
        _leave_signals_to_the_main_thread()
        try:
            results[index] = TargetResult(name, run_plan(options))
        except Exception as error:  # noqa: BLE001 - kept with the target, rendered by the caller
            results[index] = TargetResult(name, None, error)

    _run_all([partial(one, i, o) for i, o in enumerate(runs)])
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
    stop: threading.Event | None = None,
) -> list[TargetResult[ApplyOutcome]]:
    """``run_apply`` for each target, side by side, with one ``confirm`` for every plan
    that has changes (called in the caller's thread, so it may prompt)."""
    names = [options.target_name or "?" for options in runs]
    results: dict[int, TargetResult[ApplyOutcome]] = {}
    gate = _Gate(names)
    with ExitStack() as locks:
        startable = _lock_states(runs, locks, results)

        def one(index: int, options: RunOptions) -> None:
            name = names[index]
            _leave_signals_to_the_main_thread()
            try:
                outcome = run_apply(
                    options, confirm=lambda p: gate.ask(name, p), stop=stop, locked=True
                )
                results[index] = TargetResult(name, outcome)
            except Exception as error:  # noqa: BLE001 - kept with the target
                results[index] = TargetResult(name, None, error)
            finally:
                gate.leave(name)

        for index in range(len(runs)):
            if index not in startable:
                gate.leave(names[index])
        threads = [
            threading.Thread(target=one, args=(i, runs[i]), name=f"apply-{names[i]}", daemon=True)
            for i in sorted(startable)
        ]
        for thread in threads:
            thread.start()
        try:
            gate.wait_for_all()
            asked = [(name, gate.plans[name]) for name in names if name in gate.plans]
            gate.answer(confirm(asked) if asked else False)
        finally:
            gate.answer(False)  # an interrupted question: nobody applies
            _join(threads)
    return [results[i] for i in range(len(runs))]


def _lock_states(
    runs: Sequence[RunOptions], locks: ExitStack,
    results: dict[int, TargetResult[ApplyOutcome]],
) -> set[int]:
    """Take each target's state lock (once per state file); the targets that could not be
    locked (or not even resolved) get their error now. Returns the indexes of those that
    may start."""
    from reconciler.settings import resolve_target
    from reconciler.loading import load_project_settings

    held: dict[Path, Exception | None] = {}
    startable: set[int] = set()
    for index, options in enumerate(runs):
        name = options.target_name or "?"
        try:
            project = load_project_settings(options.project_dir)
            target = resolve_target(
                project, target_name=options.target_name, state_path=options.state_path,
                base_url=options.base_url, environ=options.environ,
            )
            store = store_for(project, target)
            path = store.real_path  # the lock is per state file (state_lock.py)
            if path not in held:
                try:
                    locks.enter_context(store.locked(command="apply"))
                    held[path] = None
                except ReconcilerError as error:
                    held[path] = error
            failure = held[path]
            if failure is not None:
                raise failure
        except Exception as error:  # noqa: BLE001 - kept with the target
            results[index] = TargetResult(name, None, error)
            continue
        startable.add(index)
    return startable


def _leave_signals_to_the_main_thread() -> None:
    """Block Ctrl-C (SIGINT) in a worker thread. The kernel gives a process signal to any
    thread that does not block it; Python runs its handler only in the main thread, so one
    taken by a worker would wait until the main thread next runs Python code, which, at the
    confirmation prompt, blocked in a read, is never."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _run_all(jobs: Sequence[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=job, daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    _join(threads)


def _join(threads: Sequence[threading.Thread]) -> None:
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)  # short: Ctrl-C reaches the main thread


def worst_exit_code(codes: Sequence[int]) -> int:
    """The exit code of a run over several targets: a bug (3) > an error (1) >
    interrupted (130) > changes (2, plan --detailed-exitcode) > nothing (0)."""
    rank = {3: 5, 1: 4, 130: 3, 2: 2, 0: 1}
    return max(codes, key=lambda code: rank.get(code, 4), default=0)
