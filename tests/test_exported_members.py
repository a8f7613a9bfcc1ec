"""The public surface is exactly what README and DESIGN promise."""

import gantry_local
import gantry_local.errors


def test_top_level_names_are_pinned() -> None:
    assert sorted(gantry_local.__all__) == [
        "AlreadyExistsError", "Application", "AutomationRun", "BufferFullError", "Clock",
        "Comparison", "CompletionApplication", "ConflictError", "Dataset", "DatasetDiff", "GantryLocalError",
        "IngestResult", "IntegrityError", "JoinKey", "JudgeError", "ManualClock", "NotFoundError",
        "NotInitializedError", "NotSupportedError", "ProducerWorkspace", "Query", "RowError",
        "Run", "Scheduler", "StorageError", "SystemClock", "ValidationError", "VersionDetails",
        "WebhookError",
        "Workspace", "__version__", "archive_application", "compute_feedback_id",
        "create_application", "create_dataset", "delete_application", "delete_dataset", "evaluate",
        "flush", "gc", "get_application", "get_client", "get_dataset", "get_evaluation",
        "get_workspace", "init",
        "list_applications", "list_dataset_versions", "list_datasets", "list_evaluations", "log",
        "log_file", "log_from_data_connector", "log_record", "log_records", "ping", "query",
        "ready", "register_model", "restore_dataset", "set_working_directory",
        "setup_logger",
    ]
    for name in gantry_local.__all__:
        assert hasattr(gantry_local, name), name


def test_every_error_is_exported_from_errors_module() -> None:
    for name in gantry_local.errors.__all__:
        assert getattr(gantry_local, name) is getattr(gantry_local.errors, name)


def test_evaluation_names_are_pinned() -> None:
    import gantry_local.evaluation as evaluation

    assert sorted(evaluation.__all__) == [
        "AggregateMetric", "Candidate", "Comparison", "CompletionVersion", "Contains", "Custom",
        "EvaluationSettings", "IMPROVED", "JudgeError", "MetricResult", "NO_DIFFERENCE",
        "OpenAICompatible", "PairwiseJudge", "PairwiseResult", "REGRESSED", "Regex", "RowError",
        "RowMetric", "ScoreJudge", "TrainingOverlapWarning", "artifact_hash", "evaluate",
        "get_evaluation", "known_metrics", "list_evaluations",
    ]
    for name in evaluation.__all__:
        assert hasattr(evaluation, name), name


def test_query_module_names_are_pinned() -> None:
    import gantry_local.query as gquery

    assert sorted(gquery.__all__) == [
        "Filters", "GantryDataFrame", "GantrySeries", "RelativeTimeWindow", "TimeWindow",
        "create_view", "distance", "init", "list_application_batches",
        "list_application_environments", "list_application_versions", "list_application_views",
        "list_applications", "metric", "print_application_info", "query",
    ]
    for name in gquery.__all__:
        assert hasattr(gquery, name), name
