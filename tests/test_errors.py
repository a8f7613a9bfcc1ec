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
])
def test_subclass_is_library_error_and_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.GantryLocalError)
    assert issubclass(cls, builtin)


def test_hierarchy_is_drawn_in_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc
