"""Feedback logged later joins to its prediction by key; the latest feedback wins."""

from datetime import timedelta

import gantry_local as gantry


def test_late_feedback_joins_to_the_right_prediction(
        app: gantry.Application, clock: gantry.ManualClock) -> None:
    _, keys = app.log_records(inputs=[{"x": i} for i in range(5)], outputs=[i * 10 for i in range(5)])
    clock.advance(timedelta(days=2))
    app.log_records(feedbacks=[{"label": 30}, {"label": 10}], join_keys=[keys[3], keys[1]])
    rows = app.query(all_time=True).to_polars().sort("inputs.x")
    assert rows["feedback.label"].to_list() == [None, 10, None, 30, None]
    assert rows["__feedback_time"].to_list()[1] == clock.now()
    assert rows.height == 5


def test_latest_of_two_feedbacks_wins(app: gantry.Application, clock: gantry.ManualClock) -> None:
    key = app.log_record(inputs={"x": 1}, outputs=1)
    app.log_record(feedback={"label": "cat"}, join_key=key)
    clock.advance(timedelta(hours=1))
    app.log_record(feedback={"label": "dog"}, join_key=key)
    app.log_records(feedbacks=[{"label": "emu"}, {"label": "fox"}], join_keys=[key, key])
    assert app.query(all_time=True).to_polars()["feedback.label"].to_list() == ["fox"]


def test_latest_feedback_wins_across_reopen(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "f.duckdb"
    with gantry.Workspace(db=db, clock=clock) as ws:
        app = ws.create_application("m")
        key = app.log_record(inputs={"x": 1}, outputs=1)
        app.log_record(feedback={"label": 1}, join_key=key)
    with gantry.Workspace(db=db, clock=clock) as ws:
        ws.log_record("m", feedback={"label": 2}, join_key=key)
        assert ws.query("m").to_polars()["feedback.label"].to_list() == [2]


def test_feedback_for_unknown_key_is_kept_but_invents_nothing(
        ws: gantry.Workspace, app: gantry.Application) -> None:
    app.log_record(inputs={"x": 1}, outputs=1, join_key="known")
    app.log_record(feedback={"label": 5}, join_key="not-yet-logged")
    assert app.query(all_time=True).count() == 1
    assert app.query(all_time=True).to_polars()["feedback.label"].to_list() == [None]
    with ws.database.cursor() as con:
        assert con.execute('SELECT count(*) FROM "feedback_model"').fetchall()[0][0] == 1
    # and it joins once the prediction arrives
    app.log_record(inputs={"x": 2}, outputs=2, join_key="not-yet-logged")
    assert app.query(all_time=True).to_polars().sort("inputs.x")["feedback.label"].to_list() == [None, 5]


def test_feedback_with_the_prediction(app: gantry.Application) -> None:
    app.log_record(inputs={"x": 1}, outputs=1, feedback={"label": 1})
    app.log_records(inputs=[{"x": 2}], outputs=[2], feedbacks=[{"label": 0}])
    assert app.query(all_time=True).to_polars()["feedback.label"].to_list() == [1, 0]


def test_feedback_fields_can_be_filtered(app: gantry.Application) -> None:
    _, keys = app.log_records(inputs=[{"x": i} for i in range(4)], outputs=[0] * 4)
    app.log_records(feedbacks=[{"ok": True}, {"ok": False}], join_keys=keys[:2])
    assert app.query(all_time=True, filters=[{"feature_name": "feedback.ok",
                                              "boolean_query": True}]).count() == 1
    assert app.query(all_time=True, filters=[{"feature_name": "feedback.ok",
                                              "null_value": True}]).count() == 2
