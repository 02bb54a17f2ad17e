"""`render`: the project's records, generators expanded, as plain spec YAML; `render
--stats`: the timeline they make, at a glance."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.base import cli
from reconciler.cli.options import read_project, run_options, target_options
from reconciler.errors import ConfigError


@cli.command()
@target_options
@click.option(
    "--out", "out", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Write a project folder here (outside the project); default: print one spec to stdout.",
)
@click.option(
    "--stats", "stats", is_flag=True,
    help="Print the timeline instead: records per type, owner and week, weekday and hour, "
         "overlaps of one owner's meetings and calls.",
)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "markdown", "json"]),
    default=None, help="With --stats: text (default), markdown (for a pull request) or json.",
)
def render(
    project_dir: Path, target_name: str | None, state_path: Path | None, base_url: str | None,
    out: Path | None, stats: bool, output_format: str | None,
) -> int:
    """Write every record of the project, generators expanded, as plain spec YAML.

    Values are the ones the target's state pinned where a state exists, so the rendered
    folder validates and plans exactly like the generators. --var and --target choose the
    variables, as for plan. The folder given to --out must be outside the project (it
    would be loaded as spec) and empty, or an earlier render.

    --stats prints the timeline a plan would write instead (nothing is sent): records per
    type, per owner and per ISO week with a bar chart, weekday and hour, deals by
    outcome, and overlaps of one owner's meetings and calls.

    \b
    Example:
      reconciler render --project examples --out /tmp/demo-rendered
      reconciler render --var accounts=10 > records.yaml
      reconciler render --stats --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from reconciler.generate.render import Pinned, render_files, render_header
    from reconciler.generate.scheduling import settle
    from reconciler.workflow.options import load_target

    if output_format is not None and not stats:
        raise ConfigError("--format goes with --stats (render writes spec YAML otherwise)")
    if stats and out is not None:
        raise ConfigError("--stats prints the timeline; leave out --out")

    options = run_options(read_project(project_dir), target_name, state_path, base_url)
    loaded = load_target(options)
    target, store = loaded.target, loaded.store
    state = store.load()
    desired = settle(loaded.desired, state)  # activities placed around the applied ones
    pins = {
        address: Pinned({k: (p.expr, p.value) for k, p in recorded.pinned.items()})
        for address, recorded in state.records.items() if recorded.pinned
    }
    if stats:
        from reconciler.generate import stats as timeline

        found = timeline.timeline(desired, pins, target.name)
        renderer = {"markdown": timeline.render_markdown, "json": timeline.render_json}.get(
            output_format or "text", timeline.render_text
        )
        click.echo(renderer(found), nl=False)
        return 0
    header = render_header(desired.project, target.name, options.variables)
    if out is None:
        click.echo(render_files(desired, pins, header, one_file=True).get("", header), nl=False)
        return 0
    files = render_files(desired, pins, header)
    _write(Path(project_dir), out, files, desired.project.source_file, desired.project.name)
    click.echo(f"Rendered {len(desired.records)} records in {len(files)} files to {out}.")
    return 0


_MARKER = ".rendered-by-reconciler"


def _write(project: Path, out: Path, files: dict[str, str], project_file: str | None,
           name: str) -> None:
    from reconciler.generate.render import shown_text

    if out.resolve().is_relative_to(project.resolve()):
        raise ConfigError(
            f"--out {out} is inside the project {project}: its files would be loaded as spec; "
            "give a folder outside the project"
        )
    if out.exists() and any(out.iterdir()) and not (out / _MARKER).exists():
        raise ConfigError(f"--out {out} is not empty; give an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.rglob("*.yaml"):
        old.unlink()
    settings = Path(project_file).read_text("utf-8") if project_file else ""
    if "\nname:" not in "\n" + settings:  # the folder's name, which may hold anything
        settings += f"\nname: {shown_text(name)}\n"
    (out / "reconciler.yaml").write_text(settings, "utf-8")
    for relative, text in files.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    (out / _MARKER).write_text("Written by `reconciler render`; a new render replaces it.\n")
