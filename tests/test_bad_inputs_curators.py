"""Bad-input corpus for the curators' Gantry entry points and label options.

Each case goes through the public API as far as it can (made, then created or added as an
automation), and asserts the exception class, a message that says what to change, and
that nothing was stored: no curator row, run or dataset.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import (
    BalancedStratificationCurator,
    Curator,
    CuratorInfo,
    ProportionalStratificationCurator,
    UniformCurator,
    get_all_curators,
    get_curator,
    list_curators,
)
from gantry_local.automations.curators.selectors import (
    BoundsFilter,
    EqualsFilter,
    Filter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    UniformSampler,
)
from gantry_local.automations.triggers import IntervalTrigger
from gantry_local.errors import NotFoundError, ValidationError

from ._seeded import seeded_once

S = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
V = ValidationError
App = gantry.Application


@pytest.fixture
def seeded(ws: gantry.Workspace) -> App:
    """An application logging a float, an int, a bool, a text field, a time and a list."""
    return _seed(ws)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """`seeded` once for the whole corpus (see tests/_seeded.py)."""
    yield from seeded_once(tmp_path_factory, "bad-curators", S, _seed)


def _seed(ws: gantry.Workspace) -> App:
    app = ws.create_application("m")
    app.log_records(inputs=[{"x": i / 3, "k": i, "b": i % 2 == 0, "s": f"t{i}",
                             "when": S + timedelta(hours=i), "v": [i, i]} for i in range(10)],
                    outputs=[0] * 10, timestamps=[S + timedelta(hours=i) for i in range(10)])
    ws.flush()
    UniformCurator("existing", "m", 5, start_on=S).create(workspace=ws)
    return app


def _snapshot(ws: gantry.Workspace) -> tuple[Any, ...]:
    with ws.database.cursor() as con:
        curators = con.execute("SELECT name, definition, enabled, created_at FROM _gl_curators "
                               "ORDER BY name").fetchall()
        runs = con.execute("SELECT count(*) FROM _gl_curator_runs").fetchall()[0][0]
    return curators, runs, [(d["name"], d["versions"]) for d in ws.list_datasets()]


def stratified(app: App, field: str, via_automation: bool = False) -> None:
    curator = ProportionalStratificationCurator("c", "m", 5, stratify_field=field)
    if via_automation:
        app.add_automation(Automation("new", IntervalTrigger(S, DAY), curator))
    else:
        curator.create(workspace=app.workspace)


def info(**changes: Any) -> CuratorInfo:
    spec: dict[str, Any] = {
        "id": uuid.uuid4(), "application_name": "m", "name": "c", "curated_dataset_name": "c",
        "start_on": S, "curation_interval": DAY, "curation_delay": timedelta(0),
        "curate_past_intervals": True, "created_at": S,
        "selectors": [Selector(method=UniformSampler(), limit=5)], **changes}
    return CuratorInfo(**spec)


def created(app: App, build: Callable[[], Curator]) -> None:
    build().create(workspace=app.workspace)


CASES: list[tuple[str, Callable[[App], Any], type[Exception], str]] = [
    # -- Curator's Gantry signature ----------------------------------------------------------
    ("a limit where Gantry has api_client", lambda a: created(a, lambda: Curator(
        "c", "m", 5, selectors=[Selector(limit=5)])), V, r"a Curator takes no limit"),
    ("id not a UUID", lambda a: created(a, lambda: Curator(
        "c", "m", id="nope", selectors=[Selector(limit=5)])), V, r"id must be a UUID"),
    ("id a number", lambda a: created(a, lambda: Curator(
        "c", "m", id=5, selectors=[Selector(limit=5)])), V, r"id must be a UUID, got 5"),
    ("created_at a string", lambda a: created(a, lambda: Curator(
        "c", "m", created_at="2024-01-01", selectors=[Selector(limit=5)])), V,
     r"created_at must be a datetime"),
    ("selectors a Selector, not a list", lambda a: created(a, lambda: Curator(
        "c", "m", selectors=Selector(limit=5))), V, r"selectors must be a non-empty list"),
    ("update_curation_interval 0", lambda a: UniformCurator("c", "m", 5).update_curation_interval(
        timedelta(0)), V, r"curation_interval must be a timedelta from 1 second"),
    ("update_curation_delay negative", lambda a: UniformCurator("c", "m", 5).update_curation_delay(
        timedelta(-1)), V, r"curation_delay must be a timedelta from 0"),
    ("update_curation_start_on a string", lambda a: UniformCurator(
        "c", "m", 5).update_curation_start_on("2024-01-01"), V, r"start_on must be a datetime"),
    ("update_curation_start_on year 9999", lambda a: UniformCurator(
        "c", "m", 5).update_curation_start_on(datetime(9999, 1, 1)), V, r"start_on must lie"),
    ("from_curator_info of a dict", lambda a: Curator.from_curator_info(None, {"name": "c"}), V,
     r"curator_info must be a CuratorInfo, got dict"),
    ("from_curator_info with a bad name", lambda a: Curator.from_curator_info(
        None, info(name="bad name")).create(workspace=a.workspace), V, r"curator name"),
    ("from_curator_info without selectors", lambda a: Curator.from_curator_info(
        None, info(selectors=[])).create(workspace=a.workspace), V, r"non-empty list"),
    ("id before create", lambda a: UniformCurator("c", "m", 5).id, V, r"has not been created"),
    ("created_at before create", lambda a: UniformCurator("c", "m", 5).created_at, V,
     r"has not been created"),
    # -- module functions ----------------------------------------------------------------------
    ("get_all_curators of a number", lambda a: get_all_curators(5, workspace=a.workspace), V,
     r"application name must be a string"),
    ("get_all_curators of no application", lambda a: get_all_curators(
        "nobody", workspace=a.workspace), NotFoundError, r"nobody"),
    ("list_curators of no application", lambda a: list_curators(
        "nobody", workspace=a.workspace), NotFoundError, r"nobody"),
    ("get_all_curators in no workspace", lambda a: get_all_curators(workspace="ws"), V,
     r"workspace must be a gantry_local Workspace"),
    ("get_curator of a path", lambda a: get_curator("../x", workspace=a.workspace), V,
     r"curator name"),
    # -- label options ---------------------------------------------------------------------------
    ("only_labelled 1", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, only_labelled=1)), V, r"only_labelled must be True or False"),
    ("min_labelled_share 0", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, min_labelled_share=0)), V, r"min_labelled_share must be"),
    ("min_labelled_share above 1", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, min_labelled_share=1.01)), V, r"min_labelled_share must be"),
    ("min_labelled_share NaN", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, min_labelled_share=float("nan"))), V, r"min_labelled_share must be"),
    ("min_labelled_share text", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, min_labelled_share="95%")), V, r"min_labelled_share must be"),
    ("max_label_wait negative", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, max_label_wait=timedelta(hours=-1))), V, r"max_label_wait must be"),
    ("max_label_wait a number", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, max_label_wait=3)), V, r"max_label_wait must be a timedelta"),
    ("an unknown extra", lambda a: created(a, lambda: UniformCurator(
        "c", "m", 5, only_labeled=True)), TypeError, r"only_labeled"),
    # -- stratification that cannot work -----------------------------------------------------
    ("stratify a float, create", lambda a: stratified(a, "inputs.x"), V,
     r"cannot stratify on 'inputs\.x': application 'm' logs it as float"),
    ("stratify a float, add_automation", lambda a: stratified(a, "inputs.x", True), V,
     r"logs it as float"),
    ("stratify a time", lambda a: stratified(a, "inputs.when"), V, r"logs it as datetime"),
    ("stratify a list", lambda a: stratified(a, "inputs.v"), V, r"logs it as list"),
    ("stratify __time", lambda a: stratified(a, "__time"), V, r"it is a timestamp"),
    ("stratify __join_key", lambda a: stratified(a, "__join_key"), V,
     r"every record has its own"),
    ("update to a float stratification", lambda a: get_curator(
        "existing", workspace=a.workspace).update(new_selectors=[Selector(
            method=StratifiedSampler("inputs.x"), limit=5)]), V, r"logs it as float"),
    # -- selectors the Gantry way ------------------------------------------------------------
    ("OrderedSampler without sort", lambda a: OrderedSampler("inputs.x"), TypeError, r"sort"),
    ("sample of another method", lambda a: OrderedSampler(
        "inputs.x", "ascending", sample="uniform"), V, r"sample must be 'ordered'"),
    ("sort 'asc'", lambda a: OrderedSampler("inputs.x", "asc"), V,
     r"sort must be one of 'ascending', 'descending'"),
    ("Selector without limit", lambda a: Selector(method=UniformSampler()), TypeError,
     r"limit"),
    ("Selector limit positional", lambda a: Selector(UniformSampler(), 5), TypeError,
     r"positional"),
    ("Filter itself", lambda a: Filter("inputs.x"), V, r"Filter is a base class"),
    ("inclusive bounds meeting twice", lambda a: BoundsFilter(
        "inputs.x", inclusive_lower=5, upper=5), V, r"no value lies between"),
    ("equals 'yes' is text, equals None is not", lambda a: EqualsFilter("inputs.s", None), V,
     r"got NoneType"),
]


@pytest.mark.parametrize(("build", "error", "match"),
                         [pytest.param(b, e, m, id=i) for i, b, e, m in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(
        shared: App, build: Callable[[App], Any], error: type[Exception], match: str) -> None:
    before = _snapshot(shared.workspace)
    with pytest.raises(error, match=match) as caught:
        build(shared)
    if error is not TypeError:  # a wrong signature is Python's own error
        assert isinstance(caught.value, gantry.GantryLocalError)
    assert _snapshot(shared.workspace) == before


LEGAL: list[tuple[str, Callable[[], Curator]]] = [
    ("stratify an int", lambda: BalancedStratificationCurator("c", "m", 6, stratify_field="inputs.k")),
    ("stratify a bool", lambda: BalancedStratificationCurator("c", "m", 6, stratify_field="inputs.b")),
    ("stratify text", lambda: BalancedStratificationCurator("c", "m", 6, stratify_field="inputs.s")),
    ("stratify a field not logged yet", lambda: BalancedStratificationCurator(
        "c", "m", 6, stratify_field="inputs.later")),
    ("every label option", lambda: UniformCurator(
        "c", "m", 5, only_labelled=True, min_labelled_share=1.0, max_label_wait=timedelta(0))),
    ("a curator from its info", lambda: Curator.from_curator_info(None, info())),
    ("the newest by default", lambda: Curator("c", "m", selectors=[Selector(limit=10_000)])),
]


@pytest.mark.parametrize("build", [pytest.param(b, id=i) for i, b in LEGAL])
def test_legal_edges_round_trip(ws: gantry.Workspace, seeded: App,
                                build: Callable[[], Curator]) -> None:
    made = build()
    made.create(workspace=ws)
    stored = get_curator("c", workspace=ws)
    assert (stored.selectors, stored.only_labelled, stored.min_labelled_share,
            stored.max_label_wait) == (made.selectors, made.only_labelled,
                                       made.min_labelled_share, made.max_label_wait)
    assert stored.id == made.id and stored.created_at == made.created_at
    assert ws.get_dataset("c").list_versions() == []  # made with the curator
    if "later" not in str(stored.selectors):
        stored.select(ws, S, S + DAY)  # runs
