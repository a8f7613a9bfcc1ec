"""`Application`: a handle on one model's logged traffic (Gantry's application object)."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

import polars as pl

from ._context import HasContext
from .errors import ValidationError
from .records._gantry_args import UNSET, wrong_feedback_name
from .records.query import Query

if TYPE_CHECKING:
    from ._db import Database
    from .automations.automations import Automation
    from .datasets import Dataset
    from .evaluation.completion import VersionDetails
    from .query._frame import GantryDataFrame
    from .query.time_window import RelativeTimeWindow, TimeWindow
    from .records._single import AppState

__all__ = ["Application", "Owner", "Run"]

_CURRENT_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("gantry_local_run",
                                                                          default=None)


@runtime_checkable
class Owner(HasContext, Protocol):
    """What an `Application` uses of the workspace that made it (`gantry_local.Workspace` is
    the one implementation): the context it hands the rooms it calls (they narrow it), its
    database and applications' states, and the façade's log calls, `flush`, datasets and
    `query`. It lets `Application` name its workspace's type without importing it."""

    database: Database

    def _app_state(self, name: object) -> AppState:
        """The live state of application `name`."""

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record logged before the call is in the database."""

    def create_dataset(self, name: str, bucket_name: str | None = None,
                       app_name: str | None = None) -> Dataset:
        """Create an empty dataset on the storage root."""

    def list_datasets(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every dataset of the storage root, sorted by name."""

    def log_record(self, application: str, version: int | str | None = None,
                   inputs: Mapping[str, Any] | None = None, outputs: Any = None,
                   feedback_id: str | Mapping[str, Any] | None = None,
                   feedback: Mapping[str, Any] | None = None,
                   feedback_keys: Sequence[str] | None = None,
                   ignore_inputs: Sequence[str] | None = None, timestamp: datetime | None = None,
                   sample_rate: float = 1.0, tags: Mapping[str, str] | None = None,
                   join_key: str | None = None, *, feedbacks: Any = UNSET) -> str | None:
        """Log one record (the hot path)."""

    def log_records(self, application: str, version: int | str | None = None,
                    inputs: Any = None, outputs: Any = None,
                    feedback_keys: Sequence[str] | None = None,
                    feedback_ids: Sequence[str] | Sequence[Mapping[str, Any]] | None = None,
                    feedbacks: Any = None, ignore_inputs: Sequence[str] | None = None,
                    timestamps: Any = None, sort_on_timestamp: bool = True,
                    sample_rate: float = 1.0, as_batch: bool = False,
                    tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
                    join_keys: Any = None, row_tags: Any = None,
                    global_tags: Mapping[str, str] | None = None, *, feedback: Any = UNSET
                    ) -> tuple[str | None, list[str]]:
        """Log many records; ``(batch_id, join_keys)``."""

    def log_file(self, application: str, filepath: str | Path, version: int | str | None = None,
                 timestamp: str | None = None, inputs: Sequence[str] | None = None,
                 outputs: Sequence[str] | None = None, feedbacks: Sequence[str] | None = None,
                 tags: Sequence[str] | None = None, feedback_id: str | None = None,
                 feedback_keys: Sequence[str] | None = None, sep: str = ",",
                 join_key: str | None = None) -> None:
        """Log a CSV or Parquet file of records as one batch."""

    def query(self, application: str, start_time: datetime | None = None,
              end_time: datetime | None = None, version: int | str | None = None,
              tags: Mapping[str, str] | None = None,
              filters: Sequence[Mapping[str, Any]] | None = None) -> Query:
        """Records of `application` in ``[start_time, end_time)``."""


_W = TypeVar("_W", bound=Owner, covariant=True)  # the workspace type: `Workspace` for users


