"""Curator.update: new selectors for future intervals, renames keep history, new datasets."""

from __future__ import annotations

from datetime import timedelta

import pytest

import gantry_local as gantry
from gantry_local.automations.curators import UniformCurator, get_curator
from gantry_local.automations.curators.selectors import OrderedSampler, Selector
from gantry_local.errors import AlreadyExistsError, ValidationError

from .test_scheduler import START, fill


@pytest.fixture
def curated(ws: gantry.Workspace, clock: gantry.ManualClock) -> UniformCurator:
    clock.set(START)
    fill(ws.create_application("m"), 10)
    curator = UniformCurator("daily", "m", limit=5, start_on=START).create(workspace=ws)
    clock.set(START + timedelta(days=3))
    assert len(gantry.Scheduler(ws).run_pending()) == 3
    return curator


def test_new_selectors_apply_to_future_intervals_only(
        ws: gantry.Workspace, curated: UniformCurator, clock: gantry.ManualClock) -> None:
    before = curated.get_curated_dataset().read()
    curated.update(new_selectors=[Selector(OrderedSampler("inputs.i", "descending"), limit=2)])
    clock.set(START + timedelta(days=5))
    runs = gantry.Scheduler(ws).run_pending()
    assert [r.rows_selected for r in runs] == [2, 2]
    rows = curated.get_curated_dataset().read()
    assert rows.head(before.height).equals(before)  # old intervals untouched
    assert sorted(rows.tail(4)["inputs.i"].to_list()) == [48, 48, 49, 49]
    assert get_curator("daily", workspace=ws).selectors[0].limit == 2


def test_rename_keeps_history_and_the_seed(
        ws: gantry.Workspace, curated: UniformCurator, clock: gantry.ManualClock) -> None:
    seed = curated.seed(START)
    curated.update(new_curator_name="daily-v2")
    assert curated.name == "daily-v2" and curated.seed(START) == seed
    with pytest.raises(gantry.NotFoundError):
        get_curator("daily", workspace=ws)
    renamed = get_curator("daily-v2", workspace=ws)
    assert renamed.seed(START) == seed and renamed.former_names == ("daily",)
    assert renamed.get_runs().height == 3 and set(renamed.get_runs()["curator"]) == {"daily-v2"}
    clock.set(START + timedelta(days=4))
    [run] = gantry.Scheduler(ws).run_pending()  # the three done intervals are not redone
    assert run.curator == "daily-v2" and run.interval_start == START + timedelta(days=3)
    assert len(renamed.get_curated_dataset().list_versions()) == 4


def test_create_new_dataset_starts_a_new_dataset(
        ws: gantry.Workspace, curated: UniformCurator, clock: gantry.ManualClock) -> None:
    curated.update(new_curated_dataset_name="daily-fresh", create_new_dataset=True)
    assert curated.get_curated_dataset().name == "daily-fresh"
    clock.set(START + timedelta(days=5))
    gantry.Scheduler(ws).run_pending()
    assert len(ws.get_dataset("daily").list_versions()) == 3  # the old one keeps its versions
    assert len(ws.get_dataset("daily-fresh").list_versions()) == 2


def test_a_new_interval_starts_where_the_last_curated_one_ended(
        ws: gantry.Workspace, curated: UniformCurator, clock: gantry.ManualClock) -> None:
    curated.update(new_curation_interval=timedelta(hours=12))
    clock.set(START + timedelta(days=4))
    runs = gantry.Scheduler(ws).run_pending()
    assert [r.interval_start for r in runs] == [START + timedelta(days=3),
                                                START + timedelta(days=3, hours=12)]


def test_bad_updates_change_nothing(ws: gantry.Workspace, curated: UniformCurator) -> None:
    UniformCurator("other", "m", limit=1, start_on=START).create(workspace=ws)
    ws.create_dataset("taken", app_name="m")
    stored = get_curator("daily", workspace=ws).__dict__.copy()
    with pytest.raises(ValidationError, match="something to change"):
        curated.update()
    with pytest.raises(ValidationError, match="create_new_dataset=True"):
        curated.update(new_curated_dataset_name="renamed")
    with pytest.raises(ValidationError, match="needs new_curated_dataset_name"):
        curated.update(create_new_dataset=True)
    with pytest.raises(AlreadyExistsError):
        curated.update(new_curator_name="other")
    with pytest.raises(AlreadyExistsError):
        curated.update(new_curated_dataset_name="taken", create_new_dataset=True)
    with pytest.raises(ValidationError, match="timedelta from 1 second"):
        curated.update(new_curation_interval=timedelta(0))
    with pytest.raises(ValidationError, match="Selector"):
        curated.update(new_selectors=[])
    with pytest.raises(ValidationError, match="curator name"):
        curated.update(new_curator_name="bad name!")
    after = get_curator("daily", workspace=ws).__dict__
    assert {k: v for k, v in after.items() if k != "workspace"} == {
        k: v for k, v in stored.items() if k != "workspace"}
    assert get_curator("daily", workspace=ws).get_runs().height == 3
