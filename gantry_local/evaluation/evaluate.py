"""`evaluate`: run candidates on the same rows of one dataset version and compare them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from .._labels import LABEL_METRICS, SCORE_METRICS, LabelRule, label_rule
from .._limits import shown
from .._names import check_name
from ..clock import to_utc
from ..errors import NotFoundError, StorageError, ValidationError
from . import _store
from ._runner import CallOutcome, RunSettings, run_calls
from .comparison import NO_DIFFERENCE, Comparison, MetricResult, PairwiseResult, decide
from .completion import CompletionVersion
from .judges import PairwiseJudge, ScoreJudge
from .metrics import AggregateMetric, Metric, RowError, RowMetric, for_labels, output_part, resolve_metrics
from .settings import MAX_RESAMPLES, EvaluationSettings
from .stats import aggregate_bootstrap, row_comparison, sign_test, wilson_interval

if TYPE_CHECKING:
    from .._context import Context, WorkspaceLike
    from ..datasets import Dataset

__all__ = ["MAX_RESAMPLES", "Candidate", "TrainingOverlapWarning", "artifact_hash", "evaluate",
           "get_evaluation", "list_evaluations"]

_log = logging.getLogger("gantry_local")


class TrainingOverlapWarning(UserWarning):
    """The rows evaluated on overlap the data a candidate declares it was trained on."""


@dataclass(frozen=True)
class Candidate:
    """A model to evaluate: ``fn(inputs) -> output``.

    Give a `version` (e.g. a model's tag) or an `artifact` (the model file's path, or its
    bytes) to cache its outputs by (version, row content): evaluating the next dataset
    version then only calls it for new rows. With an artifact the version includes the
    file's sha256, so replacing the model changes the key even when the tag is reused.
    Plain callables are not cached, since nothing tells when their behaviour changed.
    `training_data` (a dataset name, a `Dataset`, or ``(name, version_id)``) declares what
    the model was trained on: `evaluate` warns when the rows it evaluates on overlap it.

    An output may be ``{"label": ..., "score": ...}``: label metrics (accuracy, precision,
    recall, f1) read the label, score metrics (roc_auc, mae, mse, rmse, r2) the score.
    """

    fn: Callable[[dict[str, Any]], Any]
    version: str | None = None
    artifact: str | os.PathLike[str] | bytes | None = field(default=None, repr=False)
    training_data: Any = None

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValidationError("Candidate needs a callable inputs -> output")
        if self.version is not None and (not isinstance(self.version, str) or not self.version):
            raise ValidationError(f"Candidate version must be a non-empty string, got "
                                  f"{shown(self.version)}")
        if self.artifact is not None:
            digest = f"sha256:{artifact_hash(self.artifact)}"
            object.__setattr__(self, "version", f"{self.version}@{digest}" if self.version
                               else digest)
            object.__setattr__(self, "artifact", None)  # the hash is what counts; free the bytes
        check_training_data(self.training_data)


def artifact_hash(artifact: str | os.PathLike[str] | bytes) -> str:
    """The sha256 (hex) of a model artifact: a file's contents, or bytes.

    Raises:
        ValidationError: not a path or bytes. NotFoundError: no such file.
        StorageError: it cannot be read.
    """
    if isinstance(artifact, (bytes, bytearray, memoryview)):
        return hashlib.sha256(artifact).hexdigest()
    if not isinstance(artifact, (str, os.PathLike)) or not os.fspath(artifact):
        raise ValidationError(f"artifact must be the model file's path or its bytes, got "
                              f"{type(artifact).__name__}")
    path = Path(os.fspath(artifact))
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise NotFoundError(f"no model artifact {str(path)!r}; give the model file's path or "
                            "its bytes") from None
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read the model artifact {str(path)!r}: {exc}") from exc
    return digest.hexdigest()


@dataclass(frozen=True)
class _Run:
    """One candidate's outputs on every row (None where the row has an error)."""

    outputs: list[Any]
    failed: list[bool]  # the call itself failed (no output)
    errors: list[str | None]  # the call's error, then any scoring errors
    attempts: list[int]
    cached: list[bool]
    timeouts: int