class Application(Generic[_W]):
    """One application of a workspace. Get it from `create_application`/`get_application`.

    Generic in its workspace: what `Workspace` returns is an ``Application[Workspace]``, so
    ``app.workspace`` is typed as the `Workspace` that made it.
    """

    def __init__(self, workspace: _W, name: str, application_type: str = "Custom") -> None:
        self._workspace = workspace
        self.name = name
        self.application_type = application_type

    @property
    def workspace(self) -> _W:
        """The workspace this application belongs to."""
        return self._workspace

    def __repr__(self) -> str:
        return f"Application(name={self.name!r}, application_type={self.application_type!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Application) and other.workspace is self.workspace
                and other.name == self.name)

    def __hash__(self) -> int:
        return hash((id(self.workspace), self.name))

    def log_record(
        self,
        version: int | str | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Any = None,
        feedback_id: str | Mapping[str, Any] | None = None,
        feedback: Mapping[str, Any] | None = None,
        feedback_keys: Sequence[str] | None = None,
        ignore_inputs: Sequence[str] | None = None,
        timestamp: datetime | None = None,
        sample_rate: float = 1.0,
        tags: Mapping[str, str] | None = None,
        join_key: str | None = None,
        *,
        feedbacks: Any = UNSET,
    ) -> str | None:
        """Log one record; see `Workspace.log_record` (the one route to the hot path)."""
        return self.workspace.log_record(self.name, version, inputs, outputs, feedback_id,
                                         feedback, feedback_keys, ignore_inputs, timestamp,
                                         sample_rate, tags, join_key, feedbacks=feedbacks)

    def log_records(
        self,
        version: int | str | None = None,
        inputs: Any = None,
        outputs: Any = None,
        feedback_keys: Sequence[str] | None = None,
        feedback_ids: Sequence[str] | Sequence[Mapping[str, Any]] | None = None,
        feedbacks: Any = None,
        ignore_inputs: Sequence[str] | None = None,
        timestamps: Any = None,
        sort_on_timestamp: bool = True,
        sample_rate: float = 1.0,
        as_batch: bool = False,
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        join_keys: Any = None,
        row_tags: Any = None,
        global_tags: Mapping[str, str] | None = None,
        *,
        feedback: Any = UNSET,
    ) -> tuple[str | None, list[str]]:
        """Log many records; ``(batch_id, join_keys)``, see `Workspace.log_records`."""
        return self.workspace.log_records(
            self.name, version, inputs, outputs, feedback_keys, feedback_ids, feedbacks,
            ignore_inputs, timestamps, sort_on_timestamp, sample_rate, as_batch, tags, join_keys,
            row_tags, global_tags, feedback=feedback)

    def log(
        self,
        inputs: Any = None,
        outputs: Any = None,
        feedbacks: Any = None,
        ignore_inputs: Sequence[str] | None = None,
        timestamps: Any = None,
        sort_on_timestamp: bool = True,
        sample_rate: float = 1.0,
        as_batch: bool = False,
        version: int | str | None = None,
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        row_tags: Any = None,
        global_tags: Mapping[str, str] | None = None,
        join_keys: Any = None,
        *,
        feedback: Any = UNSET,
    ) -> str | tuple[str | None, list[str]] | None:
        """Gantry's ``Application.log``: one record or many, as dicts, lists or frames.

        Returns ``(batch_id, join_keys)``, or one join key when `inputs`, `outputs` and
        `feedbacks` are all dicts (as Gantry's ``log``). Inside ``with app.start_run(...)``
        the records join the run's batch and carry its tags.
        """
        from ._logging import log

        if feedback is not UNSET:
            raise wrong_feedback_name("log")
        run = _CURRENT_RUN.get()
        if run is not None and run.application == self:
            return log(self.workspace, self.name, version, inputs, outputs, feedbacks,
                       ignore_inputs, tags, timestamps, sort_on_timestamp, sample_rate, row_tags,
                       global_tags, join_keys, as_batch, run.run_id, run.tags, run.name)
        return log(self.workspace, self.name, version, inputs, outputs, feedbacks, ignore_inputs,
                   tags, timestamps, sort_on_timestamp, sample_rate, row_tags, global_tags,
                   join_keys, as_batch, None, None)

    def log_file(
        self,
        filepath: str | Path,
        version: int | str | None = None,
        timestamp: str | None = None,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
        feedbacks: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        feedback_id: str | None = None,
        feedback_keys: Sequence[str] | None = None,
        sep: str = ",",
        join_key: str | None = None,
    ) -> None:
        """Log a CSV or Parquet file of records as one batch (see `Workspace.log_file`)."""
        self.workspace.log_file(self.name, filepath, version, timestamp, inputs, outputs,
                                feedbacks, tags, feedback_id, feedback_keys, sep, join_key)

    def start_run(self, name: str, tags: Mapping[str, str] | None = None) -> Run:
        """A `Run`: ``with app.start_run(name="nightly", tags={...}):`` groups every
        ``app.log`` call inside into one batch, tagged with `tags`."""
        return Run(self, tags, name)

    def get_run(self, name: str | None = None, tags: Mapping[str, str] | None = None
                ) -> list[dict[str, Any]] | None:
        """The batches of the runs called `name` (or carrying all of `tags`), oldest first;
        None when neither is given, as in Gantry."""
        from .records._batch_log import list_batches

        if name is None and tags is None:
            return None
        if name is not None and not isinstance(name, str):
            raise ValidationError(f"name must be a run name, got {type(name).__name__}")
        if tags is not None and not isinstance(tags, Mapping):
            raise ValidationError(f"tags must be a dict, got {type(tags).__name__}")
        self.workspace._app_state(self.name)
        with self.workspace.database.cursor() as con:
            found = list_batches(con, self.name, run_name=name,
                                 run_tags=None if name is not None else tags)
        return [b for b in found if b["run_name"] is not None]

    def get_schema(self) -> dict[str, Any]:
        """The application's schema as Gantry returns it: ``func_name`` (its name),
        ``model_type``, and each logged field with its type, by section."""
        state = self.workspace._app_state(self.name)
        from .records._schema import FEEDBACK, RECORDS

        fields = {**state.schema.snapshot(RECORDS), **state.schema.snapshot(FEEDBACK)}
        sections: dict[str, dict[str, str]] = {"inputs": {}, "outputs": {}, "feedback": {},
                                               "tags": {}}
        for column, logical in sorted(fields.items()):
            section, _, field = column.partition(".")
            sections.setdefault(section, {})[field] = logical
        return {"func_name": self.name, "model_type": self.application_type,
                "versions": self._versions(), **sections}

    def _versions(self) -> list[str]:
        from .query._functions import _distinct

        return _distinct(self.workspace, self.name, "__version")

    def create_dataset(self, name: str) -> Dataset:
        """Create a dataset linked to this application (Gantry's ``app.create_dataset``)."""
        return self.workspace.create_dataset(name, app_name=self.name)

    def list_datasets(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """The datasets linked to this application, as `list_datasets` gives them."""
        self.workspace._app_state(self.name)
        return [d for d in self.workspace.list_datasets(include_deleted)
                if d.get("app_name") == self.name]

    def save_query(self, name: str, query: Any) -> None:
        """Save a query (a `GantryDataFrame` from `app.query`) under `name`; saving a name
        again replaces it (Gantry's update)."""
        from .query._saved import save_query

        save_query(self.workspace, self.name, name, query)

    def get_query(self, name: str) -> GantryDataFrame:
        """The `GantryDataFrame` saved under `name` (relative windows end at now)."""
        from .query._saved import get_query

        return get_query(self.workspace, self.name, name)

    def list_queries(self) -> list[dict[str, Any]]:
        """Every saved query of this application, as dicts (``name`` first)."""
        from .query._saved import list_queries

        return list_queries(self.workspace, self.name)

    def query(
        self,
        time_window: TimeWindow | RelativeTimeWindow | None = None,
        version: int | str | None = None,
        env: str | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        all_time: bool = False,
    ) -> Query:
        """Records of this application, as Gantry's `GantryDataFrame` (also a `Query`).

        Gantry's form: ``app.query(time_window, version, env, filters, tags)`` with a
        `TimeWindow` or `RelativeTimeWindow` (from ``gantry_local.query.time_window``) gives
        a `GantryDataFrame` over that window (``env`` matches the ``env`` tag); with no
        window (and none of our bounds) the window is the last 24 hours by the workspace
        clock, ``[now - 24h, now)``, as in Gantry. Our forms, without `time_window` or `env`:
        `start_time`/`end_time` bound ``__time`` (inclusive, exclusive; one left out is open)
        and ``all_time=True`` keeps every record; both give a `Query`.

        Args:
            time_window: Gantry's window; cannot be combined with `start_time`/`end_time`.
            version: only records of this model version (``10`` and ``"10"`` are the same).
            env: only records whose ``env`` tag is this.
            filters: Gantry-style filter dicts, all of which must hold, e.g.
                ``{"feature_name": "inputs.speed", "lower_bound": 0, "upper_bound": 3}``
                (strict bounds, as in Gantry; ``inclusive_lower_bound`` and
                ``inclusive_upper_bound`` include theirs), ``equals``, tag filters
                (``"dtype": "tag"``), ``{"feature_name": "inputs.color", "category_query":
                ["red", "blue"]}``, ``{"feature_name": "inputs.city", "string_query": "san"}``
                (substring), ``{"feature_name": "feedback.label", "null_value": True}``,
                ``{"feature_name": "inputs.flag", "boolean_query": False}``.
            tags: only records carrying all these tag values.
            start_time: inclusive lower bound on ``__time``; naive means UTC.
            end_time: exclusive upper bound on ``__time``; naive means UTC.
            all_time: every record, whenever logged (ours; Gantry's default is 24 hours).

        Raises:
            ValidationError: bad bounds, malformed filters, unknown field names (the
                message lists the known ones), or `all_time` with a window or bounds.
        """
        bounded = start_time is not None or end_time is not None
        if not isinstance(all_time, bool):
            raise ValidationError(f"all_time must be True or False, got {all_time!r}")
        if all_time and (time_window is not None or bounded):
            raise ValidationError("all_time=True keeps every record: give no time_window, "
                                  "start_time or end_time with it")
        if time_window is not None and bounded:
            raise ValidationError("give either time_window or start_time/end_time, not both")
        if not (bounded or all_time):  # Gantry's form; no window is the last 24 hours
            from .query._functions import window_frame

            return window_frame(self.workspace, self.name, time_window, version, env, filters,
                                tags)
        if env is None:
            return self.workspace.query(self.name, start_time, end_time, version, tags, filters)
        from .query._frame import GantryDataFrame

        return GantryDataFrame(self.workspace, self.name, start_time, end_time, version, env,
                               filters, tags)

    def add_automation(self, automation: Automation) -> Automation:
        """Add an `Automation` of any kind (the same definition again is a no-op) and start the
        background scheduler loop, so it runs with no further call (see `Workspace`'s
        ``background_scheduler``)."""
        from .automations.automations import add_automation
        from .automations.scheduler import ensure_background

        added = add_automation(self, automation)
        ensure_background(self.workspace)  # the seed's promise: added means it runs
        return added

    def list_automations(self) -> list[dict[str, Any]]:
        """This application's automations of every kind, as Gantry's dicts (``name``,
        ``application_name``, ``trigger``, ``action``; ours: ``kind``, ``stopped``)."""
        from .automations.automations import list_automations

        return list_automations(self)

    def get_automation(self, automation_name: str | None = None) -> Automation:
        """One automation of this application, by name, as an `Automation`."""
        from .automations.automations import get_automation

        return get_automation(self, automation_name)

    # -- monitoring: how the data and the model change over time ------------------------------

    def summarize(self, interval: timedelta = timedelta(days=1), start_time: datetime | None = None,
                  end_time: datetime | None = None, fields: Sequence[str] | None = None,
                  version: int | str | None = None, tags: Mapping[str, str] | None = None
                  ) -> pl.DataFrame:
        """Per interval and field: count, null rate, and the field's statistics.

        See `gantry_local.monitoring.summarize`.
        """
        from .monitoring import summarize

        return summarize(self.workspace, self.name, interval, start_time, end_time, fields,
                         version, tags)

    def metrics(self, metrics: Sequence[str], output: str | None = None,
                feedback: str | None = None, interval: timedelta = timedelta(days=1),
                start_time: datetime | None = None, end_time: datetime | None = None,
                version: int | str | None = None, tags: Mapping[str, str] | None = None,
                threshold: float | None = None, positive_label: Any = None) -> pl.DataFrame:
        """Gantry's metrics (accuracy, f1, roc_auc, mae, percent_null...) per interval, with
        feedback joined by key. See `gantry_local.monitoring.metrics_over_time`."""
        from .monitoring import metrics_over_time

        return metrics_over_time(self.workspace, self.name, metrics, output, feedback, interval,
                                 start_time, end_time, version, tags, threshold, positive_label)

    def drift(self, reference: Any, current: Any, fields: Sequence[str] | None = None,
              psi_threshold: float = 0.2, js_threshold: float = 0.1) -> pl.DataFrame:
        """Per field, how `current` differs from `reference`, and a drift flag.

        Each side is a ``(start, end)`` pair of datetimes, a `Dataset` (its latest version)
        or ``(dataset, version_id)``. See `gantry_local.monitoring.drift`.
        """
        from .monitoring import drift

        return drift(self.workspace, self.name, reference, current, fields, psi_threshold,
                     js_threshold)

    def drift_over_time(self, reference: Any, interval: timedelta = timedelta(days=1),
                        start_time: datetime | None = None, end_time: datetime | None = None,
                        fields: Sequence[str] | None = None, psi_threshold: float = 0.2,
                        js_threshold: float = 0.1, tests: bool = True) -> pl.DataFrame:
        """Every interval against `reference` and against the interval before it
        (``tests=False``: distances and flags only, counted in DuckDB: much faster)."""
        from .monitoring import drift_over_time

        return drift_over_time(self.workspace, self.name, reference, interval, start_time,
                               end_time, fields, psi_threshold, js_threshold, tests)

    def report(self, path: str | Path = "report.html", interval: timedelta = timedelta(days=1),
               start_time: datetime | None = None, end_time: datetime | None = None) -> Path:
        """Write one self-contained HTML report (opens offline, no JavaScript): traffic,
        distributions, nulls, drift, metrics, alerts, datasets, the latest evaluation."""
        from .monitoring.report import write_report

        return write_report(self.workspace, self.name, path, interval, start_time, end_time)

    def list_alerts(self) -> pl.DataFrame:
        """This application's alerts, newest first: fired and resolved times, value, bounds."""
        from .monitoring.alerts import list_alerts

        return list_alerts(self.workspace, self.name)

    # -- completion applications (prompt versions) --------------------------------------------

    def create_version(self, prompt_template: str, description: str, model: str,
                       model_params: Mapping[str, Any] | None = None,
                       prompt_inputs: Sequence[str] | None = None) -> VersionDetails:
        """Store a new prompt version of this completion application (numbered 1, 2, ...).

        `prompt_template` uses ``{{variable}}`` placeholders filled from a row's inputs;
        `model` names a callable registered with `Workspace.register_model`.

        Raises:
            ValidationError: not a completion application, or a bad argument.
        """
        from .evaluation.completion import create_version

        return create_version(self.workspace, self.name, prompt_template, description, model,
                              model_params, prompt_inputs)

    def get_version(self, version: str | int) -> VersionDetails | None:
        """A prompt version: ``"latest"``, an environment (``"prod"``) or its number; None when
        there is none."""
        from .evaluation.completion import get_version

        return get_version(self.workspace, self.name, version)

    def list_versions(self) -> list[VersionDetails]:
        """Every prompt version, oldest first."""
        from .evaluation.completion import list_versions

        return list_versions(self.workspace, self.name)

    def deploy_version(self, version_id: uuid.UUID | str, env: str) -> None:
        """Point environment `env` (``"prod"``, ``"test"``) at the version `version_id`."""
        from .evaluation.completion import deploy_version

        deploy_version(self.workspace, self.name, version_id, env)

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything logged so far is in the database."""
        self.workspace.flush(timeout)


class Run:
    """Gantry's logging run: ``with app.start_run(name, tags) as run:`` makes every
    ``app.log`` of that application inside the block part of one batch (``run.run_id``),
    its records tagged with `tags`.

    Runs nest per thread and per asyncio task (a context variable); records are written
    as they are logged, so leaving the block early loses nothing already logged.
    """

    def __init__(self, application: Application[Owner], tags: Mapping[str, str] | None,
                 name: str) -> None:
        if not isinstance(application, Application):
            raise ValidationError(f"a run belongs to an Application, got "
                                  f"{type(application).__name__}")
        if not isinstance(name, str) or not name or not name.isprintable() or len(name) > 255:
            raise ValidationError(f"a run's name must be 1 to 255 printable characters, got "
                                  f"{name!r:.80}")
        if tags is not None and (not isinstance(tags, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in tags.items())):
            raise ValidationError(f"a run's tags must be a dict of strings, got {tags!r:.80}")
        self.run_id = str(uuid.uuid4())
        self.name = name
        self.application = application
        self.tags: dict[str, str] = dict(tags or {})
        self._token: contextvars.Token[Run | None] | None = None

    def __repr__(self) -> str:
        return f"Run(name={self.name!r}, run_id={self.run_id!r}, tags={self.tags})"

    def __enter__(self) -> Run:
        self.application.workspace._app_state(self.application.name)
        self._token = _CURRENT_RUN.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None = None,
                 exc: BaseException | None = None, tb: TracebackType | None = None) -> None:
        if self._token is not None:
            _CURRENT_RUN.reset(self._token)
            self._token = None

    def end(self) -> None:
        """End the run (for use without ``with``)."""
        self.__exit__()
