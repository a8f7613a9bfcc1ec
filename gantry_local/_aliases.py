"""Gantry's module paths for the modules that moved: ``gantry.applications.core``,
``gantry.applications.llm`` and ``gantry.applications.llm_utils`` are importable as
``gantry_local.applications.core`` (the `applications` module), ``...llm`` and
``...llm_utils``, so ``from gantry.applications.llm_utils import fill_prompt`` ports by
changing ``gantry`` to ``gantry_local``."""

from __future__ import annotations

import sys

from . import applications, llm, llm_utils

__all__: list[str] = []

for _name, _module in (("core", applications), ("llm", llm), ("llm_utils", llm_utils)):
    sys.modules.setdefault(f"{applications.__name__}.{_name}", _module)
    setattr(applications, _name, _module)
