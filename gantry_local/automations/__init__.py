"""Automations: curators (SQL sampling of intervals into datasets) and their selectors,
triggers, the one registry of automations of every kind, and the scheduler.

Import paths follow Gantry's: ``gantry_local.automations.curators``, ``.triggers``,
``.automations``.
"""