def evaluate(
    dataset: str | Dataset,
    candidates: Mapping[str, Callable[..., Any] | Candidate | CompletionVersion],
    metrics: Sequence[str | Metric] | str | None = None,
    *,
    version_id: str | None = None,
    inputs: Sequence[str] | None = None,
    reference: str | None = None,
    judge: ScoreJudge | PairwiseJudge | None = None,
    settings: EvaluationSettings | None = None,
    workspace: WorkspaceLike | None = None,
    **options: Any,
) -> Comparison:
    """Run every candidate on exactly the same rows of a dataset version and compare them.

    Args:
        dataset: a dataset name or object; `version_id` picks a version (default: latest).
        candidates: ``{"v1": model, "v2": model}``; the first is the baseline. A model is
            a callable ``inputs -> output``, a `Candidate`, or a completion version.
        metrics: names (``"accuracy"``...) or metric objects; the first is primary.
        inputs: input columns (default: every ``inputs.*`` column); models get a dict
            keyed by the names without the ``inputs.`` prefix.
        reference: the column outputs are compared with (default: the one
            ``feedback.*`` column).
        judge: a `ScoreJudge` (adds a "judge" metric) or a `PairwiseJudge`.
        settings: an `EvaluationSettings` (alpha, seed, n_resamples, workers, timeout,
            retries, backoff, progress, store, cache, positive_label).
        **options: any of those settings by keyword, over `settings`
            (``evaluate(..., alpha=0.01, cache=False)``).

    Raises:
        ValidationError: unknown metrics or columns, no rows, bad candidates.
    """
    ws = _workspace(workspace)
    config = _settings(settings, options)
    source = _dataset(ws, dataset)
    full_version = source.resolve(version_id)
    frame = source.read(full_version)
    if frame.height == 0:
        raise ValidationError(f"version {full_version[:12]} of {source.name!r} has no rows")
    chosen = resolve_metrics(metrics) if metrics is not None or judge is None else []
    if judge is not None and not isinstance(judge, (ScoreJudge, PairwiseJudge)):
        raise ValidationError("judge must be a ScoreJudge or a PairwiseJudge")
    input_columns = _input_columns(frame, inputs)
    needs_reference = any(m.needs_reference for m in chosen)
    reference_column = _reference_column(frame, reference, needs_reference)
    models = _candidates(ws, candidates, input_columns)
    row_inputs = [{k.removeprefix("inputs."): v for k, v in row.items()}
                  for row in frame.select(input_columns).to_dicts()]
    references = ([None if _is_nan(r) else r for r in frame[reference_column].to_list()]
                  if reference_column else [None] * frame.height)  # a NaN label is missing
    labelled = [m for m in chosen if m.name in LABEL_METRICS + SCORE_METRICS
                and output_part(m) is not None]
    if labelled:  # continuous labels are refused before any model is called
        label_rule(references, [], config.positive_label)
    overlaps = _overlaps(ws, candidates, input_columns, row_inputs)

    runs = {name: _run_candidate(ws, fn, key, row_inputs, config, name)
            for name, (fn, key) in models.items()}
    views = {(m.name, name): _view(run, output_part(m)) for m in chosen
             for name, run in runs.items()}
    rule = _rule(labelled, runs, views, references, config.positive_label)
    chosen = [for_labels(m, rule) if rule is not None and m in labelled else m for m in chosen]
    chosen, scores = _all_row_scores(chosen, judge, runs, views, row_inputs, references,
                                     config)
    names = list(models)
    baseline = names[0]
    valid = {(m.name, name): _valid_for_aggregate(m, run, views[(m.name, name)], references)
             for m in chosen if isinstance(m, AggregateMetric) for name, run in runs.items()}
    results = [_metric_result(metric, name, baseline, views, scores, valid, references, config)
               for metric in chosen for name in names]
    pairwise, pair_columns = _pairwise_all(judge, runs, row_inputs, config, names)
    rows = _rows_frame(frame, input_columns, reference_column, runs, scores, pair_columns)
    comparison = Comparison(
        id=uuid.uuid4().hex[:12], created_at=to_utc(ws.clock.now()), dataset=source.name,
        version_id=full_version, candidates={n: key or "callable" for n, (_, key) in models.items()},
        baseline=baseline, metrics=[m.name for m in chosen], alpha=config.alpha,
        seed=config.seed, n_rows=frame.height, results=results, pairwise=pairwise,
        errors={n: sum(e is not None for e in r.errors) for n, r in runs.items()},
        timeouts={n: r.timeouts for n, r in runs.items()},
        retried={n: sum(a > 1 for a in r.attempts) for n, r in runs.items()},
        cached={n: sum(r.cached) for n, r in runs.items()}, rows=rows,
        cacheable={n: key is not None and config.cache for n, (_, key) in models.items()},
        labels=rule.as_dict() if rule is not None else {},
        training_overlap={n: o.rows for n, o in overlaps.items()},
        warnings=[o.message for o in overlaps.values() if o.rows])
    if config.store:
        _store.save_evaluation(ws, comparison)
    return comparison


