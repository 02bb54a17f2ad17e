"""`doctor`: will apply work on this portal? One line per finding, before anything is written."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.base import EXIT_ERROR, cli
from reconciler.cli.options import read_project, run_options, target_options
from reconciler.cli.terminal import colour
from reconciler.workflow.doctor import DoctorReport, diagnose

_COLOURS = {"ok": "green", "warn": "yellow", "fail": "red"}


@cli.command()
@target_options
def doctor(project_dir: Path, target_name: str | None, state_path: Path | None,
           base_url: str | None) -> int:
    """Check that apply can work on the target's portal, writing nothing: the token and
    its portal, its scopes, the marker properties, the spec's owners, and today's API
    budget. Exits 1 with one line per problem and what to do about it.

    \b
    Examples:
      reconciler doctor
      reconciler doctor --target sandbox
    """
    options = run_options(read_project(project_dir), target_name, state_path, base_url)
    report = diagnose(options)
    echo_report(report)
    return EXIT_ERROR if report.problems else 0


def echo_report(report: DoctorReport) -> None:
    for finding in report.findings:
        mark = f"{finding.level:<4}"
        if colour():
            mark = click.style(mark, fg=_COLOURS[finding.level])
        click.echo(f"{mark}  {finding.topic}: {finding.message}")
    where = f"target {report.target.name}" + (
        f" (portal {report.portal_id})" if report.portal_id is not None else ""
    )
    count = len(report.problems)
    if count:
        click.echo(f"\n{count} problem(s) to fix before apply can work on {where}.")
    else:
        click.echo(f"\nAll clear: apply can work on {where}.")
