"""`CuratorInfo`: a stored curator's facts, as Gantry 0.6's ``models.CuratorInfo``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from .selectors import Selector

__all__ = ["CuratorInfo"]


@dataclass(frozen=True)
class CuratorInfo:
    """What Gantry's server returned for a curator (`Curator.from_curator_info` takes it)."""

    id: uuid.UUID
    application_name: str
    name: str
    curated_dataset_name: str
    start_on: datetime | None
    curation_interval: timedelta
    curation_delay: timedelta
    curate_past_intervals: bool
    created_at: datetime
    selectors: list[Selector]

    def dict(self, shallow: bool = False) -> dict[str, Any]:
        """The fields as a dict (selectors as dicts unless `shallow`)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if not shallow:
            out["selectors"] = [s.dict() for s in self.selectors]
        return out
