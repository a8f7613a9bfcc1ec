"""Automations: the room that acts on what the others measure.

Import paths follow Gantry's: ``gantry_local.automations.curators`` (curators, with their
``.selectors``), ``.triggers`` (interval and dataset-version triggers), ``.automations``
(`Automation` and the one registry of automations of every kind) and ``.scheduler``.
Aggregation triggers and the actions of alerts (webhooks, Slack) live beside the alerts
they fire, in ``gantry_local.monitoring.alerts``. This package exports nothing itself.
"""

__all__: list[str] = []
