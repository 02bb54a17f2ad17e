"""The catalogue as it will be once apply has made the planned schema: a record that uses
a property, option, pipeline, stage or label created in the same plan passes the checks,
exactly as it will pass HubSpot's once the schema phase has run (design-20 §3.1)."""

from __future__ import annotations

from reconciler.loading.schema_references import PIPELINE_PROPERTIES
from reconciler.model import DesiredSchema
from reconciler.planning.catalogue.definitions import Catalogue, PropertyInfo
from reconciler.planning.schema_changes import label_placeholder
from reconciler.planning.schema_planner import SchemaPlan


def overlaid(catalogue: Catalogue, schema: DesiredSchema, planned: SchemaPlan) -> Catalogue:
    """``catalogue`` plus the spec's properties (their options as they will be), its
    pipelines' and stages' ids (or placeholders) as options of the pipeline properties,
    and the labels still to be made."""
    if schema.empty:
        return catalogue
    properties = {t: dict(by_name) for t, by_name in catalogue.properties.items()}
    for address, prop in schema.properties.items():
        if prop.object_type not in properties:
            continue  # the type was not read (or is unknown): nothing is checked there
        properties[prop.object_type][prop.name] = PropertyInfo(
            name=prop.name, type=prop.type, field_type=prop.field_type,
            options=planned.options.get(address, ()),
        )
    for address, spec in schema.pipelines.items():
        by_name = properties.get(spec.object_type)
        if by_name is None:
            continue
        pipeline_prop, stage_prop = PIPELINE_PROPERTIES[spec.object_type]
        _add_option(by_name, pipeline_prop, planned.pipelines.get(address), spec.label)
        for stage in spec.stages:
            _add_option(by_name, stage_prop, planned.stages.get(f"{address}/{stage.key}"),
                        stage.label)
    labels = dict(catalogue.labels)
    for key, target in planned.labels.items():
        for pair, type_id in (((target.from_type, target.to_type), target.type_id),
                              ((target.to_type, target.from_type), target.inverse_type_id)):
            if type_id is None and pair in labels:
                labels[pair] = (*labels[pair], label_placeholder(key))
    return Catalogue(properties=properties, owner_ids=catalogue.owner_ids, labels=labels,
                     unknown_types=catalogue.unknown_types)


def _add_option(by_name: dict[str, PropertyInfo], name: str, value: str | None,
                label: str) -> None:
    info = by_name.get(name)
    if info is None or value is None or not info.options:
        return  # no options listed: the value is not checked against them anyway
    if all(existing != value for existing, _label in info.options):
        by_name[name] = PropertyInfo(
            name=info.name, type=info.type, field_type=info.field_type,
            options=(*info.options, (value, label)), read_only=info.read_only,
            calculated=info.calculated, owner=info.owner,
            external_options=info.external_options,
        )
