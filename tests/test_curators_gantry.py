"""Curators the Gantry 0.6 way: names, defaults and semantics from the SDK source, the
curator lifecycle, waiting for labels, and categories of every kind."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    Curator,
    CuratorInfo,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    ProportionalStratificationCurator,
    StrictStratificationCurator,
    UniformCurator,
    get_all_curators,
    get_curator,
    list_curators,
)
from gantry_local.automations.curators.selectors import (
    TIME_COLUMN_NAME,
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    OrderingDirection,
    SamplingMethod,
    Selector,
    StratificationMode,
    StratifiedSampler,
    UniformSampler,
)
from gantry_local.automations.triggers import IntervalTrigger

DAY = datetime(2024, 3, 1, tzinfo=timezone.utc)
ONE = timedelta(days=1)

# The SDK's own table (tests/automations/curators/test_curators.py): each stock curator
# with limit 10 builds exactly this selector.
PRESETS = [
    (AscendedSortCurator, {"sort_field": "ascending_field"},
     Selector(method=OrderedSampler(field="ascending_field", sort=OrderingDirection.ASCENDING),
              limit=10)),
    (DescendedSortCurator, {"sort_field": "ascending_field"},
     Selector(method=OrderedSampler(field="ascending_field", sort=OrderingDirection.DESCENDING),
              limit=10)),
    (EqualityCurator, {"field": "string_field", "equals": "string"},
     Selector(method=UniformSampler(), limit=10,
              filters=[EqualsFilter(field="string_field", equals="string")])),
    (NewestCurator, {}, Selector(method=OrderedSampler(
        field="__time", sort=OrderingDirection.DESCENDING), limit=10)),
    (OldestCurator, {}, Selector(method=OrderedSampler(
        field="__time", sort=OrderingDirection.ASCENDING), limit=10)),
    (UniformCurator, {}, Selector(method=UniformSampler(), limit=10)),
    (StrictStratificationCurator, {"stratify_field": "category"},
     Selector(method=StratifiedSampler(field="category", mode=StratificationMode.strict),
              limit=10)),
    (BalancedStratificationCurator, {"stratify_field": "category"},
     Selector(method=StratifiedSampler(field="category", mode=StratificationMode.balanced),
              limit=10)),
    (ProportionalStratificationCurator, {"stratify_field": "category"},
     Selector(method=StratifiedSampler(field="category", mode=StratificationMode.proportional),
              limit=10)),
    (BoundedRangeCurator, {"bound_field": "float_field", "lower_bound": 0.0, "upper_bound": 1.0},
     Selector(method=OrderedSampler(field="float_field", sort=OrderingDirection.ASCENDING),
              limit=10, filters=[BoundsFilter(field="float_field", lower=0.0, upper=1.0)])),
]


@pytest.mark.parametrize(("cls", "kwargs", "expected"), PRESETS, ids=[p[0].__name__ for p in PRESETS])
def test_stock_curators_build_gantrys_selectors(cls: type[Curator], kwargs: dict[str, object],
                                                expected: Selector) -> None:
    kwargs = {**kwargs, "name": "test_curator_name", "application_name": "test_app", "limit": 10}
    assert cls(**kwargs).selectors[0] == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("cls", "kwargs"), [
    (BoundsFilter, {"upper": 10}), (EqualsFilter, {"equals": "text"}),
    (EqualsFilter, {"equals": 123.4}), (EqualsFilter, {"equals": 5}),
    (EqualsFilter, {"equals": True}), (ContainsFilter, {"contains": "test_string"}),
    (BoundsFilter, {"upper": 10, "lower": 0}),
    (BoundsFilter, {"inclusive_upper": 10, "inclusive_lower": 0}),
    (BoundsFilter, {"upper": 10, "inclusive_lower": 0}),
    (BoundsFilter, {"inclusive_upper": 10, "lower": 0}),
])
def test_valid_filters_as_in_the_sdk(cls: type, kwargs: dict[str, object]) -> None:
    made = cls(field="testfield", **kwargs)
    for key, value in {"field": "testfield", **kwargs}.items():
        assert made.dict()[key] == value


@pytest.mark.parametrize(("cls", "kwargs"), [
    (BoundsFilter, {}), (BoundsFilter, {"upper": 10, "inclusive_upper": 10}),
    (BoundsFilter, {"lower": 10, "inclusive_lower": 10}),
])
def test_invalid_filters_as_in_the_sdk(cls: type, kwargs: dict[str, object]) -> None:
    with pytest.raises(gantry.ValidationError):
        cls(field="testfield", **kwargs)


@pytest.mark.parametrize("kwargs", [{"limit": -1}, {"limit": 10001}, {"filters": [1]},
                                    {"method": "ascending"}])
def test_invalid_selectors_as_in_the_sdk(kwargs: dict[str, object]) -> None:
    with pytest.raises(gantry.ValidationError):
        Selector(**{"limit": 1, **kwargs})  # type: ignore[arg-type]


def test_gantrys_defaults() -> None:
    assert Selector(limit=5).method == OrderedSampler(TIME_COLUMN_NAME, "descending")  # newest
    assert StratifiedSampler(field="x").mode is StratificationMode.proportional
    assert UniformSampler().sample is SamplingMethod.uniform
    assert EqualsFilter(field="x", equals="true").equals is True  # Gantry's rule
    assert EqualsFilter(field="x", equals="False").equals is False
    assert BoundsFilter(field="x", inclusive_lower=1).dict() == {
        "field": "x", "upper": None, "inclusive_upper": None, "lower": None,
        "inclusive_lower": 1}
    with pytest.raises(TypeError):  # bounds are keywords, as in Gantry (no silent reorder)
        BoundsFilter("x", 1, 5)  # type: ignore[misc]


@pytest.fixture
def labels(ws: gantry.Workspace) -> gantry.Application:
    """Two days of 100 records: a category, an int class, a flag; day 1's even keys labelled."""
    app = ws.create_application("m")
    for day in range(2):
        _, keys = app.log_records(
            inputs=[{"i": i, "color": ["red", "blue"][i % 2], "klass": i % 3, "flag": i % 4 == 0,
                     "score": i / 100} for i in range(100)],
            outputs=[{"p": i % 2} for i in range(100)],
            timestamps=[DAY + timedelta(days=day, minutes=10 * i) for i in range(100)])
        if day == 0:
            app.log_records(feedbacks=[{"y": i % 2} for i in range(0, 100, 2)],
                            join_keys=keys[0::2])
    ws.flush()
    return app


