"""Automations: the room that acts on what the others measure.

Import paths follow Gantry's: ``gantry_local.automations.curators`` (curators, with their
``.selectors``), ``.triggers`` (interval, aggregation, queries-aggregation and dataset-version
triggers), ``.actions`` (Slack messages and webhooks), ``.automations`` (`Automation` and the
one registry of automations of every kind) and ``.scheduler`` (with the background loop).
Stored alerts are Gantry's ``gantry_local.alerts`` module; ``gantry_local.monitoring.alerts``
measures and records them. This package exports nothing itself.
"""

__all__: list[str] = []
