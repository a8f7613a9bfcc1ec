"""One exception base; every subclass also is the matching built-in."""

import pytest

from gantry_local import errors


@pytest.mark.parametrize(("cls", "builtin"), [
    (errors.ValidationError, ValueError),
    (errors.NotFoundError, LookupError),
    (errors.AlreadyExistsError, ValueError),
    (errors.ConflictError, RuntimeError),
    (errors.IntegrityError, RuntimeError),
    (errors.StorageError, OSError),
    (errors.BufferFullError, TimeoutError),
    (errors.NotInitializedError, RuntimeError),
    (errors.RowError, ValueError),
    (errors.JudgeError, errors.RowError),
    (errors.WebhookError, errors.StorageError),
])
def test_subclass_is_library_error_and_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.GantryLocalError)
    assert issubclass(cls, builtin)


def test_hierarchy_is_drawn_in_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc


def test_the_error_classes_have_one_home() -> None:
    import gantry_local
    import gantry_local.evaluation as evaluation

    assert gantry_local.NotInitializedError is errors.NotInitializedError
    assert evaluation.RowError is errors.RowError and evaluation.JudgeError is errors.JudgeError