def test_bounded_range_is_strict_in_gantrys_order(ws: gantry.Workspace,
                                                  labels: gantry.Application) -> None:
    curator = BoundedRangeCurator("b", "m", 100, "inputs.i", 30, 20)  # upper 30, lower 20
    table, _ = curator.select(ws, DAY, DAY + ONE)
    assert table.column("inputs.i").to_pylist() == list(range(21, 30))


def test_integers_and_booleans_stratify_like_categories(ws: gantry.Workspace,
                                                        labels: gantry.Application) -> None:
    for field, strata in (("inputs.klass", 3), ("inputs.flag", 2)):
        curator = BalancedStratificationCurator(f"s-{field}", "m", 30, stratify_field=field)
        table, _ = curator.select(ws, DAY, DAY + ONE)
        values = table.column(field).to_pylist()
        assert len(values) == 30 // strata * strata and len(set(values)) == strata
        assert {values.count(v) for v in set(values)} == {30 // strata}


def test_an_impossible_stratification_is_refused_at_definition(
        ws: gantry.Workspace, labels: gantry.Application) -> None:
    with pytest.raises(gantry.ValidationError, match=r"logs it as float"):
        ProportionalStratificationCurator("f", "m", 10, stratify_field="inputs.score").create(
            workspace=ws)
    automation = Automation("a", IntervalTrigger(DAY, ONE), StrictStratificationCurator(
        "f", "m", 10, stratify_field="inputs.score"))
    with pytest.raises(gantry.ValidationError, match=r"cannot stratify on 'inputs\.score'"):
        labels.add_automation(automation)
    with pytest.raises(gantry.ValidationError, match=r"timestamp"):
        StrictStratificationCurator("t", "m", 10, stratify_field="__time")
    assert list_curators(workspace=ws) == [] and ws.list_datasets() == []  # nothing stored


def test_the_curator_lifecycle_gantrys_way(ws: gantry.Workspace,
                                           labels: gantry.Application) -> None:
    curator = UniformCurator("u", "m", 5, start_on=DAY)
    with pytest.raises(ValueError, match="not been created"):
        _ = curator.created_at
    with pytest.raises(ValueError, match="no id"):
        _ = curator.id
    curator.update_curation_interval(timedelta(hours=12))
    curator.update_curation_delay(timedelta(hours=1))
    curator.update_curation_start_on(DAY + timedelta(hours=6))
    curator.create(workspace=ws)
    # Gantry makes the dataset with the curator: readable before any run
    assert curator.get_curated_dataset().list_versions() == []
    assert isinstance(curator.id, uuid.UUID) and curator.created_at == ws.clock.now()
    stored = get_curator("u", workspace=ws)
    assert (stored.id, stored.curation_interval, stored.curation_delay, stored.start_on) == (
        curator.id, timedelta(hours=12), timedelta(hours=1), DAY + timedelta(hours=6))
    assert list_curators("m", workspace=ws) == ["u"]
    assert [c.id for c in get_all_curators("m", workspace=ws)] == [curator.id]
    assert curator.disable() == "Curator u disabled" and not curator.enabled
    assert curator.enable() == "Curator u enabled" and curator.enabled
    renamed = curator.update(new_curator_name="u2")
    assert renamed.id == stored.id  # stable across a rename
    info = CuratorInfo(id=renamed.id, application_name="m", name="u2", curated_dataset_name="u",
                       start_on=renamed.start_on, curation_interval=renamed.curation_interval,
                       curation_delay=renamed.curation_delay, curate_past_intervals=True,
                       created_at=renamed.created_at, selectors=renamed.selectors)
    rebuilt = Curator.from_curator_info(None, info)
    assert (rebuilt.id, rebuilt.name, rebuilt.selectors) == (renamed.id, "u2", renamed.selectors)
    message = renamed.delete()
    assert message.startswith(f"Curator u2 ({stored.id}) deleted at ")
    with pytest.raises(ValueError, match="no id"):
        _ = renamed.id
    assert list_curators(workspace=ws) == [] and ws.get_dataset("u").list_versions() == []
    with pytest.raises(gantry.NotFoundError):
        list_curators("nobody", workspace=ws)


def test_start_and_stop_create_and_delete(ws: gantry.Workspace,
                                          labels: gantry.Application) -> None:
    curator = NewestCurator("n", "m", 3)
    curator.create(workspace=ws, enable=False)
    curator.stop()
    assert list_curators(workspace=ws) == []


def test_only_labelled_picks_records_with_feedback(ws: gantry.Workspace,
                                                  labels: gantry.Application) -> None:
    curator = UniformCurator("l", "m", 20, only_labelled=True)
    result = curator.curate(ws, DAY, DAY + ONE)
    assert result.rows_selected == 20 and result.labelled_rows == 20
    assert result.rows_in_interval == 100
    assert result.message.endswith("by curator l (20 labelled)")
    version = ws.get_dataset("l").list_versions()[0]
    assert version["lineage"]["labelled_rows"] == 20
    rows = ws.get_dataset("l").read()
    assert rows["feedback.y"].null_count() == 0
    assert all(i % 2 == 0 for i in rows["inputs.i"].to_list())
    # day 2 has no labels yet: nothing to pick, no version
    assert curator.curate(ws, DAY + ONE, DAY + 2 * ONE).version_id is None
    plain = UniformCurator("p", "m", 100).curate(ws, DAY, DAY + ONE)
    assert plain.labelled_rows == 50 and "(50 labelled)" in plain.message


def test_a_curator_can_wait_for_late_labels(ws: gantry.Workspace, labels: gantry.Application,
                                            clock: gantry.ManualClock) -> None:
    waiting = UniformCurator("w", "m", 100, start_on=DAY, min_labelled_share=0.9,
                             max_label_wait=timedelta(days=5))
    assert waiting.labels_ready(ws, DAY, DAY + 2 * ONE) is False  # 50% labelled
    assert waiting.labels_ready(ws, DAY, DAY + 6 * ONE) is True  # waited long enough
    keys = ws.get_application("m").query(start_time=DAY, end_time=DAY + ONE).to_polars()
    late = keys.filter(keys["feedback.y"].is_null())["__join_key"].to_list()
    ws.get_application("m").log_records(feedbacks=[{"y": 1}] * len(late), join_keys=late)
    ws.flush()
    # counted at most once a minute (a tick every second does not count again)
    assert waiting.labels_ready(ws, DAY, DAY + 2 * ONE) is False
    assert waiting.labels_ready(ws, DAY, DAY + 2 * ONE + timedelta(minutes=1)) is True
    assert UniformCurator("x", "m", 5).labels_ready(ws, DAY, DAY) is True  # no wait asked


@pytest.mark.parametrize("share", [0, -0.5, 1.5, float("nan"), "0.9", True])
def test_bad_label_shares_are_refused(share: object) -> None:
    with pytest.raises(gantry.ValidationError, match="min_labelled_share"):
        UniformCurator("w", "m", 5, min_labelled_share=share)  # type: ignore[arg-type]


def test_label_options_survive_storage(ws: gantry.Workspace, labels: gantry.Application) -> None:
    UniformCurator("w", "m", 5, only_labelled=True, min_labelled_share=0.75,
                   max_label_wait=timedelta(days=3)).create(workspace=ws)
    stored = get_curator("w", workspace=ws)
    assert (stored.only_labelled, stored.min_labelled_share, stored.max_label_wait) == (
        True, 0.75, timedelta(days=3))


def test_a_definition_stored_before_gantrys_bounds_still_reads(
        ws: gantry.Workspace, labels: gantry.Application) -> None:
    BoundedRangeCurator("old", "m", 50, "inputs.i", 30, 20).create(workspace=ws)
    with ws.database.cursor() as con:
        text = con.execute("SELECT definition FROM _gl_curators").fetchall()[0][0]
        body = json.loads(text)
        spec = body["selectors"][0]["filters"][0]
        old = {"type": "BoundsFilter", "field": spec["field"], "lower": 20, "upper": 30,
               "lower_inclusive": True, "upper_inclusive": False}
        body["selectors"][0]["filters"][0] = old
        con.execute("UPDATE _gl_curators SET definition = ?", [json.dumps(body)])
    table, _ = get_curator("old", workspace=ws).select(ws, DAY, DAY + ONE)
    assert table.column("inputs.i").to_pylist() == list(range(20, 30))  # [20, 30)


def test_proportional_follows_gantrys_documented_example(ws: gantry.Workspace) -> None:
    """100 records A×51, B×15, C×16, D×17, E×1, limit 10: 11 records, A5 B2 C2 D2 E0."""
    app = ws.create_application("m")
    letters = ["A"] * 51 + ["B"] * 15 + ["C"] * 16 + ["D"] * 17 + ["E"]
    app.log_records(inputs=[{"letter": x} for x in letters], outputs=[0] * 100,
                    timestamps=[DAY + timedelta(minutes=i) for i in range(100)])
    table, _ = ProportionalStratificationCurator("p", "m", 10, stratify_field="inputs.letter"
                                                 ).select(ws, DAY, DAY + ONE)
    got = table.column("inputs.letter").to_pylist()
    assert {x: got.count(x) for x in "ABCDE"} == {"A": 5, "B": 2, "C": 2, "D": 2, "E": 0}


# -- creating a curator turns it on (Gantry: "creating a curator turns it on") ----------------

def test_curator_create_alone_starts_the_background_loop(tmp_path: object) -> None:
    from gantry_local.automations.scheduler import background_scheduler

    clock = gantry.ManualClock(DAY)
    with gantry.Workspace(db=f"{tmp_path}/bg.duckdb", clock=clock, flush_interval=0.01,
                          background_scheduler=True) as bws:
        app = bws.create_application("bg")
        app.log_records(inputs=[{"i": i} for i in range(24)], outputs=[0] * 24,
                        timestamps=[DAY + timedelta(hours=h) for h in range(24)])
        curator = UniformCurator("bg-uniform", "bg", 5, start_on=DAY)
        assert background_scheduler(bws) is None
        curator.create(workspace=bws)  # no add_automation, no Scheduler: creating is enough
        loop = background_scheduler(bws)
        assert loop is not None and loop.background
        clock.advance(ONE)
        assert loop.wait_for_tick()
        assert curator.get_runs()["status"].to_list() == ["succeeded"]
        assert curator.get_curated_dataset().read().height == 5


def test_a_disabled_curator_starts_no_loop_until_enabled(tmp_path: object) -> None:
    from gantry_local.automations.scheduler import background_scheduler

    clock = gantry.ManualClock(DAY)
    with gantry.Workspace(db=f"{tmp_path}/off.duckdb", clock=clock,
                          background_scheduler=True) as bws:
        bws.create_application("bg")
        curator = UniformCurator("later", "bg", 5, start_on=DAY).create(enable=False,
                                                                         workspace=bws)
        assert background_scheduler(bws) is None
        curator.enable()
        assert background_scheduler(bws) is not None
    with gantry.Workspace(db=f"{tmp_path}/never.duckdb", clock=clock,
                          background_scheduler=False) as quiet:
        quiet.create_application("bg")
        UniformCurator("u", "bg", 5, start_on=DAY).create(workspace=quiet)
        assert background_scheduler(quiet) is None  # turned off: nothing starts it


def test_a_loop_stopped_before_its_thread_runs_never_ticks(tmp_path: object) -> None:
    """Curator.create() starts the loop and a Scheduler made right after stops it: a stop
    that lands before the loop's thread has started must not be undone (it ran one tick,
    curating what the user's Scheduler was about to)."""
    import threading

    from gantry_local.automations.scheduler import _BackgroundScheduler

    with gantry.Workspace(db=f"{tmp_path}/race.duckdb", clock=gantry.ManualClock(DAY),
                          background_scheduler=True) as bws:
        loop = _BackgroundScheduler(bws)
        loop._thread = threading.Thread(target=loop.run_forever, daemon=True)
        loop._stop.set()  # what stop() does before joining
        loop._wake.set()
        loop._thread.start()
        loop._thread.join(10)
        assert not loop._thread.is_alive() and loop._started_ticks == 0
