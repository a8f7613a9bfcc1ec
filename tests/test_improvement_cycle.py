"""Issue 15's scenario on real data (examples/improvement_cycle.py, run small): late labels,
a mid-month shift, curation that waits for labels, a leak-free split, v2 trained on the
curated train part, evaluate() agreeing with scikit-learn, and a CI gate that fails a
broken v2 whose version string is reused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "improvement_cycle.py"


def _example() -> object:
    spec = importlib.util.spec_from_file_location("improvement_cycle", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_improvement_cycle_has_no_silent_traps(tmp_path: Path) -> None:
    lines: list[str] = []
    figures = _example().run(tmp_path, days=21, per_day=40, out=lines.append)  # type: ignore[attr-defined]
    assert figures["drifted"], lines  # the shift is noticed
    assert figures["accuracy_after"] < figures["accuracy_before"] - 0.1, lines
    assert figures["versions"] == 21  # every day curated once, after its labels arrived
    assert figures["labelled"] >= 0.9 * 21 * 40, lines  # the curator waited for labels
    assert figures["shared_images"] == 0  # no image on both sides of the split
    assert figures["evaluate_v2_accuracy"] == pytest.approx(figures["direct_v2_accuracy"])
    assert figures["test_v2"] > figures["test_v1"] + 0.03, lines  # a real improvement ...
    assert figures["verdict"] == "improved"  # ... and evaluate() says so
    assert figures["gate_passed"] is False  # the broken v2 cannot hide behind the cache
