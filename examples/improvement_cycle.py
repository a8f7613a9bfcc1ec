"""The improvement cycle on real data, end to end: collect, notice, refresh labels, split,
train, evaluate, gate in CI.

scikit-learn's handwritten digits (bundled with it: nothing is downloaded) play a month of
production traffic. Model v1 was trained on a biased slice (mostly digits 0 to 4); from
day 15 the traffic shifts to digits 5 to 9. 40% of the labels arrive 1 to 4 days late.
A daily curator waits for labels before it curates; the curated data's labels are
refreshed, split without leaks (identical images never on both sides), v2 is trained on
the train part and evaluated against v1 on the evaluation part, and a CI suite fails a
broken v2 even though it reuses v2's version string.

    .venv/bin/python examples/improvement_cycle.py            # a month, in about a minute

Needs scikit-learn (in the dev extra: ``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.triggers import IntervalTrigger
from gantry_local.evaluation import Candidate
from gantry_local.evaluation.suites import Suite

START = datetime(2024, 3, 4, tzinfo=timezone.utc)  # a Monday
FEATURES = [f"p{i}" for i in range(64)]
SHIFT_DAY = 15


def train(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], path: Path) -> Callable[..., int]:
    """Fit a logistic regression, save it to `path` (the artifact that keys the cache) and
    return it as a model: inputs (a dict of p0..p63) -> a digit."""
    model = LogisticRegression(max_iter=2000).fit(x, y)
    path.write_bytes(pickle.dumps(model))
    return predictor(model)


def predictor(model: Any) -> Callable[..., int]:
    def predict(inputs: dict[str, Any]) -> int:
        row = np.array([[inputs[f] for f in FEATURES]], dtype=float)
        return int(model.predict(row)[0])
    return predict


def traffic(rng: np.random.Generator, pool: np.ndarray[Any, Any], y: np.ndarray[Any, Any],
            day: int, per_day: int) -> np.ndarray[Any, Any]:
    """A day's requests: indices into `pool`, drawn with replacement (production repeats
    inputs); digits 0-4 dominate before the shift, 5-9 after."""
    low = y[pool] < 5
    weights = np.where(low, 0.85, 0.15) if day < SHIFT_DAY else np.where(low, 0.2, 0.8)
    return np.asarray(rng.choice(pool, per_day, p=weights / weights.sum()))


def run(workdir: Path, days: int = 30, per_day: int = 60, seed: int = 0,
        out: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole cycle; returns the figures the checks need."""
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    test, pool = order[:500], order[500:]  # a held-out test set the loop never sees
    biased = pool[(y[pool] < 5) | (rng.random(len(pool)) < 0.05)][:300]
    v1 = train(x[biased], y[biased], workdir / "v1.pkl")

    # 1. Collect: a month of traffic, labels 0-4 days late.
    clock = gantry.ManualClock(START)
    ws = gantry.Workspace(db=workdir / "ws.duckdb", storage=str(workdir / "storage"),
                          clock=clock, background_scheduler=False)
    app = ws.create_application("digits")
    curator = UniformCurator("digits-daily", "digits", 40, start_on=START,
                             min_labelled_share=0.9, max_label_wait=timedelta(days=5))
    app.add_automation(Automation(name="digits-daily-curation",
                                  trigger=IntervalTrigger(start_on=START,
                                                          interval=timedelta(days=1)),
                                  action=curator))
    scheduler = gantry.Scheduler(ws)
    late: dict[int, list[tuple[str, int]]] = {}
    for day in range(days + 5):
        clock.set(START + timedelta(days=day))
        if day < days:
            for i, k in enumerate(traffic(rng, pool, y, day, per_day)):
                key = f"{day}-{i}"
                clock.set(START + timedelta(days=day, seconds=600 * i + 1))
                app.log_record(inputs={f: int(v) for f, v in zip(FEATURES, x[k], strict=True)},
                               outputs={"label": v1({f: x[k][j] for j, f in
                                                     enumerate(FEATURES)})},
                               join_key=key)
                delay = int(rng.integers(1, 5)) if rng.random() < 0.4 else 0
                late.setdefault(day + delay, []).append((key, int(y[k])))
        for key, label in late.pop(day, []):
            app.log_record(feedback={"label": label}, join_key=key)
        clock.set(START + timedelta(days=day + 1))
        scheduler.run_pending()
    ws.flush()

    # 2. Notice: the traffic drifted, and v1's accuracy fell with it.
    week1, week4 = (START, START + timedelta(days=7)), (START + timedelta(days=days - 7),
                                                         START + timedelta(days=days))
    drifted = app.drift(week1, week4).filter(gantry_drift_flag())["field"].to_list()
    daily = app.metrics(["accuracy"], output="outputs.label", feedback="feedback.label")
    before = daily.filter(daily_before()).get_column("accuracy").mean()
    after = daily.filter(daily_after()).get_column("accuracy").mean()
    out(f"notice: {len(drifted)} input fields drifted between week 1 and week 4; v1's daily "
        f"accuracy {before:.3f} before day {SHIFT_DAY}, {after:.3f} after")

    # 3. Refresh labels: curated versions are labelled; refresh brings the stragglers in.
    dataset = ws.get_dataset("digits-daily")
    versions = dataset.list_versions()
    labelled = sum(v.get("labelled_rows") or 0 for v in versions[:1])
    refreshed = dataset.refresh_feedback(app)
    out(f"curated: {len(versions)} versions; latest holds {labelled:,} labelled rows, "
        f"{refreshed.get('labelled_rows', 0):,} after refreshing feedback")

    # 4. Split without leaks: identical images never on both sides.
    split = dataset.split(eval_fraction=0.3, by="content", seed=seed)
    train_rows = ws.get_dataset("digits-daily-train").read_arrow().to_pandas()
    eval_rows = ws.get_dataset("digits-daily-eval").read_arrow().to_pandas()
    train_rows = train_rows[train_rows["feedback.label"].notna()]
    eval_rows = eval_rows[eval_rows["feedback.label"].notna()]
    shared = set(map(tuple, train_rows[[f"inputs.{f}" for f in FEATURES]].to_numpy())) & set(
        map(tuple, eval_rows[[f"inputs.{f}" for f in FEATURES]].to_numpy()))
    out(f"split: {len(train_rows):,} train rows, {len(eval_rows):,} evaluation rows, "
        f"{len(shared)} images on both sides ({split.by})")

    # 5. Train v2 on the curated train part.
    v2 = train(train_rows[[f"inputs.{f}" for f in FEATURES]].to_numpy(dtype=float),
               train_rows["feedback.label"].to_numpy(dtype=int), workdir / "v2.pkl")

    # 6. Evaluate v1 against v2 on the held-out evaluation part.
    candidates = {"v1": Candidate(v1, artifact=workdir / "v1.pkl"),
                  "v2": Candidate(v2, artifact=workdir / "v2.pkl",
                                  training_data="digits-daily-train")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overlap with v2's training data would raise here
        result = gantry.evaluate("digits-daily-eval", candidates, ["accuracy", "f1"],
                                 reference="feedback.label", workspace=ws, progress=False)
    out(str(result))
    features = eval_rows[[f"inputs.{f}" for f in FEATURES]].to_numpy(dtype=float)
    direct = accuracy_score(eval_rows["feedback.label"].to_numpy(dtype=int),
                            [v2(dict(zip(FEATURES, row, strict=True))) for row in features])
    test_v1 = accuracy_score(y[test], [v1(dict(zip(FEATURES, x[k], strict=True))) for k in test])
    test_v2 = accuracy_score(y[test], [v2(dict(zip(FEATURES, x[k], strict=True))) for k in test])
    test_f1 = f1_score(y[test], [v2(dict(zip(FEATURES, x[k], strict=True))) for k in test],
                       average="macro")
    out(f"held-out test set (never logged): v1 accuracy {test_v1:.3f}, v2 {test_v2:.3f} "
        f"(v2 macro f1 {test_f1:.3f}); evaluate's v2 accuracy {result.value('accuracy', 'v2'):.3f}"
        f" equals scikit-learn's on the same rows ({direct:.3f})")

    # 7. Gate in CI: a broken v2 saved under the same version string fails the suite.
    broken_path = workdir / "v2.pkl"  # the same file name and version string as v2
    broken_path.write_bytes(pickle.dumps(DummyClassifier(strategy="constant", constant=0).fit(
        x[:10], np.zeros(10, dtype=int))))
    broken = predictor(pickle.loads(broken_path.read_bytes()))
    suite = Suite("digits-ci", "digits-daily-eval",
                  {"v1": Candidate(v1, version="v1", artifact=workdir / "v1.pkl"),
                   "v2": Candidate(broken, version="v2", artifact=broken_path)},
                  ["accuracy"], thresholds=["v2:accuracy >= 0.8"], no_regression=["accuracy"],
                  reference="feedback.label")
    gate = suite.run(workspace=ws)
    out(str(gate))
    out(f"CI gate with a broken v2 under the same version string: "
        f"{'passed' if gate.passed else 'failed'}")
    ws.close()
    return {"drifted": drifted, "accuracy_before": before, "accuracy_after": after,
            "versions": len(versions), "labelled": labelled, "shared_images": len(shared),
            "evaluate_v2_accuracy": result.value("accuracy", "v2"), "direct_v2_accuracy": direct,
            "test_v1": test_v1, "test_v2": test_v2, "verdict": result.verdict,
            "gate_passed": gate.passed, "train_rows": len(train_rows),
            "eval_rows": len(eval_rows)}


def gantry_drift_flag() -> Any:
    import polars as pl

    return pl.col("drift") & pl.col("field").str.starts_with("inputs.")


def daily_before() -> Any:
    import polars as pl

    return pl.col("interval_start") < START + timedelta(days=SHIFT_DAY)


def daily_after() -> Any:
    import polars as pl

    return pl.col("interval_start") >= START + timedelta(days=SHIFT_DAY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=80)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp), args.days, args.per_day)


if __name__ == "__main__":
    main()
