"""Bad-input corpus for curators, selectors, filters, triggers, automations, alerts and actions.

Each case goes through the public API as far as it can (made, then added or created), and
asserts the exception class, a message that says what to change, and that nothing was
stored: no curator row, run, automation (of any kind), alert, failure or dataset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import gantry_local as gantry
from gantry_local.automations._in_process import in_process as live
from gantry_local.automations.actions import SendSlackMessage, SendWebhook
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import (
    AscendedSortCurator,
    BoundedRangeCurator,
    Curator,
    EqualityCurator,
    StrictStratificationCurator,
    UniformCurator,
    get_curator,
    list_curators,
)
from gantry_local.automations.curators.selectors import (
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
)
from gantry_local.automations.triggers import AggregationTrigger, DatasetVersionTrigger, IntervalTrigger
from gantry_local.errors import AlreadyExistsError, NotFoundError, ValidationError
from gantry_local.evaluation.suites import Suite

from ._seeded import seeded_once

S = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
App = gantry.Application


@pytest.fixture
def seeded(ws: gantry.Workspace) -> App:
    """An application with a number, a text field, a tag, and one automation of each kind."""
    return _seed(ws)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """`seeded` once for the whole corpus (see tests/_seeded.py)."""
    yield from seeded_once(tmp_path_factory, "bad-automations", S, _seed)


def _seed(ws: gantry.Workspace) -> App:
    app = ws.create_application("m")
    app.log_records(inputs=[{"x": float(i), "s": f"t{i}"} for i in range(10)], outputs=[0] * 10,
                    timestamps=[S + timedelta(hours=i) for i in range(10)],
                    tags=[{"env": "prod"}] * 10)
    ws.flush()
    app.add_automation(Automation("existing", IntervalTrigger(S, DAY),
                                  UniformCurator("existing-curator", "m", 5)))
    app.add_automation(Automation("existing-monitor", _trigger(), lambda alert: None))
    ws.create_dataset("m-data", app_name="m")
    ws.create_application("other")
    return app


def _snapshot(ws: gantry.Workspace) -> tuple[Any, ...]:
    with ws.database.cursor() as con:
        curators = con.execute("SELECT name, definition, enabled, first_interval_start, "
                               "automation FROM _gl_curators ORDER BY name").fetchall()
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in (
            "_gl_curator_runs", "_gl_alerts", "_gl_automation_failures", "_gl_suite_runs")]
    in_process = sorted((n, app, a.stopped) for n, (app, a) in live(ws.database).items())
    return curators, counts, in_process, [(d["name"], d["versions"]) for d in ws.list_datasets()]


def _trigger(**changes: Any) -> AggregationTrigger:
    spec: dict[str, Any] = {"name": "t", "aggregation": "mean", "fields": ["inputs.x"],
                            "lower_bound": None, "upper_bound": 5, "evaluation_window": DAY}
    return AggregationTrigger(**{**spec, **changes})


def curator(app: App, cls: type[Curator] = UniformCurator, **changes: Any) -> None:
    """Make a curator and add it as an automation (so a bad one that slipped through is stored)."""
    spec: dict[str, Any] = {"name": "c", "application_name": "m",
                            **({} if cls is Curator else {"limit": 5}), **changes}
    app.add_automation(Automation("new", IntervalTrigger(S, DAY), cls(**spec)))


def selector(app: App, **changes: Any) -> None:
    spec: dict[str, Any] = {"method": UniformSampler(), "limit": 5, **changes}
    curator(app, Curator, selectors=[Selector(**spec)])


def with_filter(app: App, item: Any) -> None:
    selector(app, filters=[item])


def interval(app: App, *args: Any) -> None:
    app.add_automation(Automation("new", IntervalTrigger(*args), UniformCurator("c", "m", 5)))


def monitor(app: App, action: Any = None, **changes: Any) -> None:
    app.add_automation(Automation("new", _trigger(**changes), action or (lambda alert: None)))


def webhook(app: App, *args: Any, **kwargs: Any) -> None:
    monitor(app, SendWebhook(*args, **kwargs))


def suite() -> Suite:
    return Suite("s", "existing-curator", {"v1": lambda row: 0}, ["accuracy"])


URL = "http://127.0.0.1:9/hook"
V = ValidationError
Case = tuple[str, Callable[[App], Any], type[Exception], str]
CASES: list[Case] = [
    # -- curators ---------------------------------------------------------------------------
    ("limit 2**64", lambda a: curator(a, limit=2**64), V, r"must not exceed 10,000"),
    ("limit 10,001", lambda a: curator(a, limit=10_001), V, r"must not exceed 10,000"),
    ("limit 0", lambda a: curator(a, limit=0), V, r"limit must be an integer from 1 to 10,000"),
    ("limit -1", lambda a: curator(a, limit=-1), V, r"limit must be an integer"),
    ("limit True", lambda a: curator(a, limit=True), V, r"limit must be an integer"),
    ("limit 1.5", lambda a: curator(a, limit=1.5), V, r"limit must be an integer"),
    ("limit '10'", lambda a: curator(a, limit="10"), V, r"limit must be an integer"),
    ("curator name with a space", lambda a: curator(a, name="a b"), V, r"curator name"),
    ("empty curator name", lambda a: curator(a, name=""), V, r"curator name must not be empty"),
    ("application name 5", lambda a: curator(a, application_name=5), V, r"application name"),
    ("dataset name ../x", lambda a: curator(a, curated_dataset_name="../x"), V,
     r"dataset name '\.\./x' is not allowed"),
    ("dataset name ''", lambda a: curator(a, curated_dataset_name=""), V,
     r"dataset name must not be empty"),
    ("start_on a string", lambda a: curator(a, start_on="2024-01-01"), V,
     r"start_on must be a datetime"),
    ("start_on year 9999", lambda a: curator(a, start_on=datetime(9999, 12, 31)), V,
     r"start_on must lie between 1900-01-01 and 2200-01-01"),
    ("start_on year 1", lambda a: curator(a, start_on=datetime(1, 1, 1, tzinfo=timezone(
        timedelta(hours=5)))), V, r"start_on .* cannot be read as UTC"),
    ("interval 0", lambda a: curator(a, curation_interval=timedelta(0)), V,
     r"curation_interval must be a timedelta from 1 second to 3,660 days"),
    ("interval 999,999,999 days", lambda a: curator(a, curation_interval=timedelta(
        days=999_999_999)), V, r"curation_interval must be a timedelta"),
    ("interval 1 microsecond", lambda a: curator(a, curation_interval=timedelta(
        microseconds=1)), V, r"curation_interval must be a timedelta from 1 second"),
    ("interval in seconds", lambda a: curator(a, curation_interval=86400), V,
     r"curation_interval must be a timedelta"),
    ("negative delay", lambda a: curator(a, curation_delay=timedelta(-1)), V,
     r"curation_delay must be a timedelta from 0"),
    ("delay a million days", lambda a: curator(a, curation_delay=timedelta(days=10**6)), V,
     r"curation_delay must be a timedelta from 0 to 3,660 days"),
    ("curate_past_intervals 'no'", lambda a: curator(a, curate_past_intervals="no"), V,
     r"curate_past_intervals must be True or False"),
    ("selectors a string", lambda a: curator(a, Curator, selectors="uniform"), V,
     r"selectors must be a non-empty list of Selector"),
    ("selectors empty", lambda a: curator(a, Curator, selectors=[]), V,
     r"selectors must be a non-empty list"),
    ("plain Curator without selectors", lambda a: curator(a, Curator), V,
     r"selectors must be a non-empty list of Selector objects"),
    ("plain Curator with a limit", lambda a: curator(a, Curator, api_client=5), V,
     r"a Curator takes no limit: set it on each Selector"),
    ("sort_field ''", lambda a: curator(a, AscendedSortCurator, sort_field=""), V,
     r"OrderedSampler field must be a field name"),
    ("sort_field 5", lambda a: curator(a, AscendedSortCurator, sort_field=5), V,
     r"OrderedSampler field must be a field name"),
    ("bounded lower above upper", lambda a: curator(
        a, BoundedRangeCurator, bound_field="inputs.x", lower_bound=5, upper_bound=1), V,
     r"no value lies between lower bound 5 and upper bound 1"),
    ("bounded NaN", lambda a: curator(a, BoundedRangeCurator, bound_field="inputs.x",
                                      lower_bound=math.nan, upper_bound=1), V,
     r"lower must not be NaN"),
    ("bounded text", lambda a: curator(a, BoundedRangeCurator, bound_field="inputs.x",
                                       lower_bound="a", upper_bound="b"), V,
     r"upper must be a number or a datetime"),
    ("sort_ascending 'yes'", lambda a: curator(
        a, BoundedRangeCurator, bound_field="inputs.x", lower_bound=0, upper_bound=1,
        sort_ascending="yes"), V, r"sort_ascending must be True or False"),
    ("equals a list", lambda a: curator(a, EqualityCurator, field="inputs.s", equals=[1]), V,
     r"equals must be a bool, number, string, date or datetime, got list"),
    ("equals NaN", lambda a: curator(a, EqualityCurator, field="inputs.x", equals=math.nan), V,
     r"must not be NaN"),
    ("equals 2**70", lambda a: curator(a, EqualityCurator, field="inputs.x", equals=2**70), V,
     r"equals must be an integer from -9,223,372,036,854,775,808"),
    ("equals a lone surrogate", lambda a: curator(a, EqualityCurator, field="inputs.s",
                                                  equals="\ud800"), V, r"is not valid text"),
    ("stratify_field None", lambda a: curator(a, StrictStratificationCurator,
                                              stratify_field=None), V,
     r"StratifiedSampler field must be a field name"),
    ("create(enable='yes')", lambda a: UniformCurator("c", "m", 5).create(
        enable="yes", workspace=a.workspace), V, r"enable must be True or False"),
    ("create for an unknown application", lambda a: UniformCurator("c", "nope", 5).create(
        workspace=a.workspace), NotFoundError, r"no application 'nope'"),
    ("create a taken curator name", lambda a: UniformCurator("existing-curator", "m", 5).create(
        workspace=a.workspace), AlreadyExistsError, r"curator 'existing-curator' already"),
    ("update to a 10**6-day interval", lambda a: get_curator(
        "existing-curator", workspace=a.workspace).update(
        new_curation_interval=timedelta(days=10**6)), V, r"new_curation_interval must be"),
    ("update create_new_dataset='yes'", lambda a: get_curator(
        "existing-curator", workspace=a.workspace).update(create_new_dataset="yes"), V,
     r"create_new_dataset must be True or False"),
    ("update new_selectors a string", lambda a: get_curator(
        "existing-curator", workspace=a.workspace).update(new_selectors="x"), V,
     r"new_selectors must be a non-empty list"),
    ("list_curators of a number", lambda a: list_curators(5, workspace=a.workspace), V,
     r"application name must be a string"),
    ("get_curator of a number", lambda a: get_curator(5, workspace=a.workspace), V,
     r"curator name must be a string"),
    ("get an unknown curator", lambda a: get_curator("nope", workspace=a.workspace),
     NotFoundError, r"no curator 'nope'"),
    ("select an interval in year 9999", lambda a: UniformCurator("c", "m", 5).select(
        a.workspace, datetime(9999, 1, 1), datetime(9999, 1, 2)), V,
     r"interval start must lie between"),
    ("create in a workspace given as a path", lambda a: UniformCurator("c", "m", 5).create(
        workspace="gantry.duckdb"), V, r"workspace must be a gantry_local Workspace, got str"),
    ("select with no workspace", lambda a: UniformCurator("c", "m", 5).select(None, S, S + DAY),
     V, r"workspace must be a gantry_local Workspace, got NoneType"),
    ("scheduler of a path", lambda a: gantry.Scheduler("gantry.duckdb"), V,
     r"Scheduler takes a gantry_local Workspace, got str"),
    ("scheduler stop timeout 'x'", lambda a: gantry.Scheduler(a.workspace).stop(timeout="x"), V,
     r"timeout must be a finite number"),
    ("select an empty interval", lambda a: UniformCurator("c", "m", 5).select(
        a.workspace, S, S), V, r"interval end .* is not after its start"),
    # -- selectors, samplers and filters ------------------------------------------------------
    ("selector limit 2**64", lambda a: selector(a, limit=2**64), V,
     r"selector limit must not exceed 10,000"),
    ("selector limit 0", lambda a: selector(a, limit=0), V, r"selector limit must be an integer"),
    ("selector method a string", lambda a: selector(a, method="uniform"), V,
     r"method must be a UniformSampler, OrderedSampler or StratifiedSampler"),
    ("filters not a list", lambda a: selector(a, filters=EqualsFilter("inputs.s", "a")), V,
     r"filters must be a list, got EqualsFilter"),
    ("filters of strings", lambda a: selector(a, filters=["inputs.x > 1"]), V,
     r"filters must be BoundsFilter, EqualsFilter, ContainsFilter or TagFilter"),
    ("tags of EqualsFilters", lambda a: selector(a, tags=[EqualsFilter("inputs.s", "a")]), V,
     r"tags must be TagFilter objects"),
    ("bounds without a bound", lambda a: with_filter(a, BoundsFilter("inputs.x")), V,
     r"needs a bound: upper, inclusive_upper, lower or inclusive_lower"),
    ("bound NaN", lambda a: with_filter(a, BoundsFilter("inputs.x", upper=math.nan)), V,
     r"upper must not be NaN"),
    ("bounds of two kinds", lambda a: with_filter(a, BoundsFilter("inputs.x", lower=1, upper=S)),
     V, r"are not of one kind"),
    ("two upper bounds", lambda a: with_filter(a, BoundsFilter(
        "inputs.x", upper=1, inclusive_upper=2)), V, r"both an exclusive and an inclusive upper"),
    ("inclusive_lower True", lambda a: with_filter(a, BoundsFilter(
        "inputs.x", inclusive_lower=True)), V, r"inclusive_lower must be a number or a datetime"),
    ("bound in year 9999", lambda a: with_filter(a, BoundsFilter(
        "__time", lower=datetime(9999, 1, 1))), V, r"lower must lie between"),
    ("bound 2**64", lambda a: with_filter(a, BoundsFilter("inputs.x", inclusive_lower=2**64)), V,
     r"inclusive_lower must be an integer from"),
    ("filter field ''", lambda a: with_filter(a, BoundsFilter("", lower=1)), V,
     r"BoundsFilter field must be a field name"),
    ("filter field with NUL", lambda a: with_filter(a, EqualsFilter("a\x00b", 1)), V,
     r"must not contain NUL"),
    ("filter field of 300 characters", lambda a: with_filter(a, ContainsFilter("x" * 300, "a")),
     V, r"ContainsFilter field must be a field name .*1 to 255 characters"),
    ("equals None", lambda a: with_filter(a, EqualsFilter("inputs.s", None)), V,
     r"must be a bool, number, string, date or datetime, got NoneType"),
    ("equals a dict", lambda a: with_filter(a, EqualsFilter("inputs.s", {})), V,
     r"got dict"),
    ("contains a number", lambda a: with_filter(a, ContainsFilter("inputs.s", 5)), V,
     r"ContainsFilter on 'inputs.s' takes a string"),
    ("contains a lone surrogate", lambda a: with_filter(a, ContainsFilter("inputs.s", "\udc00")),
     V, r"is not valid text"),
    ("tag value a number", lambda a: with_filter(a, TagFilter("env", 1)), V,
     r"TagFilter takes a tag name and a string value"),
    ("tag name ''", lambda a: with_filter(a, TagFilter("", "prod")), V,
     r"TagFilter takes a tag name"),
    ("sort 'up'", lambda a: selector(a, method=OrderedSampler("inputs.x", "up")), V,
     r"sort must be one of 'ascending', 'descending'"),
    ("mode 'random'", lambda a: selector(a, method=StratifiedSampler("inputs.s", "random")), V,
     r"mode must be one of 'strict', 'proportional', 'balanced'"),
    ("sampler field None", lambda a: selector(a, method=OrderedSampler(None, "ascending")), V,
     r"OrderedSampler field must be a field name"),
    # -- triggers ---------------------------------------------------------------------------
    ("interval 999,999,999 days", lambda a: interval(a, S, timedelta(days=999_999_999)), V,
     r"interval must be a timedelta from 1 second to 3,660 days"),
    ("trigger start year 9999", lambda a: interval(a, datetime(9999, 12, 31), DAY), V,
     r"start_on must lie between 1900-01-01 and 2200-01-01"),
    ("trigger start a string", lambda a: interval(a, "2024-01-01", DAY), V,
     r"start_on must be a datetime"),
    ("trigger delay negative", lambda a: interval(a, S, DAY, timedelta(hours=-1)), V,
     r"delay must be a timedelta from 0"),
    ("trigger interval 0", lambda a: interval(a, S, timedelta(0)), V,
     r"interval must be a timedelta from 1 second"),
    ("trigger interval a float", lambda a: interval(a, S, 3600.0), V,
     r"interval must be a timedelta"),
    ("dataset trigger ../x", lambda a: DatasetVersionTrigger("../x"), V,
     r"dataset name '\.\./x' is not allowed"),
    # -- automations ------------------------------------------------------------------------
    ("automation name with a space", lambda a: a.add_automation(Automation(
        "a b", IntervalTrigger(S, DAY), UniformCurator("c", "m", 5))), V, r"automation name"),
    ("trigger a string", lambda a: a.add_automation(Automation(
        "new", "daily", UniformCurator("c", "m", 5))), V,
     r"trigger must be an IntervalTrigger, an AggregationTrigger, a QueriesAggregationTrigger"),
    ("interval action a string", lambda a: a.add_automation(Automation(
        "new", IntervalTrigger(S, DAY), "curator")), V, r"action must be a curator, got str"),
    ("dataset trigger with a curator", lambda a: a.add_automation(Automation(
        "new", DatasetVersionTrigger("d"), UniformCurator("c", "m", 5))), V,
     r"a DatasetVersionTrigger runs a test suite"),
    ("add a string", lambda a: a.add_automation("nightly"), V,
     r"add_automation takes an Automation, got str"),
    ("curator of another application", lambda a: a.add_automation(Automation(
        "new", IntervalTrigger(S, DAY), UniformCurator("c", "other", 5))), V,
     r"the curator curates 'other', not 'm'"),
    ("curator named like a monitor", lambda a: a.add_automation(Automation(
        "existing-monitor", IntervalTrigger(S, DAY), UniformCurator("c", "m", 5))),
     AlreadyExistsError, r"automation 'existing-monitor' already exists .* with a different definition"),
    ("monitor named like a curator", lambda a: a.add_automation(Automation(
        "existing", _trigger(), print)), AlreadyExistsError,
     r"'existing' already exists .* with a different definition"),
    ("suite named like a curator", lambda a: gantry.Scheduler(a.workspace).add_automation(
        Automation("existing", DatasetVersionTrigger("existing-curator"), suite())),
     AlreadyExistsError, r"'existing' already exists .* with a different definition"),
    ("suite of another application's dataset", lambda a: a.workspace.get_application(
        "other").add_automation(Automation("new", DatasetVersionTrigger("m-data"), suite())), V,
     r"belongs to application 'm', not 'other'"),
    ("scheduler given a curator automation", lambda a: gantry.Scheduler(
        a.workspace).add_automation(Automation("new", IntervalTrigger(S, DAY),
                                               UniformCurator("c", "m", 5))), V,
     r"Scheduler.add_automation takes a test-suite Automation"),
    ("scheduler tick 0", lambda a: gantry.Scheduler(a.workspace, tick=0), V,
     r"tick must be a number of seconds"),
    ("scheduler tick '1'", lambda a: gantry.Scheduler(a.workspace, tick="1"), V,
     r"tick must be a number of seconds"),
    # -- aggregation triggers (alerts) --------------------------------------------------------
    ("tags with a number", lambda a: monitor(a, tags={"env": 1}), V,
     r"tag 'env' must be matched against a string, got 1"),
    ("tags a string", lambda a: monitor(a, tags="env"), V,
     r"tags must be a dict of tag name to string value"),
    ("reference on a mean", lambda a: monitor(a, reference="some-dataset"), V,
     r"reference= is for drift aggregations"),
    ("mean of a text field", lambda a: monitor(a, fields=["inputs.s"]), V,
     r"mean needs number fields; 'inputs.s' of 'm' is a category"),
    ("percent_true of a text field", lambda a: monitor(a, aggregation="percent_true",
                                                       fields=["inputs.s"]), V,
     r"percent_true needs number or bool fields"),
    ("window 999,999,999 days", lambda a: monitor(a, evaluation_window=timedelta(
        days=999_999_999)), V, r"evaluation_window must be a timedelta from 1 second"),
    ("window 0", lambda a: monitor(a, evaluation_window=timedelta(0)), V,
     r"evaluation_window must be a timedelta"),
    ("unknown aggregation", lambda a: monitor(a, aggregation="median"), V,
     r"unknown aggregation 'median'; Gantry's: total, maximum"),
    ("aggregation a list", lambda a: monitor(a, aggregation=["mean"]), V,
     r"aggregation must be a name such as 'maximum'"),
    ("lower above upper", lambda a: monitor(a, lower_bound=5, upper_bound=1), V,
     r"lower_bound 5 is above upper_bound 1"),
    ("bound NaN", lambda a: monitor(a, upper_bound=math.nan), V,
     r"upper_bound must be a finite number"),
    ("bound infinite", lambda a: monitor(a, upper_bound=math.inf), V,
     r"upper_bound must be a finite number"),
    ("bound 2**2000", lambda a: monitor(a, upper_bound=2**2000), V,
     r"upper_bound must be a finite number .* an integer of 603 digits"),
    ("fields a string", lambda a: monitor(a, fields="inputs.x"), V,
     r"fields must be a non-empty list of field names"),
    ("fields empty", lambda a: monitor(a, fields=[]), V, r"fields must be a non-empty list"),
    ("fields of numbers", lambda a: monitor(a, fields=[5]), V,
     r"fields must be field names such as 'inputs.amount', got 5"),
    ("min_rows zero", lambda a: monitor(a, min_rows=0), V, r"min_rows must be"),
    ("accuracy of one field", lambda a: monitor(a, aggregation="accuracy"), V,
     r"accuracy takes fields=\[output, feedback\]"),
    ("no bounds", lambda a: monitor(a, upper_bound=None), V, r"give a lower_bound, an upper"),
    ("trigger name bad", lambda a: monitor(a, name="a/b"), V, r"trigger name 'a/b'"),
    # -- actions ----------------------------------------------------------------------------
    ("webhook url unclosed IPv6", lambda a: webhook(a, "http://[::1"), V,
     r"webhook url 'http://\[::1' is not a valid URL \(Invalid IPv6 URL\)"),
    ("webhook url port 99999", lambda a: webhook(a, "http://x:99999"), V,
     r"not a valid URL \(Port out of range"),
    ("webhook url port -1", lambda a: webhook(a, "http://x:-1/p"), V, r"not a valid URL"),
    ("webhook url port abc", lambda a: webhook(a, "http://x:abc"), V, r"not a valid URL"),
    ("webhook url port 0", lambda a: webhook(a, "http://x:0"), V, r"port 0 cannot be"),
    ("slack url unclosed IPv6", lambda a: monitor(a, SendSlackMessage("s", "https://[::1/x")), V,
     r"not a valid URL"),
    ("webhook timeout 'x'", lambda a: webhook(a, URL, timeout="x"), V,
     r"webhook timeout \(seconds\) must be a finite number from 0.001 to 300"),
    ("webhook retries -1", lambda a: webhook(a, URL, retries=-1), V,
     r"webhook retries must be an integer from 0 to 10, got -1"),
    ("webhook retries 11", lambda a: webhook(a, URL, retries=11), V,
     r"webhook retries must be an integer from 0 to 10"),
    ("webhook retries 1.5", lambda a: webhook(a, URL, retries=1.5), V,
     r"webhook retries must be an integer"),
    ("webhook timeout 0", lambda a: webhook(a, URL, timeout=0), V,
     r"webhook timeout \(seconds\) must be a finite number"),
    ("webhook timeout inf", lambda a: webhook(a, URL, timeout=math.inf), V,
     r"webhook timeout \(seconds\) must be a finite number"),
    ("webhook backoff -1", lambda a: webhook(a, URL, backoff=-1), V,
     r"webhook backoff \(seconds\) must be a finite number from 0 to 60"),
    ("webhook url ftp", lambda a: webhook(a, "ftp://example.com/x"), V,
     r"webhook url must be http\(s\)"),
    ("webhook url without a host", lambda a: webhook(a, "http://"), V,
     r"webhook url 'http://' needs a host"),
    ("webhook url a number", lambda a: webhook(a, 5), V, r"webhook url must be http\(s\)"),
    ("webhook header with a newline", lambda a: webhook(a, URL, headers={"X": "a\r\nb"}), V,
     r"header 'X' must be one line of ASCII"),
    ("webhook headers a string", lambda a: webhook(a, URL, headers="X: 1"), V,
     r"headers must be a dict of strings"),
    ("slack action name bad", lambda a: monitor(a, SendSlackMessage("a b", URL)), V,
     r"Slack action name"),
    ("slack retries -1", lambda a: monitor(a, SendSlackMessage("oncall", URL, retries=-1)), V,
     r"webhook retries must be an integer from 0 to 10"),
    ("monitor action a number", lambda a: a.add_automation(Automation("new", _trigger(), 5)), V,
     r"an aggregation trigger's action must be SendSlackMessage, SendWebhook, a curator or a callable"),
    ("monitor curator with limit 0", lambda a: monitor(a, UniformCurator("c", "m", 0)), V,
     r"limit must be an integer from 1"),
    # -- the clock a scheduler is driven by -----------------------------------------------------
    ("clock advance timedelta.max", lambda a: gantry.ManualClock(CLOCK_START).advance(
        timedelta.max), V, r"would move the clock past the datetime range"),
    ("clock advance 3,000,000 days", lambda a: gantry.ManualClock(CLOCK_START).advance(
        timedelta(days=3_000_000)), V, r"past the datetime range.*smaller timedelta"),
    ("clock set past 9999 in UTC", lambda a: gantry.ManualClock(CLOCK_START).set(
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))), V,
     r"outside the datetime range once converted to UTC"),
    ("clock set a number", lambda a: gantry.ManualClock(CLOCK_START).set(5), V,
     r"set value must be a datetime, got int"),
]
CLOCK_START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_a_refused_advance_leaves_the_clock_where_it_was() -> None:
    clock = gantry.ManualClock(CLOCK_START)
    with pytest.raises(ValidationError):
        clock.advance(timedelta.max)
    assert clock.now() == CLOCK_START
    assert clock.advance(timedelta(days=1)) == CLOCK_START + timedelta(days=1)


@pytest.mark.parametrize(("build", "error", "match"),
                         [pytest.param(b, e, m, id=i) for i, b, e, m in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(
        shared: App, build: Callable[[App], Any], error: type[Exception], match: str) -> None:
    before = _snapshot(shared.workspace)
    with pytest.raises(error, match=match) as caught:
        build(shared)
    assert isinstance(caught.value, gantry.GantryLocalError)
    assert _snapshot(shared.workspace) == before


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60


LEGAL: list[tuple[str, Callable[[], Curator]]] = [
    ("limit 10,000", lambda: UniformCurator("c", "m", 10_000)),
    ("interval 1 second, delay 3,660 days", lambda: UniformCurator(
        "c", "m", 1, curation_interval=timedelta(seconds=1), curation_delay=timedelta(days=3660))),
    ("interval 3,660 days from 1900", lambda: UniformCurator(
        "c", "m", 1, start_on=datetime(1900, 1, 1), curation_interval=timedelta(days=3660))),
    ("start_on just before 2200, another zone", lambda: UniformCurator(
        "c", "m", 1, start_on=datetime(2199, 12, 31, 23, tzinfo=timezone(timedelta(hours=1))))),
    ("equals the largest int64", lambda: EqualityCurator("c", "m", 5, field="inputs.x",
                                                         equals=2**63 - 1)),
    ("equals text with accents and emoji", lambda: EqualityCurator(
        "c", "m", 5, field="inputs.s", equals="café ☕ \U0001F600")),
    ("bounds of datetimes", lambda: BoundedRangeCurator(
        "c", "m", 5, bound_field="__time", lower_bound=S, upper_bound=S + DAY)),
    ("filters of every kind", lambda: Curator("c", "m", selectors=[Selector(
        StratifiedSampler("inputs.s", "balanced"), limit=10_000,
        filters=[BoundsFilter("inputs.x", inclusive_lower=-1.5, upper=2**62),
                 ContainsFilter("inputs.s", ""), EqualsFilter("inputs.s", "t1")],
        tags=[TagFilter("env", "prod")])])),
]


@pytest.mark.parametrize("build", [pytest.param(b, id=i) for i, b in LEGAL])
def test_legal_edges_round_trip(ws: gantry.Workspace, seeded: App,
                                build: Callable[[], Curator]) -> None:
    made = build()
    made.create(workspace=ws)
    stored = get_curator("c", workspace=ws)
    assert (stored.limit, stored.start_on, stored.curation_interval, stored.curation_delay,
            stored.selectors) == (made.limit, made.start_on, made.curation_interval,
                                  made.curation_delay, made.selectors)
    stored.select(ws, S, S + DAY)  # runs
