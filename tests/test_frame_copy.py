"""A pandas frame logged is the frame as it was at the call: the buffered rows never share the
caller's numpy memory, so changing the frame (or its arrays) afterwards changes nothing stored."""

from __future__ import annotations

import numpy as np
import pandas as pd

import gantry_local as gantry


def test_a_frame_changed_after_log_records_is_stored_as_it_was() -> None:
    with gantry.Workspace(db=":memory:", flush_interval=3600) as ws:
        app = ws.create_application("m")
        values = np.arange(5, dtype=np.int64)
        scores = np.arange(5, dtype=np.float64)
        inputs = pd.DataFrame({"x": values}, copy=False)
        app.log_records(inputs=inputs, outputs=pd.DataFrame({"y": scores}, copy=False))
        values[:] = 77  # a server reusing its buffer for the next batch
        scores[:] = -1.0
        inputs.loc[0, "x"] = 99
        ws.flush()
        frame = ws.query("m").to_polars().sort("inputs.x")
        assert frame["inputs.x"].to_list() == [0, 1, 2, 3, 4]
        assert frame["outputs.y"].to_list() == [0.0, 1.0, 2.0, 3.0, 4.0]