@dataclass(frozen=True)
class _Overlap:
    rows: int
    message: str


def check_training_data(data: Any) -> None:
    """A candidate's declared training data: a dataset name, a Dataset or (name, version_id)."""
    from ..datasets import Dataset

    if data is None or isinstance(data, Dataset) or (isinstance(data, str) and data):
        return
    if isinstance(data, tuple) and len(data) == 2 and all(
            isinstance(part, str) and part for part in data):
        return
    raise ValidationError(f"training_data must be a dataset name, a Dataset or a (name, "
                          f"version_id) pair, got {shown(data)}")


def _overlaps(ws: Context, candidates: Mapping[str, Any], input_columns: list[str],
              row_inputs: list[dict[str, Any]]) -> dict[str, _Overlap]:
    """Per candidate declaring training data: evaluated rows whose inputs it was trained on."""
    out: dict[str, _Overlap] = {}
    for name, model in candidates.items():
        if not isinstance(model, Candidate) or model.training_data is None:
            continue
        label, frame = _training_frame(ws, model.training_data)
        shared = [c for c in input_columns if c in frame.columns]
        keys = [c.removeprefix("inputs.") for c in shared]
        seen = {_row_hash(row) for row in frame.select(shared).rename(
            dict(zip(shared, keys, strict=True))).to_dicts()} if shared else set()
        rows = sum(_row_hash({k: r[k] for k in keys}) in seen for r in row_inputs) if keys else 0
        message = (f"candidate {name!r}: {rows:,} of {len(row_inputs):,} evaluated rows "
                   f"({rows / len(row_inputs):.0%}) have the same inputs as rows of its training "
                   f"data {label}; its scores overstate how it does on new data: evaluate on rows "
                   "held out from training (split the dataset by content)")
        out[name] = _Overlap(rows, message)
        if rows:
            _log.warning("evaluate: %s", message)
            warnings.warn(message, TrainingOverlapWarning, stacklevel=4)
    return out


def _training_frame(ws: Context, data: Any) -> tuple[str, pl.DataFrame]:
    name, version = data if isinstance(data, tuple) else (data, None)
    source = _dataset(ws, name)
    full = source.resolve(version)
    return f"{source.name}@{full[:12]}", source.read(full)


def _all_row_scores(chosen: list[Metric], judge: Any, runs: dict[str, _Run],
                    views: dict[tuple[str, str], list[Any]], row_inputs: list[dict[str, Any]],
                    references: list[Any], config: EvaluationSettings
                    ) -> tuple[list[Metric], dict[str, dict[str, np.ndarray[Any, Any]]]]:
    """Per-row scores of every row metric (and a score judge, added as a metric)."""
    scores: dict[str, dict[str, np.ndarray[Any, Any]]] = {}
    for metric in chosen:
        if isinstance(metric, RowMetric):
            scores[metric.name] = {name: _score_rows(metric, run, views[(metric.name, name)],
                                                     row_inputs, references)
                                   for name, run in runs.items()}
    if isinstance(judge, ScoreJudge):
        chosen = [*chosen, RowMetric(judge.name, lambda row, out, ref: 0.0,
                                     needs_reference=False)]
        scores[judge.name] = {name: _judge_scores(judge, run, row_inputs, config.run, name)
                              for name, run in runs.items()}
    return chosen, scores


