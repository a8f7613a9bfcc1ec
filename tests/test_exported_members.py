"""The public surface is exactly what README and DESIGN promise."""

import gantry_local
import gantry_local.errors


def test_top_level_names_are_pinned() -> None:
    assert sorted(gantry_local.__all__) == [
        "AlreadyExistsError", "Application", "BufferFullError", "Clock", "ConflictError",
        "Dataset", "DatasetDiff", "GantryLocalError", "IntegrityError", "ManualClock",
        "NotFoundError", "NotInitializedError", "Query", "Run", "Scheduler", "StorageError", "SystemClock",
        "ValidationError", "Workspace", "__version__", "create_application", "create_dataset",
        "delete_application", "delete_dataset", "flush", "gc", "get_application", "get_dataset",
        "get_workspace", "init", "list_applications", "list_dataset_versions", "list_datasets",
        "log_record", "log_records", "query", "restore_dataset", "set_working_directory",
    ]
    for name in gantry_local.__all__:
        assert hasattr(gantry_local, name), name


def test_every_error_is_exported_from_errors_module() -> None:
    for name in gantry_local.errors.__all__:
        assert getattr(gantry_local, name) is getattr(gantry_local.errors, name)
