"""Gantry SDK 0.6's public start-up and query signatures, checked against ours.

Each entry is copied from the SDK source (gantry/__init__.py, gantry/logger/main.py,
gantry/query/main.py, gantry/query/time_window.py, gantry/applications/core.py,
gantry/query/core/dataframe.py, gantry/applications/llm.py): parameter names, their order and
defaults. Ours must
start with exactly these; our extras may only follow.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.llm import ChatApplication, CompletionApplication, VersionDetails
from gantry_local.llm_utils import fill_prompt
from gantry_local.query.time_window import RelativeTimeWindow, TimeWindow

_ = inspect.Parameter.empty  # no default

GANTRY: list[tuple[str, Callable[..., Any], list[tuple[str, Any]]]] = [
    ("gantry.init", gantry.init, [("api_key", None), ("logging_level", None),
                                  ("environment", None), ("send_in_background", None)]),
    ("gantry.ping", gantry.ping, []),
    ("gantry.ready", gantry.ready, []),
    ("gquery.query", gquery.query, [
        ("application", _), ("start_time", None), ("end_time", None), ("version", None),
        ("environment", None), ("filters", None), ("view", None), ("tags", None),
        ("batch_id", None)]),
    ("gquery.init", gquery.init, [("api_key", None)]),
    ("gquery.list_application_versions", gquery.list_application_versions,
     [("application", _)]),
    ("gquery.list_application_environments", gquery.list_application_environments,
     [("application", _)]),
    ("gquery.list_application_batches", gquery.list_application_batches,
     [("application", _), ("version", None)]),
    ("gquery.print_application_info", gquery.print_application_info, [("application", _)]),
    ("TimeWindow", TimeWindow, [("start_time", _), ("end_time", _)]),
    ("RelativeTimeWindow", RelativeTimeWindow, [("window_length", _), ("offset", None)]),
    ("Application.query", gantry.Application.query, [
        ("self", _), ("time_window", None), ("version", None), ("env", None),
        ("filters", None), ("tags", None)]),
    ("GantryDataFrame.head", gquery.GantryDataFrame.head, [("self", _), ("n", 5)]),
    ("GantryDataFrame.tail", gquery.GantryDataFrame.tail, [("self", _), ("n", 5)]),
    ("GantryDataFrame.fetch", gquery.GantryDataFrame.fetch, [("self", _)]),
    ("GantryDataFrame.describe", gquery.GantryDataFrame.describe, [("self", _)]),
    # gantry/applications/llm.py
    ("VersionDetails", VersionDetails, [("config", _), ("description", _), ("app_name", _),
                                        ("version_id", _), ("version_number", _)]),
    ("CompletionApplication.create_version", CompletionApplication.create_version, [
        ("self", _), ("prompt_template", _), ("description", _), ("model", _),
        ("model_params", None), ("prompt_inputs", None)]),
    ("CompletionApplication.get_version", CompletionApplication.get_version,
     [("self", _), ("version", _)]),
    ("CompletionApplication.deploy_version", CompletionApplication.deploy_version,
     [("self", _), ("version_id", _), ("env", _)]),
    ("ChatApplication.create_version", ChatApplication.create_version, [
        ("self", _), ("prompt_template", _), ("description", _), ("model", _),
        ("model_params", None), ("prompt_inputs", None)]),
    ("ChatApplication.log_llm_data", ChatApplication.log_llm_data, [
        ("self", _), ("api_request", _), ("api_response", _), ("request_attributes", None),
        ("response_attributes", None), ("feedback", None), ("selected_choice_index", 0),
        ("session_id", None), ("tags", None), ("version", None)]),
    # gantry/query/metric/main.py and gantry/query/distance/main.py
    *[(f"gquery.metric.{m}", getattr(gquery.metric, m),
       [("outputs", _), ("feedback", _), ("dropna", False), ("num_points", 1), *extra])
      for m, extra in (("accuracy_score", []), ("confusion_matrix", []), ("roc_auc_score", []),
                       ("mean_squared_error", [("multioutput", "uniform_average"),
                                               ("squared", True)]),
                       ("r2_score", [("multioutput", "uniform_average")]),
                       *[(m, [("average", "micro")])
                         for m in ("f1_score", "precision_score", "recall_score")])],
    *[(f"gquery.metric.{m}", getattr(gquery.metric, m),
       [("data_node", _), ("dropna", False), ("num_points", 1)])
      for m in ("percent_null", "percent_true", "percent_false")],
    *[(f"gquery.distance.{d}", getattr(gquery.distance, d), [("feat1", _), ("feat2", _)])
      for d in ("d1", "dinf", "ks", "kl")],
    # gantry/applications/llm_utils.py, gantry/logger/main.py, gantry/logger/utils.py
    ("llm_utils.fill_prompt", fill_prompt, [("prompt", _), ("values", _), ("strict", False)]),
    ("gantry.get_client", gantry.get_client, []),
    ("gantry.setup_logger", gantry.setup_logger, [("level", "INFO")]),
    ("gantry.JoinKey.from_dict", gantry.JoinKey.from_dict, [("dict_", _)]),
    ("CompletionApplication.log_llm_data", CompletionApplication.log_llm_data, [
        ("self", _), ("api_request", _), ("api_response", _), ("request_attributes", None),
        ("response_attributes", None), ("feedback", None), ("selected_choice_index", 0),
        ("session_id", None), ("tags", None), ("version", None), ("vendor", "openai")]),
]
# gantry/logger/client.py (Gantry.log_record, log_records, log, log_file,
# log_from_data_connector: the module functions take their signatures, without self),
# gantry/applications/client.py, gantry/applications/core.py (Application, Run),
# gantry/query/client.py (create_view, list_application_views, list_applications) and
# gantry/utils.py (compute_feedback_id).
LOGGING: list[tuple[str, Callable[..., Any], list[tuple[str, Any]]]] = [
    ("gantry.log_record", gantry.log_record, [
        ("application", _), ("version", None), ("inputs", None), ("outputs", None),
        ("feedback_id", None), ("feedback", None), ("feedback_keys", None),
        ("ignore_inputs", None), ("timestamp", None), ("sample_rate", 1.0), ("tags", None),
        ("join_key", None)]),
    ("gantry.log_records", gantry.log_records, [
        ("application", _), ("version", None), ("inputs", None), ("outputs", None),
        ("feedback_keys", None), ("feedback_ids", None), ("feedbacks", None),
        ("ignore_inputs", None), ("timestamps", None), ("sort_on_timestamp", True),
        ("sample_rate", 1.0), ("as_batch", False), ("tags", None), ("join_keys", None),
        ("row_tags", None), ("global_tags", None)]),
    ("gantry.log", gantry.log, [
        ("application", _), ("version", None), ("inputs", None), ("outputs", None),
        ("feedbacks", None), ("ignore_inputs", None), ("tags", None), ("timestamps", None),
        ("sort_on_timestamp", True), ("sample_rate", 1.0), ("row_tags", None),
        ("global_tags", None), ("join_keys", None), ("as_batch", False), ("run_id", None),
        ("run_tags", None)]),
    ("gantry.log_file", gantry.log_file, [
        ("application", _), ("filepath", _), ("version", None), ("timestamp", None),
        ("inputs", None), ("outputs", None), ("feedbacks", None), ("tags", None),
        ("feedback_id", None), ("feedback_keys", None), ("sep", ","), ("join_key", None)]),
    ("gantry.log_from_data_connector", gantry.log_from_data_connector, [
        ("application", _), ("source_data_connector_name", _), ("timestamp", None),
        ("inputs", None), ("outputs", None), ("feedbacks", None), ("join_key", None),
        ("row_tags", None), ("global_tags", None), ("schedule", None),
        ("pipeline_name", None)]),
    ("gantry.create_application", gantry.create_application,
     [("application_name", _), ("application_type", None)]),
    ("gantry.get_application", gantry.get_application, [("application_name", _)]),
    ("gantry.archive_application", gantry.archive_application, [("application_name", _)]),
    ("gantry.delete_application", gantry.delete_application, [("application_name", _)]),
    ("gantry.compute_feedback_id", gantry.compute_feedback_id,
     [("inputs", _), ("feedback_keys", None)]),
    ("gantry.Run", gantry.Run, [("application", _), ("tags", _), ("name", _)]),
    ("Application.log", gantry.Application.log, [
        ("self", _), ("inputs", None), ("outputs", None), ("feedbacks", None),
        ("ignore_inputs", None), ("timestamps", None), ("sort_on_timestamp", True),
        ("sample_rate", 1.0), ("as_batch", False), ("version", None), ("tags", None),
        ("row_tags", None), ("global_tags", None), ("join_keys", None)]),
    ("Application.log_file", gantry.Application.log_file, [
        ("self", _), ("filepath", _), ("version", None), ("timestamp", None),
        ("inputs", None), ("outputs", None), ("feedbacks", None), ("tags", None),
        ("feedback_id", None), ("feedback_keys", None), ("sep", ","), ("join_key", None)]),
    ("Application.start_run", gantry.Application.start_run,
     [("self", _), ("name", _), ("tags", None)]),
    ("Application.get_run", gantry.Application.get_run,
     [("self", _), ("name", None), ("tags", None)]),
    ("Application.save_query", gantry.Application.save_query,
     [("self", _), ("name", _), ("query", _)]),
    ("Application.get_query", gantry.Application.get_query, [("self", _), ("name", _)]),
    ("Application.list_queries", gantry.Application.list_queries, [("self", _)]),
    ("Application.get_schema", gantry.Application.get_schema, [("self", _)]),
    ("Application.create_dataset", gantry.Application.create_dataset,
     [("self", _), ("name", _)]),
    ("Application.list_datasets", gantry.Application.list_datasets,
     [("self", _), ("include_deleted", False)]),
    ("gquery.create_view", gquery.create_view, [
        ("name", _), ("application", _), ("start_time", None), ("end_time", None),
        ("duration", None), ("version", None), ("tag_filters", None), ("data_filters", None)]),
    ("gquery.list_application_views", gquery.list_application_views,
     [("application", _), ("version", None), ("environment", None)]),
    ("gquery.list_applications", gquery.list_applications, []),
]
_POINTS = [("self", _), ("num_points", 1), ("group_by", None)]
_SHARE = [("self", _), ("dropna", False), ("num_points", 1), ("group_by", None)]
SERIES: dict[str, list[tuple[str, Any]]] = {
    "head": [("self", _), ("n", 5)], "tail": [("self", _), ("n", 5)], "fetch": [("self", _)],
    "mean": _POINTS, "std": _POINTS, "min": _POINTS, "max": _POINTS,
    "median": [("self", _), ("num_points", 1)],
    "count": [*_POINTS, ("limit", 20)],
    "histogram": [("self", _)], "unique": [("self", _)],
    "quantile": [("self", _), ("quantile_vals", [0.5])],
    "describe": [("self", _)],
    "percent_true": _SHARE, "percent_false": _SHARE,
    "percent_null": _POINTS,
    "percent_true_not_null": _SHARE, "percent_false_not_null": _SHARE,
    "isin": [("self", _), ("other", _)], "contains": [("self", _), ("other", _)],
    "notnull": [("self", _)], "notna": [("self", _)], "isnull": [("self", _)],
    "isna": [("self", _)], "pdf": [("self", _)], "cdf": [("self", _)],
}
CASES = GANTRY + LOGGING + [(f"GantrySeries.{name}", getattr(gquery.GantrySeries, name), params)
                  for name, params in SERIES.items()]


@pytest.mark.parametrize(("name", "ours", "params"), CASES, ids=[c[0] for c in CASES])
def test_signature_matches_gantry(name: str, ours: Callable[..., Any],
                                  params: list[tuple[str, Any]]) -> None:
    found = list(inspect.signature(ours).parameters.values())
    head = [(p.name, p.default) for p in found[:len(params)]]
    assert head == params, f"{name} starts with {head}, Gantry had {params}"
    for extra in found[len(params):]:  # our extras: optional, never required
        assert extra.default is not _ or extra.kind is inspect.Parameter.VAR_KEYWORD, extra


def test_gantrys_top_level_names_exist() -> None:
    gantry_all = [  # gantry/__init__.py's __all__ (0.6), less its private _version
        "init", "Application", "CompletionApplication", "VersionDetails", "Run", "log",
        "log_file", "log_from_data_connector", "log_record", "log_records", "ping", "ready",
        "get_client", "setup_logger", "compute_feedback_id", "JoinKey", "create_application",
        "get_application", "delete_application", "archive_application"]
    assert [n for n in gantry_all if n not in gantry.__all__] == []
    assert issubclass(gantry.JoinKey, str)
    assert issubclass(ChatApplication, gantry.Application)
    assert not issubclass(ChatApplication, CompletionApplication)  # siblings, as in Gantry


def test_series_masks_and_frame_items_exist() -> None:
    for op in ("__eq__", "__ne__", "__gt__", "__ge__", "__lt__", "__le__", "__invert__",
               "__getitem__", "__len__"):
        assert op in vars(gquery.GantrySeries), op
    for op in ("__getitem__", "__len__", "dtypes"):
        assert op in vars(gquery.GantryDataFrame), op
    assert "__and__" in vars(gquery.Filters)


# -- triggers, actions, automations, alerts (gantry/automations/triggers/triggers.py,
# gantry/automations/actions/actions.py, gantry/automations/automations.py,
# gantry/alerts/main.py, gantry/alerts/client.py, gantry/applications/core.py) --------------
def _automation_cases() -> list[tuple[str, Callable[..., Any], list[tuple[str, Any]]]]:
    import datetime

    import gantry_local.alerts as galerts
    from gantry_local.automations.actions import SendSlackMessage
    from gantry_local.automations.automations import Automation
    from gantry_local.automations.triggers import (
        AggregationTrigger,
        IntervalTrigger,
        QueriesAggregationTrigger,
    )

    return [
        ("IntervalTrigger", IntervalTrigger, [
            ("start_on", _), ("interval", _), ("delay", datetime.timedelta())]),
        ("AggregationTrigger", AggregationTrigger.__init__, [
            ("self", _), ("name", _), ("aggregation", _), ("fields", _), ("lower_bound", _),
            ("upper_bound", _), ("evaluation_window", _), ("tags", None)]),
        ("QueriesAggregationTrigger", QueriesAggregationTrigger.__init__, [
            ("self", _), ("name", _), ("compare_fields", _), ("compare_aggregation", _),
            ("trigger_range_type", _), ("queries", _), ("query_aggregation", _),
            ("lower_bound", None), ("upper_bound", None)]),
        ("SendSlackMessage", SendSlackMessage.__init__, [
            ("self", _), ("name", _), ("webhook_url", _), ("id", None), ("notify_daily", False),
            ("alert_id", None)]),
        ("SendSlackMessage.update_trigger", SendSlackMessage.update_trigger,
         [("self", _), ("alert_id", _)]),
        ("SendSlackMessage.to_dict", SendSlackMessage.to_dict, [("self", _)]),
        ("Automation", Automation.__init__, [
            ("self", _), ("name", _), ("trigger", _), ("action", _), ("api_client", None),
            ("application", None)]),
        ("Automation.stop", Automation.stop, [("self", _)]),
        ("Automation.to_dict", Automation.to_dict, [("self", _)]),
        ("Application.add_automation", gantry.Application.add_automation,
         [("self", _), ("automation", _)]),
        ("Application.get_automation", gantry.Application.get_automation,
         [("self", _), ("automation_name", None)]),
        ("Application.list_automations", gantry.Application.list_automations, [("self", _)]),
        ("alerts.get_alerts", galerts.get_alerts, [
            ("application_name", _), ("triggered", False), ("triggered_from", None),
            ("triggered_to", None)]),
        ("alerts.create_alert", galerts.create_alert, [
            ("application_name", _), ("alert_name", _), ("alert_checks", _),
            ("evaluation_window", _), ("evaluation_delay", _), ("tags", None)]),
        ("alerts.update_alert", galerts.update_alert, [
            ("application_name", _), ("alert_id", _), ("alert_name", _), ("alert_checks", _),
            ("evaluation_window", _), ("evaluation_delay", _), ("tags", None)]),
        ("alerts.create_slack_notification", galerts.create_slack_notification, [
            ("alert_id", _), ("notification_name", _), ("slack_webhook_url", _),
            ("notify_daily", _), ("daily_notification_time", None)]),
        ("alerts.get_slack_notifications", galerts.get_slack_notifications, []),
        ("alerts.delete_alert", galerts.delete_alert, [("alert_id", _)]),
        ("alerts.delete_slack_notification", galerts.delete_slack_notification,
         [("alert_id", _), ("slack_notification_id", _)]),
        ("alerts.DiffCheck", galerts.DiffCheck, [
            ("field_names", _), ("aggregation", _), ("trigger_range_type", _), ("subqueries", _),
            ("check_type", "diff_check"), ("lower_bound", None), ("upper_bound", None)]),
    ]


AUTOMATION_CASES = _automation_cases()


@pytest.mark.parametrize(("name", "ours", "params"), AUTOMATION_CASES,
                         ids=[c[0] for c in AUTOMATION_CASES])
def test_automation_signatures_match_gantry(name: str, ours: Callable[..., Any],
                                            params: list[tuple[str, Any]]) -> None:
    test_signature_matches_gantry(name, ours, params)


def test_alerts_module_names_and_aggregations_are_gantrys() -> None:
    import gantry_local.alerts as galerts
    from gantry_local.alerts.client import AlertsAggregation, AlertsCheck

    assert set(galerts.__all__) >= {  # gantry/alerts/__init__.py's __all__
        "get_alerts", "create_alert", "update_alert", "create_slack_notification",
        "get_slack_notifications", "delete_alert", "delete_slack_notification",
        "AlertsAggregation", "AlertsCheck"}
    gantry_values = {  # AlertsAggregation's values in gantry/alerts/client.py
        "total_difference", "percent_difference", "total", "maximum", "minimum", "mean",
        "stddev", "pdf", "quantiles", "percent_null", "percent_true", "percent_false",
        "percent_true_not_null", "percent_false_not_null", "category_percents",
        "accuracy_score", "mean_absolute_error", "mean_squared_error",
        "mean_absolute_percentage_error", "maximum_error", "confusion_matrix", "f1_score",
        "r2_score", "precision_score", "recall_score", "roc_auc_score",
        "precision_recall_auc_score", "d1", "dinf", "kl", "ks", "categorical_d1",
        "categorical_dinf", "categorical_kl", "x2", "roc_curve_plot", "pr_curve_plot",
        "distribution_sketch", "categorical_sketch"}
    assert {a.value for a in AlertsAggregation} == gantry_values
    assert AlertsAggregation.MAX == "maximum" and AlertsAggregation.F1 == "f1_score"
    # Gantry's field order (its docstring example's data_node_names= is accepted too)
    assert [f for f in AlertsCheck.__dataclass_fields__][:5] == [
        "aggregation", "column_names", "lower_bound", "upper_bound", "check_type"]


# -- curators (gantry/automations/curators/{curators,stock_curators,main,selectors,models}.py) --
from datetime import timedelta as _td  # noqa: E402

import gantry_local.automations.curators as gcur  # noqa: E402
import gantry_local.automations.curators.selectors as gsel  # noqa: E402

_STOCK_TAIL = [("curated_dataset_name", None), ("start_on", None),
               ("curation_interval", _td(days=1)), ("curate_past_intervals", True)]
_HEAD = [("self", _), ("name", _), ("application_name", _), ("limit", _)]
CURATORS: list[tuple[str, Callable[..., Any], list[tuple[str, Any]]]] = [
    ("Curator", gcur.Curator.__init__, [
        ("self", _), ("name", _), ("application_name", _), ("api_client", None), ("id", None),
        ("curated_dataset_name", None), ("start_on", None), ("curation_interval", _td(days=1)),
        ("curation_delay", _td(days=0)), ("curate_past_intervals", True), ("created_at", None),
        ("selectors", None)]),
    ("Curator.update", gcur.Curator.update, [
        ("self", _), ("new_curator_name", None), ("new_curated_dataset_name", None),
        ("new_curation_interval", None), ("new_selectors", None), ("create_new_dataset", False)]),
    ("Curator.create", gcur.Curator.create, [("self", _), ("enable", True)]),
    ("Curator.update_curation_start_on", gcur.Curator.update_curation_start_on,
     [("self", _), ("start_on", _)]),
    ("Curator.update_curation_interval", gcur.Curator.update_curation_interval,
     [("self", _), ("curation_interval", _)]),
    ("Curator.update_curation_delay", gcur.Curator.update_curation_delay,
     [("self", _), ("curation_delay", _)]),
    ("Curator.from_curator_info", gcur.Curator.from_curator_info,
     [("api_client", _), ("curator_info", _)]),
    *[(f"Curator.{m}", getattr(gcur.Curator, m), [("self", _)])
      for m in ("start", "stop", "delete", "enable", "disable", "get_curated_dataset")],
    ("get_all_curators", gcur.get_all_curators, [("application_name", None)]),
    ("list_curators", gcur.list_curators, [("application_name", None)]),
    ("get_curator", gcur.get_curator, [("name", _)]),
    *[(c, getattr(gcur, c).__init__, [*_HEAD, *_STOCK_TAIL])
      for c in ("UniformCurator", "NewestCurator", "OldestCurator")],
    *[(c, getattr(gcur, c).__init__, [*_HEAD, ("stratify_field", _), *_STOCK_TAIL])
      for c in ("BalancedStratificationCurator", "ProportionalStratificationCurator",
                "StrictStratificationCurator")],
    *[(c, getattr(gcur, c).__init__, [*_HEAD, ("sort_field", _), *_STOCK_TAIL])
      for c in ("AscendedSortCurator", "DescendedSortCurator")],
    ("BoundedRangeCurator", gcur.BoundedRangeCurator.__init__, [
        *_HEAD, ("bound_field", _), ("upper_bound", _), ("lower_bound", _), *_STOCK_TAIL,
        ("sort_ascending", True)]),
    ("EqualityCurator", gcur.EqualityCurator.__init__, [
        *_HEAD, ("field", _), ("equals", _), *_STOCK_TAIL]),
]


@pytest.mark.parametrize(("name", "ours", "params"), CURATORS, ids=[c[0] for c in CURATORS])
def test_curator_signature_matches_gantry(name: str, ours: Callable[..., Any],
                                          params: list[tuple[str, Any]]) -> None:
    test_signature_matches_gantry(name, ours, params)


# Gantry's selectors are pydantic models: keyword arguments (their order means nothing),
# each with Gantry's default or required.
MODELS: list[tuple[str, Any, dict[str, Any]]] = [
    ("TagFilter", gsel.TagFilter, {"name": _, "value": _}),
    ("BoundsFilter", gsel.BoundsFilter, {"field": _, "upper": None, "inclusive_upper": None,
                                         "lower": None, "inclusive_lower": None}),
    ("EqualsFilter", gsel.EqualsFilter, {"field": _, "equals": _}),
    ("ContainsFilter", gsel.ContainsFilter, {"field": _, "contains": _}),
    ("UniformSampler", gsel.UniformSampler, {"sample": gsel.SamplingMethod.uniform}),
    ("OrderedSampler", gsel.OrderedSampler, {"sample": gsel.SamplingMethod.ordered,
                                             "field": _, "sort": _}),
    ("StratifiedSampler", gsel.StratifiedSampler, {
        "field": _, "sample": gsel.SamplingMethod.stratified,
        "mode": gsel.StratificationMode.proportional}),
    ("Selector", gsel.Selector, {"method": gsel.OrderedSampler(
        field="__time", sort=gsel.OrderingDirection.DESCENDING), "limit": _, "filters": [],
        "tags": []}),
    ("CuratorInfo", gcur.CuratorInfo, {f: _ for f in (
        "id", "application_name", "name", "curated_dataset_name", "start_on",
        "curation_interval", "curation_delay", "curate_past_intervals", "created_at",
        "selectors")}),
]


_SAMPLE = {"Selector": {"limit": 5}}


@pytest.mark.parametrize(("name", "model", "fields"), MODELS, ids=[m[0] for m in MODELS])
def test_selector_models_take_gantrys_fields(name: str, model: Any,
                                             fields: dict[str, Any]) -> None:
    found = inspect.signature(model).parameters
    for field, default in fields.items():
        assert field in found, f"{name} has no {field!r}"
        got = found[field].default
        if default == []:  # a fresh empty list each time (dataclasses show a factory)
            assert got is not _ and model(**{k: v for k, v in _SAMPLE[name].items()}).dict()[
                field] == [], f"{name}.{field} does not default to []"
            continue
        assert got == default, f"{name}.{field} defaults to {got!r}, Gantry's to {default!r}"


def test_curator_module_names_match_gantry() -> None:
    gantry_curators = {"get_curator", "get_all_curators", "list_curators", "Curator",
                       "AscendedSortCurator", "BalancedStratificationCurator",
                       "BoundedRangeCurator", "DescendedSortCurator", "NewestCurator",
                       "OldestCurator", "ProportionalStratificationCurator",
                       "StrictStratificationCurator", "UniformCurator", "EqualityCurator"}
    assert gantry_curators <= set(gcur.__all__)
    gantry_selectors = {"TIME_COLUMN_NAME", "MAX_NAME_LEN", "OrderingDirection",
                        "SamplingMethod", "StratificationMode", "TagFilter", "Filter",
                        "BoundsFilter", "EqualsFilter", "ContainsFilter", "ALL_FILTERS_T",
                        "Sampler", "UniformSampler", "OrderedSampler", "StratifiedSampler",
                        "ALL_METHODS_T", "Selector"}
    assert gantry_selectors <= set(gsel.__all__)
    assert gsel.TIME_COLUMN_NAME == "__time"
    assert [m.value for m in gsel.StratificationMode] == ["strict", "proportional", "balanced"]
    assert [m.value for m in gsel.SamplingMethod] == ["uniform", "ordered", "stratified"]
    assert [m.value for m in gsel.OrderingDirection] == ["ascending", "descending"]
    for module in ("curators", "stock_curators", "main", "selectors", "models"):
        __import__(f"gantry_local.automations.curators.{module}")


# -- gantry.dataset (gantry/dataset/__init__.py, client.py, gantry_dataset.py) -----------------

def _dataset_cases() -> list[tuple[str, Callable[..., Any], list[tuple[str, Any]]]]:
    import gantry_local.dataset as gdataset

    ds = gdataset.GantryDataset
    push = [("self", _), ("file", _), ("filename", None), ("message", None),
            ("parent_version_id", None)]
    hf = [("hf_dataset_name", None), ("streaming", False)]
    return [
        ("gdataset.set_working_directory", gdataset.set_working_directory, [("working_dir", _)]),
        ("gdataset.create_dataset", gdataset.create_dataset,
         [("name", _), ("bucket_name", None), ("app_name", None)]),
        ("gdataset.get_dataset", gdataset.get_dataset, [("name", _), ("app_name", None)]),
        ("gdataset.list_dataset_versions", gdataset.list_dataset_versions,
         [("dataset_name", _)]),
        ("gdataset.list_datasets", gdataset.list_datasets,
         [("include_deleted", False), ("model_node_id", None)]),
        ("gdataset.delete_dataset", gdataset.delete_dataset, [("name", _)]),
        ("GantryDataset.list_versions", ds.list_versions, [("self", _)]),
        ("GantryDataset.pull", ds.pull, [("self", _), ("version_id", None), ("forced", False)]),
        ("GantryDataset.get_diff", ds.get_diff, [("self", _)]),
        ("GantryDataset.push_version", ds.push_version, [("self", _), ("message", _)]),
        ("GantryDataset.push_gantry_dataframe", ds.push_gantry_dataframe,
         [("self", _), ("gantrydf", _), ("filename", "")]),
        ("GantryDataset.push_file", ds.push_file, push),
        ("GantryDataset.push_tabular_file", ds.push_tabular_file, push),
        ("GantryDataset.push_dataframe", ds.push_dataframe,
         [("self", _), ("dataframe", _), *push[2:]]),
        ("GantryDataset.rollback", ds.rollback, [("self", _), ("version_id", _),
                                                 ("forced", False)]),
        ("GantryDataset.stash", ds.stash, [("self", _)]),
        ("GantryDataset.restore", ds.restore, [("self", _)]),
        ("GantryDataset.delete", ds.delete, [("self", _)]),
        ("GantryDataset.pull_huggingface_dataset_by_version",
         ds.pull_huggingface_dataset_by_version, [("self", _), ("version_id", None), *hf]),
        ("GantryDataset.get_huggingface_dataset", ds.get_huggingface_dataset, [("self", _), *hf]),
    ]


DATASET_CASES = _dataset_cases()


@pytest.mark.parametrize(("name", "ours", "params"), DATASET_CASES,
                         ids=[c[0] for c in DATASET_CASES])
def test_dataset_signature_matches_gantry(name: str, ours: Callable[..., Any],
                                          params: list[tuple[str, Any]]) -> None:
    test_signature_matches_gantry(name, ours, params)


def test_gantry_dataset_attributes() -> None:
    import gantry_local.dataset as gdataset

    for attribute in ("dataset_name", "workspace"):
        assert isinstance(getattr(gdataset.GantryDataset, attribute), property), attribute