def _settings(settings: EvaluationSettings | None, options: Mapping[str, Any]
              ) -> EvaluationSettings:
    if settings is not None and not isinstance(settings, EvaluationSettings):
        raise ValidationError(f"settings must be an EvaluationSettings, got "
                              f"{type(settings).__name__}")
    return (settings or EvaluationSettings()).replace(**options)


def _view(run: _Run, part: str | None) -> list[Any]:
    """The outputs a metric reads: the label or score of ``{"label", "score"}`` outputs."""
    if part is None:
        return run.outputs
    out = []
    for output in run.outputs:
        if _is_pair(output):
            out.append(output.get(part))
        else:
            out.append(output)
    return out


def _is_pair(output: Any) -> bool:
    return isinstance(output, dict) and bool(output) and set(output) <= {"label", "score"}


def _rule(labelled: list[Metric], runs: dict[str, _Run], views: dict[tuple[str, str], list[Any]],
          references: list[Any], positive_label: Any) -> LabelRule | None:
    """One label rule for every label metric and candidate (stated in the result)."""
    label_metrics = [m for m in labelled if output_part(m) == "label"]
    if not labelled:
        return None
    if not label_metrics:  # roc_auc alone: the classes are the labels'
        return label_rule(references, [], positive_label)
    predictions: list[Any] = []
    for name, run in runs.items():
        view = views[(label_metrics[0].name, name)]
        labels = [v for v, failed in zip(view, run.failed, strict=True)
                  if not failed and isinstance(v, (bool, int, float, str))]  # others: row errors
        try:
            label_rule([], labels, None, _SCORE_FIX)
        except ValidationError as exc:
            raise ValidationError(f"candidate {name!r}: {exc}") from None
        predictions.extend(labels)
    return label_rule(references, predictions, positive_label, _SCORE_FIX)


_SCORE_FIX = ("return the predicted label, or {'label': ..., 'score': ...} so that roc_auc "
              "reads the score")


def _workspace(workspace: object) -> Context:
    """The context of `workspace` (the default workspace's when None): the room's boundary."""
    from .._context import narrow_or_default

    try:
        return narrow_or_default(workspace)
    except ValidationError:
        raise ValidationError(f"workspace must be a Workspace, got {type(workspace).__name__}"
                              ) from None


def _dataset(ws: Context, dataset: Any) -> Dataset:
    from ..datasets import Dataset

    if isinstance(dataset, str):
        return ws.datasets.get_dataset(dataset)
    if isinstance(dataset, Dataset):
        return dataset
    raise ValidationError(f"dataset must be a dataset name or a Dataset, got "
                          f"{type(dataset).__name__} {dataset!r}")


def _input_columns(frame: pl.DataFrame, inputs: Sequence[str] | None) -> list[str]:
    if inputs is None:
        found = [c for c in frame.columns if c.startswith("inputs.")]
        if not found:
            raise ValidationError(f"the dataset has no inputs.* columns; name them with "
                                  f"inputs=[...] (columns: {', '.join(frame.columns)})")
        return found
    if not isinstance(inputs, (list, tuple)) or not inputs or \
            not all(isinstance(name, str) for name in inputs):
        raise ValidationError(f"inputs must be a non-empty list of column names, got {inputs!r}")
    out = []
    for name in inputs:
        column = name if name in frame.columns else f"inputs.{name}"
        if column not in frame.columns:
            raise ValidationError(f"no input column {name!r}; columns: {', '.join(frame.columns)}")
        out.append(column)
    return out


