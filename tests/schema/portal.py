"""What the schema tests against the emulator share: the project, the spec (a custom
property, a second deal pipeline, a label, and records using them by key), a client on a
portal to see what it holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings

PROJECT = "name: demo\nid: demo-1\ntimezone: Europe/Berlin\n"

SPEC = """\
schema:
  groups:
    companies:
      demo_info: {label: Demo info}
  properties:
    companies:
      demo_segment:
        label: Demo segment
        type: enumeration
        group: demo_info
        options:
          - {value: smb, label: SMB}
          - {value: ent, label: Enterprise}
  pipelines:
    deals:
      emea:
        label: EMEA Sales
        stages:
          discovery: {label: Discovery, probability: 0.2}
          won: {label: Won, probability: 1.0}
          lost: {label: Lost, probability: 0.0}
    tickets:
      escalations:
        label: Escalations
        stages:
          open: {label: Open, state: open}
          closed: {label: Closed, state: closed}
  labels:
    champion: {between: contacts/companies, label: Champion, inverse: Championed by}
companies:
  acme: {name: Acme, domain: acme.example, properties: {demo_segment: ent}}
deals:
  big:
    name: Big deal
    pipeline: emea
    stage: discovery
    amount: 1000
objects:
  tickets:
    outage: {properties: {subject: Outage, hs_pipeline: escalations, hs_pipeline_stage: open}}
contacts:
  jane:
    email: jane@acme.example
    associations: [{company: acme, label: champion}]
"""


def portal_client(emulator: Emulator) -> HubSpotClient:
    return HubSpotClient(ClientSettings(base_url=emulator.base_url, token=emulator.token,
                                        requests_per_10s=None, search_per_second=None))


def state_of(project: Path, target: str = "local") -> dict[str, Any]:
    state: dict[str, Any] = json.loads(
        (project / f".reconciler/state/{target}.json").read_text())
    return state
