"""Issue 15's evaluation traps: label types, a stale cache, a leaking split; checked against
scikit-learn on its own bundled data."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression

import gantry_local as gantry
from gantry_local.errors import NotFoundError, ValidationError
from gantry_local.evaluation import (
    Candidate,
    EvaluationSettings,
    TrainingOverlapWarning,
    artifact_hash,
)
from gantry_local.evaluation.suites import Suite

# -- label types: one rule, checked against scikit-learn ----------------------------------------


def _push(ws: gantry.Workspace, name: str, x: np.ndarray[Any, Any], y: list[Any]) -> None:
    frame = pl.DataFrame({"inputs.id": range(len(y)), **{f"inputs.f{i}": x[:, i]
                                                        for i in range(x.shape[1])},
                          "feedback.label": y})
    ws.create_dataset(name).push_dataframe(frame)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    x, y = load_digits(return_X_y=True)
    x, y = x[:400], y[:400]
    model = LogisticRegression(max_iter=200).fit(x[:40], y[:40])  # weak on purpose
    return x[200:], y[200:], model.predict(x[200:])


def test_ten_integer_classes_give_macro_metrics_like_sklearn(ws: gantry.Workspace,
                                                             digits: Any) -> None:
    x, y, predicted = digits
    _push(ws, "digits", x[:, :4], [int(v) for v in y])
    by_id = dict(enumerate(int(p) for p in predicted))
    result = gantry.evaluate("digits", {"m": lambda r: by_id[r["id"]]},
                             ["accuracy", "f1", "precision", "recall"], workspace=ws)
    assert result.value("accuracy", "m") == pytest.approx(skm.accuracy_score(y, predicted))
    assert result.value("f1", "m") == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert result.value("precision", "m") == pytest.approx(
        skm.precision_score(y, predicted, average="macro", zero_division=0))
    assert result.value("recall", "m") == pytest.approx(
        skm.recall_score(y, predicted, average="macro", zero_division=0))
    assert result.labels["kind"] == "multiclass" and result.labels["classes"] == 10
    assert "macro" in str(result) and "10 classes" in str(result)
    assert gantry.get_evaluation(result.id, workspace=ws).labels == result.labels


@pytest.mark.parametrize("kind", ["int", "str", "bool"])
def test_binary_labels_mean_the_positive_class_whatever_their_type(ws: gantry.Workspace,
                                                                   kind: str) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    predicted = np.where(rng.random(300) < 0.7, y, 1 - y)
    cast = {"int": int, "str": lambda v: str(int(v)), "bool": lambda v: bool(v)}[kind]
    _push(ws, "bin", rng.normal(size=(300, 1)), [cast(v) for v in y])
    by_id = {i: cast(p) for i, p in enumerate(predicted)}
    result = gantry.evaluate("bin", {"m": lambda r: by_id[r["id"]]}, ["f1", "precision"],
                             workspace=ws, store=False)
    assert result.value("f1", "m") == pytest.approx(skm.f1_score(y, predicted))
    assert result.value("precision", "m") == pytest.approx(skm.precision_score(y, predicted))
    assert result.labels["kind"] == "binary"
    assert result.labels["positive_label"] == {"int": 1, "str": "1", "bool": True}[kind]


def test_positive_label_stated_for_named_classes(ws: gantry.Workspace) -> None:
    y = ["spam", "ham", "spam", "ham", "ham", "spam", "spam", "ham"]
    p = ["spam", "spam", "spam", "ham", "ham", "ham", "spam", "ham"]
    _push(ws, "mail", np.zeros((8, 1)), y)
    by_id = dict(enumerate(p))
    model = {"m": lambda r: by_id[r["id"]]}
    macro = gantry.evaluate("mail", model, ["f1"], workspace=ws, store=False)
    assert macro.value("f1", "m") == pytest.approx(skm.f1_score(y, p, average="macro"))
    stated = gantry.evaluate("mail", model, ["f1"], workspace=ws, store=False,
                             positive_label="spam")
    assert stated.value("f1", "m") == pytest.approx(skm.f1_score(y, p, pos_label="spam"))
    assert stated.labels["positive_label"] == "spam"
    with pytest.raises(ValidationError, match="not one of the classes"):
        gantry.evaluate("mail", model, ["f1"], workspace=ws, positive_label="eggs")


def test_a_score_into_a_label_metric_is_an_error_naming_the_fix(ws: gantry.Workspace) -> None:
    _push(ws, "bin", np.zeros((6, 1)), [0, 1, 0, 1, 1, 0])
    before = gantry.list_evaluations(workspace=ws).height
    with pytest.raises(ValidationError, match=r"continuous.*'label'.*'score'"):
        gantry.evaluate("bin", {"m": lambda r: 0.73}, ["accuracy"], workspace=ws)
    with pytest.raises(ValidationError, match="mae, rmse or r2"):
        ws.create_dataset("reg").push_dataframe(pl.DataFrame(
            {"inputs.a": [1, 2], "feedback.y": [0.5, 1.5]}))
        gantry.evaluate("reg", {"m": lambda r: 1}, ["f1"], workspace=ws)
    with pytest.raises(ValidationError, match="mix strings and numbers"):
        gantry.evaluate("bin", {"m": lambda r: "1"}, ["accuracy"], workspace=ws)
    assert gantry.list_evaluations(workspace=ws).height == before


def test_label_and_score_together_cover_accuracy_f1_and_roc_auc(ws: gantry.Workspace) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(x[:300], y[:300])
    xt, yt = x[300:], y[300:]
    proba, labels = model.predict_proba(xt)[:, 1], model.predict(xt)
    _push(ws, "cancer", xt[:, :3], [int(v) for v in yt])

    def predict(row: dict[str, Any]) -> dict[str, Any]:
        return {"label": int(labels[row["id"]]), "score": float(proba[row["id"]])}

    result = gantry.evaluate("cancer", {"lr": predict}, ["accuracy", "f1", "roc_auc"],
                             workspace=ws)
    assert result.value("accuracy", "lr") == pytest.approx(skm.accuracy_score(yt, labels))
    assert result.value("f1", "lr") == pytest.approx(skm.f1_score(yt, labels))
    assert result.value("roc_auc", "lr") == pytest.approx(skm.roc_auc_score(yt, proba))
    assert result.errors == {"lr": 0}


def test_a_nan_label_output_is_a_row_error(ws: gantry.Workspace) -> None:
    _push(ws, "bin", np.zeros((5, 1)), [0, 1, 0, 1, 1])
    result = gantry.evaluate("bin", {"m": lambda r: float("nan") if r["id"] == 2 else 1},
                             ["accuracy"], workspace=ws, store=False)
    assert result.errors == {"m": 1} and result.results[0].n == 4


def test_metrics_over_time_follow_the_same_rule(app: gantry.Application, digits: Any) -> None:
    x, y, predicted = digits
    app.log_records(inputs=[{"a": float(v)} for v in x[:, 3]],
                    outputs=[{"digit": int(p)} for p in predicted],
                    feedbacks=[{"digit": int(v)} for v in y])
    app.flush()
    table = app.metrics(["accuracy", "f1", "precision", "recall"])
    row = table.filter(pl.col("rows") > 0).row(0, named=True)
    assert row["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert row["f1"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert row["precision"] == pytest.approx(
        skm.precision_score(y, predicted, average="macro", zero_division=0))
    assert row["recall"] == pytest.approx(
        skm.recall_score(y, predicted, average="macro", zero_division=0))
    assert "10 classes" in row["labels"]


def test_metrics_over_time_refuse_a_score_without_a_threshold(app: gantry.Application) -> None:
    app.log_records(inputs=[{"a": 1}] * 4, outputs=[{"p": v} for v in (0.2, 0.7, 0.9, 0.1)],
                    feedbacks=[{"y": v} for v in (0, 1, 1, 1)])
    app.flush()
    with pytest.raises(ValidationError, match="threshold="):
        app.metrics(["accuracy"])
    row = app.metrics(["accuracy", "f1"], threshold=0.5).row(0, named=True)
    assert row["accuracy"] == pytest.approx(0.75) and row["f1"] == pytest.approx(0.8)
    assert "positive class 1" in row["labels"]


# -- the cache: visible, switchable, keyed by the model's bytes ---------------------------------


@pytest.fixture
def small(ws: gantry.Workspace) -> None:
    _push(ws, "small", np.arange(20, dtype=float).reshape(20, 1), [i % 2 for i in range(20)])


def test_cache_counts_are_in_the_table_the_stored_result_and_junit(ws: gantry.Workspace,
                                                                   small: None) -> None:
    model = Candidate(lambda r: r["id"] % 2, version="v1")
    first = gantry.evaluate("small", {"m": model}, ["accuracy"], workspace=ws)
    assert first.cached == {"m": 0} and "m 0 of 20 rows from the cache" in str(first)
    second = gantry.evaluate("small", {"m": model, "plain": lambda r: 0}, ["accuracy"],
                             workspace=ws)
    assert second.cached == {"m": 20, "plain": 0}
    assert "m 20 of 20 rows from the cache" in str(second)
    assert "plain none (every row called)" in str(second)
    assert gantry.get_evaluation(second.id, workspace=ws).cached == {"m": 20, "plain": 0}
    fresh = gantry.evaluate("small", {"m": model}, ["accuracy"], workspace=ws, cache=False)
    assert fresh.cached == {"m": 0} and fresh.cacheable == {"m": False}
    suite = Suite("s", "small", {"m": model}, ["accuracy"])
    xml = suite.run(ws).junit_xml()
    assert 'name="rows_from_cache.m" value="20 of 20"' in xml
    assert 'value="0 of 20"' in suite.run(ws, cache=False).junit_xml()


def test_a_broken_model_under_a_reused_version_fails_the_suite(ws: gantry.Workspace,
                                                               small: None,
                                                               tmp_path: Path) -> None:
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"good weights")

    def good(row: dict[str, Any]) -> int:
        return int(row["id"] % 2)

    def broken(row: dict[str, Any]) -> int:
        return 0

    def suite(fn: Any, **candidate: Any) -> Suite:
        return Suite("ci", "small", {"v2": Candidate(fn, version="2.0", **candidate)},
                     ["accuracy"], thresholds=["accuracy >= 0.9"])

    assert suite(good).run(ws).passed
    assert suite(broken).run(ws).passed  # the trap: the old outputs under the same tag
    assert not suite(broken).run(ws, cache=False).passed
    assert suite(good, artifact=artifact).run(ws).passed
    artifact.write_bytes(b"broken weights")  # the model file replaced, the tag kept
    result = suite(broken, artifact=artifact).run(ws)
    assert not result.passed and result.comparison.cached == {"v2": 0}
    assert Candidate(broken, artifact=b"broken weights").version == \
        f"sha256:{artifact_hash(artifact)}"


def test_artifact_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no model artifact"):
        Candidate(lambda r: 0, artifact=tmp_path / "absent.bin")
    with pytest.raises(ValidationError, match="path or its bytes"):
        Candidate(lambda r: 0, artifact=12)  # type: ignore[arg-type]


# -- training data overlapping the evaluated rows ------------------------------------------------


def test_overlap_with_declared_training_data_warns_loudly(ws: gantry.Workspace, small: None,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    full = ws.get_dataset("small").read()
    train = ws.create_dataset("train")
    train.push_dataframe(full.head(15))
    held = ws.create_dataset("held")
    held.push_dataframe(full.tail(5))
    model = Candidate(lambda r: r["id"] % 2, training_data="train")
    with caplog.at_level(logging.WARNING, logger="gantry_local"), \
            pytest.warns(TrainingOverlapWarning, match="15 of 20 evaluated rows"):
        leaky = gantry.evaluate("small", {"m": model}, ["accuracy"], workspace=ws)
    assert "15 of 20 evaluated rows" in caplog.text
    assert leaky.training_overlap == {"m": 15} and "WARNING" in str(leaky)
    assert gantry.get_evaluation(leaky.id, workspace=ws).warnings == leaky.warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = gantry.evaluate("held", {"m": model}, ["accuracy"], workspace=ws)
    assert clean.training_overlap == {"m": 0} and not clean.warnings
    pinned = Candidate(lambda r: 0, training_data=("train", train.resolve(None)))
    with pytest.warns(TrainingOverlapWarning):
        gantry.evaluate("small", {"m": pinned}, ["accuracy"], workspace=ws, store=False)


# -- settings ---------------------------------------------------------------------------------


def test_settings_object_and_keywords_agree(ws: gantry.Workspace, small: None) -> None:
    settings = EvaluationSettings(alpha=0.01, seed=3, workers=2, store=False)
    a = gantry.evaluate("small", {"a": lambda r: 0, "b": lambda r: r["id"] % 2}, ["accuracy"],
                        settings=settings, workspace=ws)
    b = gantry.evaluate("small", {"a": lambda r: 0, "b": lambda r: r["id"] % 2}, ["accuracy"],
                        alpha=0.01, seed=3, workers=2, store=False, workspace=ws)
    assert a.results == b.results and a.alpha == 0.01
    with pytest.raises(ValidationError, match="unknown evaluation setting"):
        gantry.evaluate("small", {"a": lambda r: 0}, ["accuracy"], workspace=ws, alhpa=0.1)


def test_one_http_client_in_the_package() -> None:
    """The judge client and webhooks share gantry_local/_http.py; nothing else opens URLs."""
    package = Path(gantry.__file__).parent
    users = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                   if "urllib.request" in p.read_text(encoding="utf-8") or
                   "http.client" in p.read_text(encoding="utf-8"))
    assert users == ["_http.py"]


def test_toml_candidate_with_artifact_training_data_and_cache(ws: gantry.Workspace, small: None,
                                                              tmp_path: Path) -> None:
    (tmp_path / "trap_models.py").write_text("def predict(row):\n    return int(row['id'] % 2)\n")
    (tmp_path / "model.bin").write_bytes(b"v2 weights")
    ws.create_dataset("train").push_dataframe(ws.get_dataset("small").read().head(4))
    (tmp_path / "suite.toml").write_text(
        'name = "ci"\ndataset = "small"\nmetrics = ["accuracy"]\ncache = false\n'
        'thresholds = ["accuracy >= 0.9"]\n[candidates]\n'
        'v2 = { callable = "trap_models:predict", version = "2.0", artifact = "model.bin", '
        'training_data = "train" }\n')
    suite = Suite.from_toml(tmp_path / "suite.toml")
    with pytest.warns(TrainingOverlapWarning, match="4 of 20"):
        result = suite.run(ws)
    digest = artifact_hash(tmp_path / "model.bin")
    assert result.passed and result.comparison.candidates["v2"].endswith(f"2.0@sha256:{digest}")
    assert result.comparison.cached == {"v2": 0}  # cache = false in the file
    with pytest.raises(ValidationError, match="unknown field"):
        (tmp_path / "bad.toml").write_text(
            'name = "x"\ndataset = "small"\n[candidates]\nv = { callable = "trap_models:predict", '
            'artefact = "model.bin" }\n')
        Suite.from_toml(tmp_path / "bad.toml")
