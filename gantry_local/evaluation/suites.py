"""Test suites: thresholds and no-regression checks on an evaluation, to fail a build.

A suite names a dataset, candidates, metrics and checks. In Python, `Suite(...)`; in a
TOML file, the same fields (see the README). ``gantry-local eval run SUITE`` prints the
table, writes JUnit XML with ``--junit``, and exits non-zero when a check fails.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import operator
import re
import sys
import threading
import types
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._limits import shown
from .._names import check_name
from ..errors import NotFoundError, StorageError, ValidationError
from ._models import check_model, models
from .comparison import REGRESSED, Comparison
from .completion import get_version
from .evaluate import Candidate, evaluate
from .judges import PairwiseJudge, ScoreJudge
from .metrics import Metric, resolve_metrics
from .settings import EvaluationSettings, setting_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

if TYPE_CHECKING:
    from .._context import Context, WorkspaceLike

__all__ = ["CheckResult", "Suite", "SuiteResult"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
_THRESHOLD = re.compile(r"^\s*(?:([A-Za-z0-9_.-]+):)?([A-Za-z0-9_.:-]+?)\s*(>=|<=|==|>|<)\s*"
                        r"(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)\s*$")


@dataclass(frozen=True)
class CheckResult:
    """One check of a suite: its name, whether it passed, and why."""

    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class _Threshold:
    text: str
    candidate: str | None
    metric: str
    op: str
    value: float


class Suite:
    """An evaluation with checks that pass or fail.

    Args:
        name: the suite's name (JUnit's test-suite name).
        dataset: the dataset evaluated (its latest version unless `version_id`).
        candidates: as for `evaluate`; the first is the baseline, the last is checked by
            thresholds that name no candidate.
        metrics: as for `evaluate`.
        thresholds: ``"accuracy >= 0.9"`` or ``"v1:accuracy >= 0.9"`` (a candidate's).
        no_regression: metrics on which no challenger may be `regressed` against the
            baseline (``"pairwise"`` for a pairwise judge).
        max_error_rate: fail when a candidate's share of row errors exceeds it.
        models: completion models to register before running (name -> callable).
        evaluate_options: passed on to `evaluate` (reference, inputs, judge, alpha, seed...).

    Raises:
        ValidationError: a malformed threshold, or one naming an unknown metric or candidate.
    """

    def __init__(self, name: str, dataset: str, candidates: Mapping[str, Any],
                 metrics: Sequence[str | Metric] | None = None,
                 thresholds: Sequence[str] = (), no_regression: Sequence[str] = (),
                 max_error_rate: float | None = None, version_id: str | None = None,
                 models: Mapping[str, Callable[..., Any]] | None = None,
                 **evaluate_options: Any) -> None:
        self.name = check_name(name, "suite name")
        self.dataset = check_name(dataset, "dataset name")
        if not isinstance(candidates, Mapping) or not candidates:
            raise ValidationError("a suite needs candidates, e.g. {'v1': model_a, 'v2': model_b}")
        self.candidates = dict(candidates)
        for candidate, model in self.candidates.items():
            _check_candidate(self.name, candidate, model)
        _check_options(self.name, evaluate_options)
        thresholds = _texts(thresholds, f"suite {name!r}: thresholds", "'accuracy >= 0.9'")
        no_regression = _texts(no_regression, f"suite {name!r}: no_regression", "'accuracy'")
        if version_id is not None and not isinstance(version_id, str):
            raise ValidationError(f"suite {name!r}: version_id must be a version id or None, "
                                  f"got {version_id!r}")
        if models is not None and not isinstance(models, Mapping):
            raise ValidationError(f"suite {name!r}: models must be a dict of name -> callable, "
                                  f"got {type(models).__name__}")
        for model_name, model in (models or {}).items():  # as register_model checks them
            check_model(model, check_name(model_name, f"suite {name!r}: model name"))
        judge = evaluate_options.get("judge")
        self.metrics = resolve_metrics(metrics) if metrics is not None or judge is None else []
        names = {m.name for m in self.metrics}
        if isinstance(judge, ScoreJudge):
            names.add(judge.name)
        self.thresholds = [self._threshold(t, names) for t in thresholds]
        allowed = names | ({"pairwise"} if isinstance(judge, PairwiseJudge) else set())
        for metric in no_regression:
            if metric not in allowed:
                raise ValidationError(f"suite {name!r}: no_regression names {metric!r}, not one "
                                      f"of its metrics {sorted(allowed)}")
        self.no_regression = list(no_regression)
        if max_error_rate is not None and (
                isinstance(max_error_rate, bool) or not isinstance(max_error_rate, (int, float))
                or not 0 <= max_error_rate <= 1):
            raise ValidationError(f"max_error_rate must be a number between 0 and 1, got "
                                  f"{shown(max_error_rate)}")
        self.max_error_rate = max_error_rate
        self.version_id = version_id
        self.models = dict(models or {})
        self.evaluate_options = evaluate_options

    def __repr__(self) -> str:
        return f"Suite(name={self.name!r}, dataset={self.dataset!r})"

    def _threshold(self, text: str, metrics: set[str]) -> _Threshold:
        match = _THRESHOLD.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValidationError(f"suite {self.name!r}: cannot read threshold {text!r}; write "
                                  "'accuracy >= 0.9' or 'v2:accuracy >= 0.9'")
        candidate, metric, op, value = match.groups()
        if not math.isfinite(float(value)):
            raise ValidationError(f"suite {self.name!r}: threshold {text!r} needs a finite value")
        if metric not in metrics:
            raise ValidationError(f"suite {self.name!r}: threshold {text!r} names metric "
                                  f"{metric!r}, not one of {sorted(metrics)}")
        if candidate is not None and candidate not in self.candidates:
            raise ValidationError(f"suite {self.name!r}: threshold {text!r} names candidate "
                                  f"{candidate!r}, not one of {sorted(self.candidates)}")
        return _Threshold(text.strip(), candidate, metric, op, float(value))

    @classmethod
    def from_toml(cls, path: str | Path, allow_modules: Sequence[str] = ()) -> Suite:
        """Read a suite from a TOML file (see the README for its fields).

        Candidates and models are ``"module:attribute"`` import paths, or ``{application =
        "chat", version = "prod"}`` for completion versions. A file names only code beside it
        (modules and packages in its folder, importable while the file is read; then
        ``sys.path`` is restored and the folder's modules leave ``sys.modules``);
        `allow_modules` trusts others by name (``["mypkg"]`` covers ``mypkg.models``), since
        importing runs code.

        Raises:
            ValidationError: a module neither beside the file nor allowed (nothing imported).
        """
        if not isinstance(path, (str, Path)) or not str(path):
            raise ValidationError(f"a suite file is a path, got {path!r}")
        if isinstance(allow_modules, str) or not isinstance(allow_modules, (list, tuple)) or \
                not all(isinstance(m, str) and _MODULE.match(m) for m in allow_modules):
            raise ValidationError("allow_modules must be a list of module names such as "
                                  f"['mypkg'], got {shown(allow_modules)}")
        return _load_toml(cls, Path(path), tuple(allow_modules))

    def run(self, workspace: WorkspaceLike | None = None, version_id: str | None = None,
            cache: bool | None = None) -> SuiteResult:
        """Evaluate and check. Row errors never raise; they count against `max_error_rate`.

        `cache=False` calls every candidate on every row (``eval run --no-cache``).
        """
        from .evaluate import _workspace

        ws = _workspace(workspace)
        if cache is not None and not isinstance(cache, bool):
            raise ValidationError(f"cache must be True, False or None, got {shown(cache)}")
        options = dict(self.evaluate_options)
        if cache is not None:
            options["cache"] = cache
        for name, fn in self.models.items():
            models(ws.database).register(name, fn)
        comparison = evaluate(self.dataset, self._resolved(ws), self.metrics or None,
                              version_id=version_id or self.version_id, workspace=ws,
                              **options)
        return SuiteResult(self, comparison, self._check(comparison))

    def _resolved(self, ws: Context) -> dict[str, Any]:
        out = {}
        for name, model in self.candidates.items():
            if isinstance(model, tuple):  # (application, version) of a completion app
                app, version = model
                found = get_version(ws, app, version)
                if found is None:
                    raise NotFoundError(f"suite {self.name!r}: candidate {name!r}: application "
                                        f"{app!r} has no version {version!r} (none deployed "
                                        "there yet?)")
                out[name] = found
            else:
                out[name] = model
        return out

    def _check(self, comparison: Comparison) -> list[CheckResult]:
        names = list(comparison.candidates)
        checks = []
        for threshold in self.thresholds:
            candidate = threshold.candidate or names[-1]
            value = comparison.value(threshold.metric, candidate)
            passed = value is not None and not math.isnan(value) and _OPS[threshold.op](
                value, threshold.value)
            shown = "no value" if value is None else f"{value:.4f}"
            checks.append(CheckResult(f"{threshold.text} ({candidate})", passed,
                                      f"{threshold.metric} of {candidate} is {shown}"))
        for metric in self.no_regression:
            for candidate, verdicts in comparison.verdicts.items():
                verdict = verdicts.get(metric, "no significant difference")
                checks.append(CheckResult(f"no regression in {metric} ({candidate})",
                                          verdict != REGRESSED,
                                          f"{candidate} against {comparison.baseline}: {verdict}"))
        if self.max_error_rate is not None:
            for candidate, errors in comparison.errors.items():
                rate = errors / comparison.n_rows
                checks.append(CheckResult(f"row errors <= {self.max_error_rate:g} ({candidate})",
                                          rate <= self.max_error_rate,
                                          f"{errors} of {comparison.n_rows} rows failed"))
        return checks


@dataclass(frozen=True)
class SuiteResult:
    """A suite's evaluation and its checks."""

    suite: Suite
    comparison: Comparison
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def __str__(self) -> str:
        lines = [str(self.comparison), ""]
        for check in self.checks:
            lines.append(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.message}")
        failed = sum(not c.passed for c in self.checks)
        lines.append(f"suite {self.suite.name}: {len(self.checks) - failed} passed, "
                     f"{failed} failed")
        return "\n".join(lines)

    def junit_xml(self) -> str:
        """The checks as JUnit XML (one test case per check), as CI systems read it."""
        failures = sum(not c.passed for c in self.checks)
        root = ET.Element("testsuites", tests=str(len(self.checks)), failures=str(failures))
        suite = ET.SubElement(root, "testsuite", name=self.suite.name,
                              tests=str(len(self.checks)), failures=str(failures), errors="0",
                              timestamp=self.comparison.created_at.isoformat())
        properties = ET.SubElement(suite, "properties")
        for name in self.comparison.candidates:
            ET.SubElement(properties, "property", name=f"rows_from_cache.{name}",
                          value=f"{self.comparison.cached.get(name, 0)} of "
                                f"{self.comparison.n_rows}")
        for warning in self.comparison.warnings:
            ET.SubElement(properties, "property", name="warning", value=warning)
        for check in self.checks:
            case = ET.SubElement(suite, "testcase", classname=self.suite.name, name=check.name)
            if not check.passed:
                ET.SubElement(case, "failure", message=check.message).text = check.message
        ET.SubElement(suite, "system-out").text = str(self.comparison)
        return ET.tostring(root, encoding="unicode", xml_declaration=True)

    def write_junit(self, path: str | Path) -> None:
        """Write `junit_xml()` to `path`.

        Raises:
            ValidationError: `path` is not a path. StorageError: it cannot be written.
        """
        if not isinstance(path, (str, Path)) or not str(path):
            raise ValidationError(f"path must be a file path such as 'eval.xml', got {path!r}")
        try:
            Path(path).write_text(self.junit_xml(), encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot write JUnit XML to {str(path)!r}: {exc}") from exc


_OPTIONS = ("inputs", "reference", "judge", "settings", *setting_names())


def _check_candidate(suite: str, name: str, model: Any) -> None:
    check_name(name, "candidate name")
    if isinstance(model, tuple):
        if len(model) != 2 or not isinstance(model[0], str) or \
                not isinstance(model[1], (str, int)) or isinstance(model[1], bool):
            raise ValidationError(f"suite {suite!r}: candidate {name!r} must be a callable or an "
                                  f"(application, version) pair, got {model!r}")
    elif not callable(model) and not isinstance(model, Candidate):
        raise ValidationError(f"suite {suite!r}: candidate {name!r} must be a callable, a "
                              f"Candidate or an (application, version) pair, got "
                              f"{type(model).__name__}")


def _check_options(suite: str, options: Mapping[str, Any]) -> None:
    """What `evaluate` would refuse, refused when the suite is made."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValidationError(f"suite {suite!r}: unknown option(s) {unknown}; known: "
                              f"{', '.join(_OPTIONS)}")
    settings = options.get("settings")
    if settings is not None and not isinstance(settings, EvaluationSettings):
        raise ValidationError(f"suite {suite!r}: settings must be an EvaluationSettings")
    (settings or EvaluationSettings()).replace(
        **{k: v for k, v in options.items() if k in setting_names()})
    judge = options.get("judge")
    if judge is not None and not isinstance(judge, (ScoreJudge, PairwiseJudge)):
        raise ValidationError(f"suite {suite!r}: judge must be a ScoreJudge or a PairwiseJudge")
    for key in ("reference",):
        if options.get(key) is not None and not isinstance(options[key], str):
            raise ValidationError(f"suite {suite!r}: {key} must be a column name")


def _texts(values: Any, what: str, example: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or \
            not all(isinstance(v, str) for v in values):
        raise ValidationError(f"{what} must be a list of strings such as [{example}], got "
                              f"{values!r}")
    return list(values)


def import_object(spec: str, where: str, trusted: _Trusted | None = None) -> Any:
    """The object named by ``"package.module:attribute"`` (its module checked by `trusted`
    first, when given)."""
    module_name, _, attribute = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not module_name or not attribute:
        raise ValidationError(f"{where}: {spec!r} is not an import path like 'models:predict'")
    if trusted is not None:
        trusted.check(module_name, spec, where)
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
            if trusted is not None and isinstance(target, types.ModuleType):
                trusted.check(target.__name__, spec, where)  # another module reached through it
    except ValidationError:
        raise
    except (ImportError, AttributeError) as exc:
        raise NotFoundError(f"{where}: cannot import {spec!r}: {exc}") from exc
    except Exception as exc:  # a relative name, or the module itself failing as it loads
        raise ValidationError(f"{where}: cannot import {spec!r}: {type(exc).__name__}: {exc}"
                              ) from exc
    return target


_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class _Trusted:
    """Which modules a suite file may name: those found in its folder, and `allowed` ones."""

    folder: Path
    allowed: tuple[str, ...]

    def check(self, module_name: str, spec: str, where: str) -> None:
        if not _MODULE.match(module_name) or any(
                module_name == a or module_name.startswith(a + ".") for a in self.allowed):
            return  # a malformed name fails as it imports
        top = module_name.split(".")[0]
        places = _locations(top)
        if places is None or (places and all(p.is_relative_to(self.folder) for p in places)):
            return  # not found anywhere: NotFoundError as it imports
        beside = [p for p in places if not p.is_relative_to(self.folder)]
        places = beside or places  # a namespace package reaching outside: say where
        found = f"found at {places[0]}" if places else "built into Python"
        raise ValidationError(
            f"{where}: {spec!r} names module {top!r} ({found}), which is not in the suite "
            f"file's folder {str(self.folder)!r}; a suite file runs only code beside it. To "
            f"trust it, pass allow_modules=[{top!r}] to Suite.from_toml (CLI: --allow-module "
            f"{top})")


def _locations(top: str) -> list[Path] | None:
    """Where the top-level module `top` would be imported from ([] for one built into
    Python or frozen, None when there is none), found without importing it."""
    try:
        spec = importlib.util.find_spec(top)
    except ValueError:  # in sys.modules without a spec (__main__)
        return []
    except ImportError:
        return None
    if spec is None:
        return None
    places = [spec.origin] if spec.has_location and spec.origin else []
    places += list(spec.submodule_search_locations or [])
    return [Path(p).resolve() for p in places]


def _load_toml(cls: type[Suite], path: Path, allowed: tuple[str, ...] = ()) -> Suite:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"no suite file {str(path)!r}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: not valid TOML (UTF-8): {exc}") from exc
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read the suite file {str(path)!r}: {exc}") from exc
    folder = path.resolve().parent
    with _beside(folder):
        return _build(cls, path, data, _Trusted(folder, allowed))


_LOADING = threading.RLock()  # sys.path and sys.modules belong to the whole process


@contextmanager
def _beside(folder: Path) -> Iterator[None]:
    """Make `folder` importable (first on ``sys.path``) while a suite file's code is
    imported, then forget it: the entry leaves ``sys.path`` and the modules imported from
    the folder leave ``sys.modules`` (the suite keeps what it took from them). So another
    suite's ``models.py`` in another folder is its own, and an edited one is read again.
    A folder already on ``sys.path`` (a script run beside its suite) is left as it is, and
    so are its modules: the user's own ``import models`` must find the suite's one."""
    entry = str(folder)
    with _LOADING:
        before = set(sys.modules)
        added = not _on_path(folder)
        if added:
            sys.path.insert(0, entry)
        try:
            yield
        finally:
            if added and entry in sys.path:
                sys.path.remove(entry)
                sys.path_importer_cache.pop(entry, None)
            for name in set(sys.modules) - before if added else ():
                module = sys.modules.get(name)
                if module is not None and _imported_from(module, name, folder):
                    sys.modules.pop(name, None)


def _on_path(folder: Path) -> bool:
    """Whether `folder` is importable already (an entry of ``sys.path``; ``""`` is the
    working directory)."""
    for entry in sys.path:
        try:
            if isinstance(entry, str) and Path(entry or ".").resolve() == folder:
                return True
        except (OSError, RuntimeError):
            continue
    return False


def _imported_from(module: types.ModuleType, name: str, folder: Path) -> bool:
    """Whether `module` was found through `folder` as a ``sys.path`` entry: its file (or a
    package's folder) is ``folder/<top-level name>...``. A library merely stored under the
    folder (a project's own ``.venv``) was found through another entry, and stays."""
    top = name.partition(".")[0]
    places = [getattr(module, "__file__", None), *getattr(module, "__path__", ())]
    for place in places:
        if not isinstance(place, str):
            continue
        resolved = Path(place).resolve()
        if resolved.is_relative_to(folder):
            first = resolved.relative_to(folder).parts[:1]
            if first and first[0].partition(".")[0] == top:
                return True
    return False


def _build(cls: type[Suite], path: Path, data: dict[str, Any], trusted: _Trusted) -> Suite:
    """The suite a TOML file's `data` describes (its code imported, checked by `trusted`)."""
    known = {"name", "dataset", "version", "candidates", "metrics", "thresholds",
             "no_regression", "max_error_rate", "reference", "inputs", "alpha", "seed",
             "models", "workers", "timeout", "retries", "cache", "positive_label"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"{path}: unknown field(s) {unknown}; known: {sorted(known)}")
    for field in ("name", "dataset", "candidates"):
        if field not in data:
            raise ValidationError(f"{path}: missing {field!r}")
    for field, kind in (("candidates", dict), ("models", dict), ("metrics", list)):
        if field in data and not isinstance(data[field], kind):
            raise ValidationError(f"{path}: {field} must be a "
                                  f"{'table' if kind is dict else 'list'}, got {data[field]!r}")
    candidates: dict[str, Any] = {}
    for name, spec in dict(data["candidates"]).items():
        where = f"{path}: candidate {name!r}"
        if isinstance(spec, str):
            candidates[name] = import_object(spec, where, trusted)
        elif isinstance(spec, dict) and "application" in spec:
            candidates[name] = (spec["application"], spec.get("version", "latest"))
        elif isinstance(spec, dict) and "callable" in spec:
            candidates[name] = _toml_candidate(spec, where, trusted)
        else:
            raise ValidationError(f"{where}: give 'module:function', {{callable = ..., version "
                                  "= ...}} or {application = ..., version = ...}")
    options = {k: data[k] for k in ("reference", "inputs", "alpha", "seed", "workers", "timeout",
                                    "retries", "cache", "positive_label") if k in data}
    models = {name: import_object(spec, f"{path}: model {name!r}", trusted)
              for name, spec in dict(data.get("models", {})).items()}
    return cls(data["name"], data["dataset"], candidates, data.get("metrics"),
               data.get("thresholds", ()), data.get("no_regression", ()),
               data.get("max_error_rate"), data.get("version"), models, **options)


def _toml_candidate(spec: dict[str, Any], where: str, trusted: _Trusted) -> Candidate:
    """``{callable = "m:f", version = "v2", artifact = "model.pkl", training_data = "ds"}``."""
    unknown = sorted(set(spec) - {"callable", "version", "artifact", "training_data"})
    if unknown:
        raise ValidationError(f"{where}: unknown field(s) {unknown}; known: callable, version, "
                              "artifact, training_data")
    version, artifact = spec.get("version"), spec.get("artifact")
    if version is not None and not isinstance(version, str):
        raise ValidationError(f"{where}: version must be a string, got {version!r}")
    if artifact is not None and (not isinstance(artifact, str) or not artifact):
        raise ValidationError(f"{where}: artifact must be a file path, got {artifact!r}")
    training = spec.get("training_data")
    if isinstance(training, list):
        training = tuple(training)
    return Candidate(import_object(spec["callable"], where, trusted), version,
                     artifact=trusted.folder / artifact if artifact else None,
                     training_data=training)
