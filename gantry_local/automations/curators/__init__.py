"""Curators (Gantry 0.6's ``gantry.automations.curators``): SQL sampling of each interval of
production data into a versioned dataset; selectors in ``.selectors``."""

from .curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    CurationResult,
    Curator,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    ProportionalStratificationCurator,
    StrictStratificationCurator,
    UniformCurator,
    get_curator,
    list_curators,
)

__all__ = [
    "AscendedSortCurator",
    "BalancedStratificationCurator",
    "BoundedRangeCurator",
    "CurationResult",
    "Curator",
    "DescendedSortCurator",
    "EqualityCurator",
    "NewestCurator",
    "OldestCurator",
    "ProportionalStratificationCurator",
    "StrictStratificationCurator",
    "UniformCurator",
    "get_curator",
    "list_curators",
]
