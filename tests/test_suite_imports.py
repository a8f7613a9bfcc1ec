"""A suite file's code is imported with its folder first on `sys.path`, and the folder is
forgotten after: `sys.path` is as it was, and the modules imported from the folder leave
`sys.modules` (the suite keeps the functions it took), so two suites may each have their
own `models.py`, and an edited one is read again."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.errors import NotFoundError, ValidationError
from gantry_local.evaluation.suites import Suite

ROWS = pl.DataFrame({"inputs.x": [float(i) for i in range(-5, 5)],
                     "feedback.label": [int(i > 0) for i in range(-5, 5)]})


def suite_in(folder: Path, answer: str, module: str = "models") -> Path:
    """A suite in `folder` whose one candidate, `module:predict`, answers `answer`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(f"def predict(inputs):\n    return {answer}\n")
    path = folder / "suite.toml"
    path.write_text(f'name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    f'[candidates]\nv = "{module}:predict"\n')
    return path


def from_folder(folder: Path) -> list[str]:
    return sorted(name for name, m in list(sys.modules.items())
                  if str(folder) in str(getattr(m, "__file__", None) or ""))


def test_loading_leaves_sys_path_and_modules_as_they_were(tmp_path: Path,
                                                          ws: gantry.Workspace) -> None:
    ws.create_dataset("rows").push_dataframe(ROWS)
    path = suite_in(tmp_path / "a", "int(inputs['x'] > 0)")
    before = list(sys.path)
    suite = Suite.from_toml(path)
    assert sys.path == before
    assert from_folder(tmp_path / "a") == []
    assert suite.run(ws).comparison.candidates  # the function it took still runs
    assert suite.candidates["v"]({"x": 1.0}) == 1


def test_two_suites_each_have_their_own_models_module(tmp_path: Path) -> None:
    first = Suite.from_toml(suite_in(tmp_path / "a", "1"))
    second = Suite.from_toml(suite_in(tmp_path / "b", "0"))  # was: 'models' imported elsewhere
    assert first.candidates["v"]({}) == 1 and second.candidates["v"]({}) == 0


def test_an_edited_module_is_read_again(tmp_path: Path) -> None:
    path = suite_in(tmp_path, "1")
    assert Suite.from_toml(path).candidates["v"]({}) == 1
    suite_in(tmp_path, "2 + 0")  # another size: the cached bytecode is not reused
    assert Suite.from_toml(path).candidates["v"]({}) == 2


def test_a_package_beside_the_file_is_forgotten_too(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text("from . import helper\n\n"
                                       "def predict(inputs):\n    return helper.ANSWER\n")
    (package / "helper.py").write_text("ANSWER = 7\n")
    path = tmp_path / "suite.toml"
    path.write_text('name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    '[candidates]\nv = "pkg.models:predict"\n')
    before = list(sys.path)
    assert Suite.from_toml(path).candidates["v"]({}) == 7
    assert sys.path == before and from_folder(tmp_path) == []


def test_a_failed_load_restores_sys_path(tmp_path: Path) -> None:
    path = suite_in(tmp_path / "a", "1")
    (tmp_path / "a" / "models.py").write_text("raise RuntimeError('broken')\n")
    before = list(sys.path)
    with pytest.raises(ValidationError, match="RuntimeError: broken"):
        Suite.from_toml(path)
    path.write_text('name = "s"\ndataset = "rows"\n[candidates]\nv = "models:missing"\n')
    (tmp_path / "a" / "models.py").write_text("x = 1\n")
    with pytest.raises(NotFoundError, match="cannot import 'models:missing'"):
        Suite.from_toml(path)
    assert sys.path == before and from_folder(tmp_path / "a") == []


def test_modules_from_elsewhere_stay_imported(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    library = f"lib_{uuid.uuid4().hex[:8]}"  # an installed library the suite's code imports
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{library}.py").write_text("ANSWER = 3\n")
    monkeypatch.syspath_prepend(str(site))
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "models.py").write_text(f"import {library}\n\n"
                                      f"def predict(inputs):\n    return {library}.ANSWER\n")
    path = folder / "suite.toml"
    path.write_text('name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    '[candidates]\nv = "models:predict"\n')
    assert Suite.from_toml(path).candidates["v"]({}) == 3
    assert library in sys.modules and "models" not in sys.modules
    monkeypatch.delitem(sys.modules, library)


def test_a_module_the_user_imported_from_the_folder_is_left_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"mine_{uuid.uuid4().hex[:8]}"
    path = suite_in(tmp_path, "5", module)
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(module)  # the user's own import, before the suite is read
    assert Suite.from_toml(path).candidates["v"]({}) == 5
    assert module in sys.modules and str(tmp_path) in sys.path
    monkeypatch.delitem(sys.modules, module)


def test_a_folder_already_on_sys_path_keeps_its_modules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script run beside its suite: the suite's module is the one `import` finds later."""
    module = f"beside_{uuid.uuid4().hex[:8]}"
    path = suite_in(tmp_path, "7", module)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = list(sys.path)
    suite = Suite.from_toml(path)
    assert sys.path == before
    assert module in sys.modules  # was dropped: the user's import made a second copy
    assert suite.candidates["v"] is __import__(module).predict
    monkeypatch.delitem(sys.modules, module)


def test_the_working_directory_counts_as_on_sys_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"cwd_{uuid.uuid4().hex[:8]}"
    path = suite_in(tmp_path, "8", module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")
    suite = Suite.from_toml(path)
    assert suite.candidates["v"] is __import__(module).predict
    monkeypatch.delitem(sys.modules, module)


def test_a_suite_read_while_another_is_read(tmp_path: Path) -> None:
    """A suite's code may read another suite as it loads (the lock is re-entrant)."""
    import threading

    inner = suite_in(tmp_path / "b", "4", "inner_models")
    outer = suite_in(tmp_path / "a", "0")
    (tmp_path / "a" / "models.py").write_text(
        "from gantry_local.evaluation.suites import Suite\n"
        f"INNER = Suite.from_toml({str(inner)!r})\n\n"
        "def predict(inputs):\n    return INNER.candidates['v'](inputs)\n")
    before = list(sys.path)
    found: list[Suite] = []
    reader = threading.Thread(target=lambda: found.append(Suite.from_toml(outer)), daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "reading a suite inside another deadlocked"
    assert found[0].candidates["v"]({}) == 4
    assert sys.path == before and from_folder(tmp_path) == []


def test_a_library_stored_under_the_folder_stays_imported(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A project's own venv inside the suite's folder: what models.py imports from it was
    found through the venv's entry, not the folder's, and must stay in `sys.modules` (a
    second import would make a second copy; a PyO3 extension cannot be imported twice)."""
    name = f"lib_{uuid.uuid4().hex}"
    site = tmp_path / ".venv" / "site-packages"
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text("STATE: list[int] = []\n")
    monkeypatch.syspath_prepend(str(site))
    (tmp_path / "models.py").write_text(f"import {name}\ndef predict(inputs):\n    return 1\n")
    path = tmp_path / "suite.toml"
    path.write_text('name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    '[candidates]\nv = "models:predict"\n')
    Suite.from_toml(path)
    assert name in sys.modules
    assert from_folder(tmp_path) == [name]  # models.py itself left
    sys.modules.pop(name, None)
