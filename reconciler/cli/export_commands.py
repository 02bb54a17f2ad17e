"""`export`: copy a golden portal's activities (and what they hang on) into spec files."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from reconciler.cli.base import cli
from reconciler.cli.options import find_project, once, read_project, run_options


@cli.command()
@click.option(
    # (readable=False: an unreadable folder is the loader's to report, as for every command)
    "--project", "-p", "project_dir",
    type=click.Path(path_type=Path, file_okay=False, readable=False),
    multiple=True, callback=once(find_project), metavar="DIR",
    help="The project whose target is read (settings only; its spec is not loaded).",
)
@click.option(
    "--target", "-t", "target_name", multiple=True, callback=once(), metavar="NAME",
    help="The portal to export, a target of reconciler.yaml (default: the project's "
    "default_target, `local`).",
)
@click.option(
    "--base-url", envvar="HUBSPOT_BASE_URL",
    help="Use this server instead of the target's (for `local`: start no emulator). "
    "Also HUBSPOT_BASE_URL.",
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, metavar="DIR",
    help="Write the spec folder here: outside the project, and empty (or --force).",
)
@click.option("--types", "types", metavar="TYPES",
              help="Which types, comma-separated: meetings, calls, notes, tasks, emails (the "
              "default: all five, with the records they hang on), and contacts, companies, "
              "deals, tickets (every record of the type).")
@click.option("--since", "since", metavar="TIME",
              help="Only activities whose hs_timestamp (a meeting's start, a task's due "
              "date) is at or after TIME: 2026-11-01, an ISO time, or -30d.")
@click.option("--relative-to", "relative_to", metavar="TIME",
              help="Write times relative to this moment (`now`: the export's), like -3d 10:00, "
              "so a copy seeded next month is as recent as the original was.")
@click.option("--force", is_flag=True, help="Replace an earlier export in a non-empty --out.")
def export(project_dir: Path, target_name: str | None, base_url: str | None, out: Path,
           types: str | None, since: str | None, relative_to: str | None, force: bool) -> int:
    """Write spec YAML for the activities (meetings, calls, notes, tasks, emails) in the
    target's portal, and the contacts, companies, deals and tickets they are associated
    with (with --types, every record of the contacts, companies, deals or tickets named),
    with the schema they use.

    Keys are readable and unique (slugged from titles, names and emails), associations
    name local keys, times are ISO 8601 in the project's timezone, owners are emails where
    the owners API knows them. Apply the folder to another target to seed a copy there.
    sources.json beside the files holds each key's HubSpot id in this portal, so
    `reconciler import ADDRESS ID` can adopt an original instead of copying it.

    \b
    Examples:
      reconciler export --target golden --out ../seed-copy
      reconciler export --types meetings --since -30d --out /tmp/recent-meetings
      reconciler export --types companies,deals,meetings --relative-to now --out ../seed
    """
    from reconciler.export import ExportRequest, export_portal, parse_types

    kinds = parse_types(types)  # (the flags first, then reconciler.yaml)
    request = ExportRequest(
        options=run_options(read_project(project_dir), target_name, None, base_url),
        out=out, types=kinds, since=since, force=force, relative_to=relative_to,
    )
    outcome = export_portal(request)
    for note in outcome.notes:
        click.secho(f"Note: {note}", fg="yellow", err=True)
    from reconciler.export.reading import EXPORT_TYPES as order
    counts = ", ".join(
        f"{outcome.counts[t]} {t}" for t in order if outcome.counts.get(t)
    ) or "no records"
    click.echo(f"Exported {counts} from target {outcome.target.name} to {outcome.out}.")
    if outcome.dropped_associations:
        click.echo(f"Left out {outcome.dropped_associations} association(s) to records outside "
                   "the export.")
    click.echo(f"Validate it: reconciler validate {shlex.quote(str(outcome.out))}")
    if outcome.sources:
        address, hubspot_id = next(iter(sorted(outcome.sources.items())))
        folder = shlex.quote(str(outcome.out))
        first = "" if outcome.target.is_local else (
            f" (first add target {outcome.target.name} to {folder}/reconciler.yaml and run "
            f"`reconciler init --project {folder}`)"
        )
        click.echo(
            f"Each key's HubSpot id in this portal is in {folder}/sources.json. To manage an "
            f"original instead of a copy, adopt it by that id{first}, e.g.:\n"
            f"  reconciler import {address} {hubspot_id} --project {folder} "
            f"--target {outcome.target.name}"
        )
    return 0
