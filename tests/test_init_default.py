"""init(): a refused call leaves the previous default workspace open; environment tags every path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import gantry_local as gantry


@pytest.mark.parametrize("bad", [{"clock": 5}, {"storage": 5}, {"flush_interval": 0},
                                 {"buffer_size": -1}, {"storage_options": "x"}])
def test_a_refused_init_leaves_the_previous_default_open(tmp_path: Path, bad: dict[str, Any]) -> None:
    gantry.init(db=str(tmp_path / "a.duckdb"))
    try:
        with pytest.raises(gantry.ValidationError):
            gantry.init(db=str(tmp_path / "b.duckdb"), **bad)
        gantry.create_application("m")
        gantry.log_record("m", inputs={"x": 1}, outputs=1)
        gantry.flush()
        assert gantry.get_application("m").query(all_time=True).count() == 1
        assert not (tmp_path / "b.duckdb").exists()
    finally:
        gantry.get_workspace().close()


def test_environment_tags_records_of_every_log_path(tmp_path: Path) -> None:
    gantry.init(db=str(tmp_path / "a.duckdb"), environment="staging")
    try:
        app = gantry.create_application("m")
        app.log_record(inputs={"x": 1}, outputs=1)
        app.log_records(inputs=[{"x": 2}], outputs=[2])
        gantry.log_record("m", inputs={"x": 3}, outputs=3)
        gantry.log_records("m", inputs=[{"x": 4}], outputs=[4])
        app.log_record(inputs={"x": 5}, outputs=5, tags={"env": "prod"})
        gantry.flush()
        frame = app.query(all_time=True).to_polars().sort("inputs.x")
        assert frame["tags.env"].to_list() == ["staging"] * 4 + ["prod"]
    finally:
        gantry.get_workspace().close()
