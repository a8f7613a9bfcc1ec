"""Automations: the room that acts on what the others measure.

Import paths follow Gantry's: ``gantry_local.automations.curators`` (curators, with their
``.selectors``), ``.triggers`` (interval, aggregation and dataset-version triggers),
``.actions`` (webhooks, Slack), ``.automations`` (`Automation` and the one registry of
automations of every kind) and ``.scheduler``. What an alert measures and stores is
monitoring's (``gantry_local.monitoring.alerts``). This package exports nothing itself.
"""

__all__: list[str] = []