def _reference_column(frame: pl.DataFrame, reference: str | None, needed: bool) -> str | None:
    if reference is not None and not isinstance(reference, str):
        raise ValidationError(f"reference must be a column name, got {reference!r}")
    if reference is not None:
        column = reference if reference in frame.columns else f"feedback.{reference}"
        if column not in frame.columns:
            raise ValidationError(f"no reference column {reference!r}; columns: "
                                  f"{', '.join(frame.columns)}")
        return column
    found = [c for c in frame.columns if c.startswith("feedback.")]
    if len(found) == 1:
        return found[0]
    if not needed:
        return None
    if not found:
        raise ValidationError(f"the metrics need a reference, and the dataset has no feedback.* "
                              f"column; pass reference= (columns: {', '.join(frame.columns)})")
    raise ValidationError(f"several feedback columns {found}; pick one with reference=")


def _candidates(ws: Context, candidates: Mapping[str, Any], input_columns: list[str]
                ) -> dict[str, tuple[Callable[[dict[str, Any]], Any], str | None]]:
    if not isinstance(candidates, Mapping) or not candidates:
        raise ValidationError('candidates must be a dict such as {"v1": model_a, "v2": model_b}')
    keys = {c.removeprefix("inputs.") for c in input_columns}
    out: dict[str, tuple[Callable[[dict[str, Any]], Any], str | None]] = {}
    for name, model in candidates.items():
        check_name(name, "candidate name")
        if isinstance(model, CompletionVersion):
            missing = [v for v in model.variables() if v not in keys]
            if missing:
                raise ValidationError(f"candidate {name!r}: the prompt template needs {missing}, "
                                      f"the dataset's inputs are {sorted(keys)}")
            attached = model if model.workspace is not None else dataclasses.replace(
                model, workspace=ws)
            attached.model_fn()  # a clear error now if the model is not registered
            out[name] = (attached, model.cache_key)
        elif isinstance(model, Candidate):
            out[name] = (model.fn, f"candidate:{name}:{model.version}" if model.version else None)
        elif callable(model):
            out[name] = (model, None)
        else:
            raise ValidationError(f"candidate {name!r} must be a callable, a Candidate or a "
                                  f"completion version, got {type(model).__name__}")
    return out


