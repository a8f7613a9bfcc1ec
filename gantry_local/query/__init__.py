"""Gantry's query module: ``import gantry_local.query as gquery``.

`query` returns a `GantryDataFrame` over the default workspace (see `gantry_local.init`).
The module is also callable, so ``gantry_local.query(application, ...)`` keeps returning
a `Query` over all records, as before this module existed.
"""

from __future__ import annotations

import sys as _sys

from . import distance, metric
from ._frame import Filters, GantryDataFrame, GantrySeries
from ._functions import (
    CallableModule as _CallableModule,
)
from ._functions import (
    create_view,
    init,
    list_application_batches,
    list_application_environments,
    list_application_versions,
    list_application_views,
    list_applications,
    print_application_info,
    query,
)
from .time_window import RelativeTimeWindow, TimeWindow

__all__ = [
    "Filters",
    "GantryDataFrame",
    "GantrySeries",
    "RelativeTimeWindow",
    "TimeWindow",
    "create_view",
    "distance",
    "init",
    "list_application_batches",
    "list_application_environments",
    "list_application_versions",
    "list_application_views",
    "list_applications",
    "metric",
    "print_application_info",
    "query",
]

_sys.modules[__name__].__class__ = _CallableModule  # ``gantry_local.query(...)`` still works
