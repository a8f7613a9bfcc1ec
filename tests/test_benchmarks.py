"""The benchmark scripts keep running (a quick size): they are measured, not asserted on time."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parent.parent / "benchmarks").glob("bench_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", BENCHMARKS, ids=[p.stem for p in BENCHMARKS])
def test_benchmark_script_runs_quick(script: Path) -> None:
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert "baseline" in out
    assert re.search(r"\d+\.\d+x (of|faster)", out), out