def _row_hash(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _json_output(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool) and not \
            -2**63 <= value < 2**63:
        raise ValueError("the output is an integer too large to store (beyond 64 bits); "
                         "return a float or a string")
    try:  # what cannot be stored is the row's error
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the output is not valid Unicode (a lone surrogate)") from None
    return value


def _run_candidate(ws: Context, fn: Callable[[dict[str, Any]], Any], key: str | None,
                   row_inputs: list[dict[str, Any]], config: EvaluationSettings, name: str
                   ) -> _Run:
    """Outputs from the cache where allowed (a versioned candidate), else from calls."""
    n = len(row_inputs)
    outputs: list[Any] = [None] * n
    errors: list[str | None] = [None] * n
    attempts, cached = [0] * n, [False] * n
    hashes = [_row_hash(r) for r in row_inputs] if key else []
    stored = _store.cached_outputs(ws, key, sorted(set(hashes))) if key and config.cache else {}
    todo = []
    for index in range(n):
        if key and hashes[index] in stored:
            outputs[index], cached[index] = json.loads(stored[hashes[index]]), True
        else:
            todo.append(index)
    outcomes = run_calls(lambda i: _json_output(fn(row_inputs[i])), todo, config.run,
                         label=f"running {name}")
    fresh: list[tuple[str, str]] = []
    for index, outcome in zip(todo, outcomes, strict=True):
        attempts[index] = outcome.attempts
        if outcome.error is not None:
            errors[index] = outcome.error
        else:
            outputs[index] = outcome.output
            if key:
                fresh.append((hashes[index], json.dumps(outcome.output)))
    if key:
        _store.cache_outputs(ws, key, fresh, replace=not config.cache)
    for index, output in enumerate(outputs):  # NaN is no answer: a row error for every metric
        if errors[index] is None and _is_nan(output):
            errors[index] = "output is NaN (not a number)"
    return _Run(outputs, [e is not None for e in errors], errors, attempts, cached,
                sum(_timed_out(o) for o in outcomes))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _timed_out(outcome: CallOutcome) -> bool:
    return outcome.timed_out and outcome.error is not None


def _note(run: _Run, index: int, message: str) -> None:
    previous = run.errors[index]
    run.errors[index] = message if previous is None else f"{previous}; {message}"


def _score_rows(metric: RowMetric, run: _Run, outputs: list[Any],
                row_inputs: list[dict[str, Any]], references: list[Any]) -> np.ndarray[Any, Any]:
    """Per-row scores; NaN (and a noted error) where the output cannot be scored."""
    scores = np.full(len(row_inputs), np.nan)
    for index, output in enumerate(outputs):
        if run.failed[index]:
            continue
        reference = references[index]
        if metric.needs_reference and reference is None:
            continue  # no label for this row: left out of this metric
        try:
            scores[index] = _score(metric, row_inputs[index], output, reference)
        except RowError as exc:
            _note(run, index, f"{metric.name}: {exc}")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a metric's own failure is the row's error
            _note(run, index, f"{metric.name}: {type(exc).__name__}: {exc}")
    return scores


def _score(metric: RowMetric, row: dict[str, Any], output: Any, reference: Any) -> float:
    """One row's score: a finite float, else a RowError."""
    value = metric.score(row, output, reference)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RowError(f"the score must be a number, got {type(value).__name__} {value!r:.60}")
    try:
        result = float(value)
    except OverflowError:
        raise RowError("the score is too large for a float") from None
    if not math.isfinite(result):
        raise RowError(f"the score must be a finite number, got {result!r}")
    return result


def _judge_scores(judge: ScoreJudge, run: _Run, row_inputs: list[dict[str, Any]],
                  settings: RunSettings, name: str) -> np.ndarray[Any, Any]:
    todo = [i for i, failed in enumerate(run.failed) if not failed]
    outcomes = run_calls(lambda i: judge.score(row_inputs[i], run.outputs[i]), todo, settings,
                         label=f"judging {name}")
    scores = np.full(len(row_inputs), np.nan)
    for index, outcome in zip(todo, outcomes, strict=True):
        if outcome.error is not None:
            _note(run, index, f"{judge.name}: {outcome.error}")
        else:
            scores[index] = outcome.output
    return scores


def _valid_for_aggregate(metric: AggregateMetric, run: _Run, outputs: list[Any],
                         references: list[Any]) -> np.ndarray[Any, Any]:
    """Rows this candidate's output can enter `metric` with (a wrong type is noted)."""
    ok = np.zeros(len(references), dtype=bool)
    numeric = metric.kind == "regression" or metric.name == "roc_auc"
    for index, output in enumerate(outputs):
        if run.failed[index] or references[index] is None:
            continue
        if output is None:
            _note(run, index, f"{metric.name}: the output has no {output_part(metric)}")
            continue
        if numeric:
            ok[index] = isinstance(output, (int, float)) and math.isfinite(output)
            reference = references[index]
            if ok[index] and not (isinstance(reference, (int, float))
                                  and math.isfinite(reference)):
                ok[index] = False
                _note(run, index, f"{metric.name}: reference {reference!r} is not a finite number")
                continue
            if ok[index] and metric.kind == "regression" and \
                    not math.isfinite(float(output) - float(reference)):  # 1.5e308 - -1.5e308
                ok[index] = False
                _note(run, index, f"{metric.name}: the error is too large for a float")
                continue
        else:
            ok[index] = isinstance(output, (str, int, float, bool))
        if not ok[index]:
            _note(run, index, f"{metric.name}: output {output!r} has the wrong type")
    return ok


def _metric_result(metric: Metric, name: str, baseline: str,
                   views: dict[tuple[str, str], list[Any]],
                   scores: dict[str, dict[str, np.ndarray[Any, Any]]],
                   aggregate_ok: dict[tuple[str, str], np.ndarray[Any, Any]],
                   references: list[Any], config: EvaluationSettings) -> MetricResult:
    alpha, seed, n_resamples = config.alpha, config.seed, config.n_resamples
    higher = metric.higher_is_better
    if isinstance(metric, RowMetric):
        own = scores[metric.name][name]
        valid = ~np.isnan(own)
        value = float(own[valid].mean()) if valid.any() else None
        result = MetricResult(metric.name, name, value, int(valid.sum()), higher)
        if name == baseline:
            return result
        base = scores[metric.name][baseline]
        both = valid & ~np.isnan(base)
        if both.sum() < 2:
            return _no_pairs(result)
        paired = row_comparison(base[both], own[both], metric.binary, n_resamples, alpha, seed)
    else:
        refs = np.array(references, dtype=object)
        ok = aggregate_ok[(metric.name, name)]
        outputs = np.array(views[(metric.name, name)], dtype=object)
        value = float(_aggregate(metric, refs[ok], outputs[ok])) if ok.any() else None
        result = MetricResult(metric.name, name, value, int(ok.sum()), higher)
        if name == baseline:
            return result
        both = ok & aggregate_ok[(metric.name, baseline)]
        if both.sum() < 2:
            return _no_pairs(result)
        base_out = np.array(views[(metric.name, baseline)], dtype=object)
        paired = aggregate_bootstrap(metric.compute, refs[both], base_out[both], outputs[both],
                                     n_resamples, alpha, seed)
    verdict = decide(paired.difference, paired.ci_low, paired.ci_high, paired.p_value, alpha,
                     higher)
    return MetricResult(metric.name, name, result.value, result.n, higher, paired.difference,
                        paired.ci_low, paired.ci_high, paired.p_value, paired.test, paired.n,
                        verdict)


def _aggregate(metric: AggregateMetric, refs: np.ndarray[Any, Any],
               outputs: np.ndarray[Any, Any]) -> float:
    return float(metric.compute(refs, outputs, np.ones((1, refs.size)))[0])


def _no_pairs(result: MetricResult) -> MetricResult:
    return MetricResult(result.metric, result.candidate, result.value, result.n,
                        result.higher_is_better, None, None, None, 1.0, "too few paired rows", 0,
                        NO_DIFFERENCE)


def _pairwise(judge: PairwiseJudge, base: _Run, cand: _Run, row_inputs: list[dict[str, Any]],
              settings: RunSettings, seed: int, alpha: float, name: str, baseline: str
              ) -> tuple[PairwiseResult, list[str | None], list[str | None]]:
    n = len(row_inputs)
    todo = [i for i in range(n) if not (base.failed[i] or cand.failed[i])]
    # A seeded random half of the judged rows show the candidate first: position bias
    # cancels exactly (a judge always answering "a" scores a win rate of 0.5).
    swapped = np.zeros(n, dtype=bool)
    order = np.random.default_rng(seed).permutation(len(todo))
    swapped[np.array(todo, dtype=np.int64)[order < len(todo) // 2]] = True

    def ask(i: int) -> str:
        first, second = (cand, base) if swapped[i] else (base, cand)
        return judge.compare(row_inputs[i], first.outputs[i], second.outputs[i])

    outcomes = run_calls(ask, todo, settings, label=f"judging {name} against {baseline}")
    winners: list[str | None] = [None] * n
    orders: list[str | None] = [None] * n
    errors = 0
    for index, outcome in zip(todo, outcomes, strict=True):
        orders[index] = "candidate first" if swapped[index] else "baseline first"
        if outcome.error is not None:
            errors += 1
            _note(cand, index, f"{judge.name}: {outcome.error}")
            continue
        answer = outcome.output
        if answer == "tie":
            winners[index] = "tie"
        else:
            candidate_won = (answer == "a") == bool(swapped[index])
            winners[index] = "candidate" if candidate_won else "baseline"
    wins, losses = winners.count("candidate"), winners.count("baseline")
    ties = winners.count("tie")
    low, high = wilson_interval(wins, wins + losses, alpha)
    p_value = sign_test(wins, losses)
    rate = wins / (wins + losses) if wins + losses else None
    verdict = decide((rate or 0.5) - 0.5, low - 0.5, high - 0.5, p_value, alpha, True)
    return (PairwiseResult(name, baseline, wins, ties, losses, rate, low, high, p_value, verdict,
                           errors), winners, orders)


def _pairwise_all(judge: Any, runs: dict[str, _Run], row_inputs: list[dict[str, Any]],
                  config: EvaluationSettings, names: list[str]
                  ) -> tuple[list[PairwiseResult], dict[str, list[Any]]]:
    """A pairwise judge's verdict for every challenger against the baseline."""
    pairwise: list[PairwiseResult] = []
    pair_columns: dict[str, list[Any]] = {}
    if not isinstance(judge, PairwiseJudge):
        return pairwise, pair_columns
    baseline = names[0]
    for index, name in enumerate(names[1:]):
        result, winners, orders = _pairwise(judge, runs[baseline], runs[name], row_inputs,
                                            config.run, config.seed + index, config.alpha, name,
                                            baseline)
        pairwise.append(result)
        pair_columns[f"pairwise.{name}"] = winners
        pair_columns[f"pairwise_order.{name}"] = orders
    return pairwise, pair_columns


def _rows_frame(frame: pl.DataFrame, input_columns: list[str], reference_column: str | None,
                runs: dict[str, _Run], scores: dict[str, dict[str, np.ndarray[Any, Any]]],
                pair_columns: dict[str, list[Any]]) -> pl.DataFrame:
    """Per row: the inputs and reference as in the dataset, each candidate's output (typed
    when all outputs share a type, else JSON text), error, attempts, and every score."""
    kept = [*input_columns, *([reference_column] if reference_column else [])]
    columns: dict[str, Any] = {"row": pl.int_range(0, frame.height, eager=True)}
    columns.update({c: frame[c] for c in kept})
    for name, run in runs.items():
        columns[f"output.{name}"] = _output_column(run)
        columns[f"error.{name}"] = pl.Series(run.errors, dtype=pl.String)
        columns[f"attempts.{name}"] = pl.Series(run.attempts, dtype=pl.Int64)
        columns[f"cached.{name}"] = pl.Series(run.cached, dtype=pl.Boolean)
    for metric, per_candidate in scores.items():
        for name, values in per_candidate.items():
            columns[f"score.{metric}.{name}"] = pl.Series(values, dtype=pl.Float64,
                                                          nan_to_null=True)
    columns.update({k: pl.Series(v, dtype=pl.String) for k, v in pair_columns.items()})
    return pl.DataFrame(columns)


def _output_column(run: _Run) -> pl.Series:
    values = [None if failed else o for o, failed in zip(run.outputs, run.failed, strict=True)]
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) <= 1 and kinds <= {bool, int, float, str}:
        return pl.Series(values)
    return pl.Series([None if v is None else json.dumps(v) for v in values], dtype=pl.String)


def list_evaluations(dataset: str | None = None, workspace: WorkspaceLike | None = None
                     ) -> pl.DataFrame:
    """Stored evaluations (of one dataset if given), newest first: id, dataset, verdict..."""
    if dataset is not None and not isinstance(dataset, str):
        raise ValidationError(f"dataset must be a dataset name or None, got {dataset!r}")
    return _store.evaluation_summaries(_workspace(workspace), dataset)


def get_evaluation(evaluation_id: str, workspace: WorkspaceLike | None = None) -> Comparison:
    """A stored evaluation, rows included.

    Raises:
        NotFoundError: no evaluation has that id.
    """
    if not isinstance(evaluation_id, str) or not evaluation_id:
        raise ValidationError(f"evaluation_id must be an id from list_evaluations(), got "
                              f"{evaluation_id!r}")
    return _store.load_evaluation(_workspace(workspace), evaluation_id)
