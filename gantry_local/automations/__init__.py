"""Curation: curators (SQL sampling of intervals into datasets) and their selectors.

Import paths follow Gantry's: ``gantry_local.automations.curators``. Triggers,
automations and the scheduler are still to come (issue 4 is open).
"""
