"""Curators (Gantry 0.6's ``gantry.automations.curators``): each interval of production data
sampled in SQL into a new version of a dataset. Selectors are in ``.selectors``."""

from .curators import CurationResult, Curator
from .main import get_all_curators, get_curator, list_curators
from .models import CuratorInfo
from .stock_curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    ProportionalStratificationCurator,
    StrictStratificationCurator,
    UniformCurator,
)

__all__ = [
    "AscendedSortCurator",
    "BalancedStratificationCurator",
    "BoundedRangeCurator",
    "CurationResult",
    "Curator",
    "CuratorInfo",
    "DescendedSortCurator",
    "EqualityCurator",
    "NewestCurator",
    "OldestCurator",
    "ProportionalStratificationCurator",
    "StrictStratificationCurator",
    "UniformCurator",
    "get_all_curators",
    "get_curator",
    "list_curators",
]
