"""`gantry-local scheduler run` says a segment that stays pending once, not on every tick."""

import pytest

from gantry_local._cli_automations import _Printer
from gantry_local.records._ingest import IngestResult


def test_a_pending_segment_is_said_once_while_it_stays_pending(
        capsys: pytest.CaptureFixture[str]) -> None:
    printer = _Printer(scheduler=None)  # type: ignore[arg-type]  # ingested() never uses it
    held = IngestResult(deferred=[("w.1.0of2-1", "part 1 of 2 of a write still being made")])
    for _ in range(5):  # five ticks with the same part held
        printer.ingested(held)
    assert capsys.readouterr().err.count("stays pending") == 1
    printer.ingested(IngestResult())  # it went through
    printer.ingested(held)  # held again later: said again
    assert capsys.readouterr().err.count("w.1.0of2-1 stays pending") == 1
    printer.ingested(IngestResult(deferred=[("w.1.0of2-1", "a timeout")]))  # a new reason
    assert "a timeout" in capsys.readouterr().err
