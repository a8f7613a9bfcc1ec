"""`Application`: a handle on one model's logged traffic (Gantry's application object)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .errors import ValidationError
from .records.query import Query

if TYPE_CHECKING:
    from .evaluation.completion import CompletionVersion
    from .query.time_window import RelativeTimeWindow, TimeWindow
    from .workspace import Workspace

__all__ = ["Application"]


class Application:
    """One application of a workspace. Get it from `create_application`/`get_application`."""

    def __init__(self, workspace: Workspace, name: str, application_type: str = "Custom") -> None:
        self.workspace = workspace
        self.name = name
        self.application_type = application_type

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
        feedback: Mapping[str, Any] | None = None,
        join_key: str | None = None,
        timestamp: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        sample_rate: float = 1.0,
    ) -> str:
        """Log one record; see `Workspace.log_record`."""
        workspace = self.workspace
        state = workspace._apps.get(self.name)
        if state is None:
            state = workspace._app_state(self.name)  # raises the right error
        if workspace._default_env is not None and (inputs is not None or outputs is not None):
            tags = workspace._env_tags(tags)
        return workspace._logger.log_one(state, version, inputs, outputs, feedback, join_key,
                                         timestamp, tags, sample_rate)

    def log_records(
        self,
        version: int | str | None = None,
        inputs: Any = None,
        outputs: Any = None,
        feedbacks: Any = None,
        join_keys: Sequence[str] | None = None,
        timestamps: Sequence[datetime] | None = None,
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        sample_rate: float = 1.0,
    ) -> list[str]:
        """Log many records; see `Workspace.log_records`."""
        return self.workspace.log_records(self.name, version, inputs, outputs, feedbacks,
                                          join_keys, timestamps, tags, sample_rate)

    def log(
        self,
        version: int | str | None = None,
        inputs: Any = None,
        outputs: Any = None,
        feedbacks: Any = None,
        join_keys: Sequence[str] | None = None,
        timestamps: Sequence[datetime] | None = None,
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        sample_rate: float = 1.0,
    ) -> list[str]:
        """Log records given as lists or frames (Gantry's ``Application.log``).

        A single dict of inputs is taken as one record, so ``app.log(inputs={...},
        outputs=...)`` works too; it returns a one-element list of join keys.
        """
        if isinstance(inputs, Mapping) or isinstance(feedbacks, Mapping):
            inputs = None if inputs is None else [inputs]
            outputs = None if outputs is None else [outputs]
            feedbacks = None if feedbacks is None else [feedbacks]
            if isinstance(join_keys, str):
                join_keys = [join_keys]
            if isinstance(timestamps, datetime):
                timestamps = [timestamps]
        return self.log_records(version, inputs, outputs, feedbacks, join_keys, timestamps,
                                tags, sample_rate)

    def query(
        self,
        time_window: TimeWindow | RelativeTimeWindow | None = None,
        version: int | str | None = None,
        env: str | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> Query:
        """Records of this application, as Gantry's `GantryDataFrame` (also a `Query`).

        Gantry's form: ``app.query(time_window, version, env, filters, tags)`` with a
        `TimeWindow` or `RelativeTimeWindow` (from ``gantry_local.query.time_window``) gives
        a `GantryDataFrame` over that window (``env`` matches the ``env`` tag). Our form,
        without `time_window` or `env`: `start_time`/`end_time` bound ``__time`` (inclusive,
        exclusive; none means all records) and the result is a `Query`.

        Args:
            time_window: Gantry's window; cannot be combined with `start_time`/`end_time`.
            version: only records of this model version (``10`` and ``"10"`` are the same).
            env: only records whose ``env`` tag is this.
            filters: Gantry-style filter dicts, all of which must hold, e.g.
                ``{"feature_name": "inputs.speed", "lower_bound": 0, "upper_bound": 3}``
                (bounds inclusive), ``{"feature_name": "inputs.color", "category_query":
                ["red", "blue"]}``, ``{"feature_name": "inputs.city", "string_query": "san"}``
                (substring), ``{"feature_name": "feedback.label", "null_value": True}``,
                ``{"feature_name": "inputs.flag", "boolean_query": False}``; with a
                time window also ``equals`` and tag filters (``"dtype": "tag"``).
            tags: only records carrying all these tag values.
            start_time: inclusive lower bound on ``__time``; naive means UTC.
            end_time: exclusive upper bound on ``__time``; naive means UTC.

        Raises:
            ValidationError: bad bounds, malformed filters, or unknown field names (the
                message lists the known ones).
        """
        if time_window is None and env is None:
            return self.workspace.query(self.name, start_time, end_time, version, tags, filters)
        from .query import window_frame

        if time_window is not None and (start_time is not None or end_time is not None):
            raise ValidationError("give either time_window or start_time/end_time, not both")
        if time_window is None:
            from .query._frame import GantryDataFrame

            return GantryDataFrame(self.workspace, self.name, start_time, end_time, version,
                                   env, filters, tags)
        return window_frame(self.workspace, self.name, time_window, version, env, filters, tags)

    def add_automation(self, automation: Any) -> Any:
        """Add an `Automation`: its curator takes the trigger's schedule and is turned on."""
        from .automations.automations import add_automation

        return add_automation(self, automation)

    def list_automations(self) -> list[Any]:
        """This application's automations."""
        from .automations.automations import list_automations

        return list_automations(self)

    def get_automation(self, name: str) -> Any:
        """One automation of this application, by name."""
        from .automations.automations import get_automation

        return get_automation(self, name)

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
                       model_params: Mapping[str, Any] | None = None) -> CompletionVersion:
        """Store a new prompt version of this completion application (numbered 1, 2, ...).

        `prompt_template` uses ``{{variable}}`` placeholders filled from a row's inputs;
        `model` names a callable registered with `Workspace.register_model`.

        Raises:
            ValidationError: not a completion application, or a bad argument.
        """
        from .evaluation.completion import create_version

        return create_version(self.workspace, self.name, prompt_template, description, model,
                              model_params)

    def get_version(self, version: str | int = "latest") -> CompletionVersion:
        """A prompt version: its number, ``"latest"``, or an environment name (``"prod"``)."""
        from .evaluation.completion import get_version

        return get_version(self.workspace, self.name, version)

    def list_versions(self) -> list[CompletionVersion]:
        """Every prompt version, oldest first."""
        from .evaluation.completion import list_versions

        return list_versions(self.workspace, self.name)

    def deploy_version(self, version_id: str, env: str = "prod") -> None:
        """Point environment `env` at the version with id `version_id`."""
        from .evaluation.completion import deploy_version

        deploy_version(self.workspace, self.name, version_id, env)

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything logged so far is in the database."""
        self.workspace.flush(timeout)
