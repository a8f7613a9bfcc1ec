"""The main job: a month of synthetic production traffic through every stage built so far.

A small fraud model scores card transactions; its team labels about 60% of them a
few days later. The demo logs the traffic and the late feedback into a fresh
workspace under ``./gantry-demo/`` and prints what a data scientist would ask.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from .automations.scheduler import Scheduler
from .clock import ManualClock
from .errors import ValidationError
from .workspace import Workspace

__all__ = ["run_demo"]

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAYS = 30
APP = "fraud-detector"
MERCHANTS = ("grocery", "travel", "electronics", "restaurants", "online")


SHIFT_DAY = 15


def _transaction(rng: random.Random, day: int) -> tuple[dict[str, object], float, bool]:
    """One transaction, the model's fraud score for it, and the truth.

    From day 15 the world moves: amounts grow (a new customer segment) and fraud shifts to
    electronics, which the model does not know about, so its accuracy drops.
    """
    merchant = rng.choice(MERCHANTS)
    shifted = day >= SHIFT_DAY
    amount = round(rng.lognormvariate(3.5 + (0.8 if shifted else 0.0), 1.0), 2)
    foreign = rng.random() < 0.1 + 0.005 * day
    risk = 0.02 + 0.25 * foreign + 0.15 * (merchant == "online") + min(amount / 4000, 0.3)
    is_fraud = rng.random() < risk + (0.35 if shifted and merchant == "electronics" else 0.0)
    score = min(1.0, max(0.0, risk + rng.gauss(0, 0.12)))
    inputs = {"amount": amount, "merchant": merchant, "foreign": foreign,
              "card": {"age_days": rng.randint(1, 3000), "country": rng.choice(["DE", "US", "FR"])}}
    return inputs, round(score, 4), is_fraud


def run_demo(path: str | Path = "gantry-demo", records_per_day: int = 2_000,
             echo: Callable[[str], None] = print) -> Workspace:
    """Run the demo in `path` and return the closed workspace.

    `path` is a new or empty folder, or one an earlier demo made (then it is wiped first).

    Raises:
        ValidationError: `records_per_day` is not a positive integer, or `path` is a file,
            a folder holding anything the demo did not make, or cannot be made.
    """
    if isinstance(records_per_day, bool) or not isinstance(records_per_day, int) \
            or records_per_day < 1:
        raise ValidationError(f"records_per_day must be a positive integer, got {records_per_day!r}")
    root = _prepare(path)
    clock = ManualClock(START)
    rng = random.Random(7)
    started = time.perf_counter()
    workspace = Workspace(db=root / "gantry.duckdb", storage=str(root / "storage"), clock=clock)
    with workspace:
        app = workspace.create_application(APP)
        echo(f"== gantry-local demo in {root}/ ==")
        echo(f"Logging {DAYS} days of traffic for {APP!r}, {records_per_day:,} predictions a day ...")
        labels: list[tuple[datetime, str, bool]] = []
        logged = 0
        for day in range(DAYS):
            version = "v1" if day < 20 else "v2"
            for i in range(records_per_day):
                clock.set(START + timedelta(days=day, seconds=i * 86_400 / records_per_day))
                inputs, score, truth = _transaction(rng, day)
                key = app.log_record(version=version, inputs=inputs,
                                     outputs={"fraud_score": score, "flagged": score > 0.5},
                                     tags={"region": inputs["card"]["country"]})  # type: ignore[index]
                logged += 1
                if key is not None and rng.random() < 0.6:
                    labels.append((clock.now() + timedelta(days=rng.uniform(1, 5)), key, truth))
        labels.sort()
        cutoff = START + timedelta(days=DAYS)
        arrived = [lab for lab in labels if lab[0] < cutoff]
        app.log_records(feedbacks=[{"is_fraud": truth} for _, _, truth in arrived],
                        join_keys=[key for _, key, _ in arrived],
                        timestamps=[when for when, _, _ in arrived])
        workspace.flush()
        elapsed = time.perf_counter() - started
        echo(f"Logged {logged:,} predictions and {len(arrived):,} late labels in {elapsed:.1f}s "
             f"({(logged + len(arrived)) / elapsed:,.0f} records/s).")
        _report(app.query, echo)
        _datasets(workspace, app.query, echo)
        _monitoring(workspace, clock, echo)
        _curation(workspace, clock, echo)
        _producers(workspace, clock, root, records_per_day, echo)
        _evaluation(workspace, echo)
        _html_report(workspace, root, echo)
    return workspace


MARKER = ".gantry-demo"


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _prepare(path: str | Path) -> Path:
    """Make `path` an empty folder marked as the demo's; only ever wipe a marked one."""
    if not isinstance(path, (str, Path)) or not str(path) or "\x00" in str(path) \
            or not _utf8(str(path)):
        raise ValidationError(f"demo path must be a folder name in UTF-8, got {path!r}")
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ValidationError(f"demo path {str(root)!r} is a file; give a folder")
    if (root / MARKER).is_file():
        for child in root.iterdir():  # the folder's contents, not the folder: it may be the cwd
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    elif root.is_dir() and any(root.iterdir()):
        raise ValidationError(
            f"demo path {str(root)!r} holds files the demo did not make; give a new or empty "
            f"folder, or delete this one yourself (the demo only wipes folders it made, marked "
            f"by a {MARKER} file)")
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / MARKER).write_text("Made by `gantry-local demo`: the next demo run in this "
                                   "folder deletes everything in it.\n")
    except OSError as exc:
        raise ValidationError(f"cannot make the demo folder {str(root)!r}: "
                              f"{exc.strerror or exc}") from exc
    return root


def _curation(workspace: Workspace, clock: ManualClock, echo: Callable[[str], None]) -> None:
    """A uniform and a stratified curator over the month, run by the scheduler."""
    from .automations.automations import Automation
    from .automations.curators import StrictStratificationCurator, UniformCurator
    from .automations.scheduler import Scheduler
    from .automations.triggers import IntervalTrigger

    echo("\n== Curation: a daily uniform sample and a daily sample stratified by merchant ==")
    app = workspace.get_application(APP)
    daily = IntervalTrigger(START, timedelta(days=1))
    app.add_automation(Automation("daily-uniform", daily, UniformCurator("uniform-100", APP, 100)))
    app.add_automation(Automation("daily-by-merchant", daily, StrictStratificationCurator(
        "by-merchant", APP, 50, stratify_field="inputs.merchant")))
    clock.set(START + timedelta(days=DAYS))
    scheduler = Scheduler(workspace)
    runs = scheduler.run_pending()
    echo(f"The scheduler caught up {len(runs)} runs "
         f"({sum(r.status == 'succeeded' for r in runs)} succeeded); a second tick runs "
         f"{len(scheduler.run_pending())}.")
    for name in ("uniform-100", "by-merchant"):
        dataset = workspace.get_dataset(name)
        versions = dataset.list_versions()
        echo(f"{name}: {len(versions)} versions, {dataset.read().height:,} rows; latest: "
             f"{versions[0]['message']}")
    history = (pl.DataFrame([r.__dict__ for r in runs])
               .select("curator", "interval_start", "status", "rows_in_interval", "rows_selected")
               .tail(4))
    echo(str(history))


_PRODUCER = """
import random, sys
from datetime import datetime, timedelta
import gantry_local as gantry
db, name, day, count = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3]), int(sys.argv[4])
gantry.init(db=db, producer=True, producer_id=name)  # the one line a model-server worker runs
rng = random.Random(name)
for i in range(count):
    amount = round(rng.lognormvariate(4.3, 1.0), 2)
    gantry.log_record("fraud-detector", version="v2", inputs={"amount": amount,
                      "merchant": rng.choice(["grocery", "travel", "online"]), "foreign": False,
                      "card": {"age_days": rng.randint(1, 3000), "country": "DE"}},
                      outputs={"fraud_score": min(1.0, amount / 4000), "flagged": amount > 2000},
                      tags={"region": "DE"}, join_key=f"{name}:{i}",
                      timestamp=day + timedelta(seconds=i * 86_400 / count))
gantry.flush()
"""


def _producers(workspace: Workspace, clock: ManualClock, root: Path, records_per_day: int,
               echo: Callable[[str], None]) -> None:
    """Day 31 comes from two model-server worker processes logging into the spool."""
    import subprocess
    import sys

    echo("\n== Model servers: two worker processes log day 31 into the spool ==")
    day = START + timedelta(days=DAYS)
    count = max(1, records_per_day // 2)
    workers = [subprocess.Popen([sys.executable, "-c", _PRODUCER, str(root / "gantry.duckdb"),
                                 name, day.isoformat(), str(count)])
               for name in ("worker-1", "worker-2")]
    if any(worker.wait() != 0 for worker in workers):
        raise RuntimeError("a demo worker process failed (its error is printed above)")
    segments = sorted(p.name for p in (root / "gantry-spool" / "pending").rglob("*.parquet"))
    echo(f"The workers never opened the database: they wrote {len(segments)} segments, e.g. "
         f"{segments[0]}")
    clock.set(day + timedelta(days=1))
    runs = Scheduler(workspace).run_pending()  # ingests the spool first, then curates day 31
    curated = workspace.get_dataset("uniform-100").read()
    by_worker = (curated.filter(pl.col("__join_key").str.starts_with("worker-"))
                 .group_by(pl.col("__join_key").str.split(":").list.first()).len())
    echo(f"The scheduler's tick ingested them exactly once and ran {len(runs)} curator runs for "
         f"day 31; uniform-100 took " + ", ".join(
             f"{n} rows from {w}" for w, n in sorted(by_worker.iter_rows())) + ".")


def _monitoring(workspace: Workspace, clock: ManualClock, echo: Callable[[str], None]) -> None:
    """Find the shift: drift against the first week, accuracy by week, and an alert that
    curates extra data when the amounts move."""
    from .automations.automations import Automation
    from .automations.curators import UniformCurator
    from .automations.scheduler import Scheduler
    from .automations.triggers import AggregationTrigger

    app = workspace.get_application(APP)
    echo("\n== Monitoring: what moved, and when ==")
    first_week, last_week = (START, START + timedelta(days=7)), (START + timedelta(days=23),
                                                                 START + timedelta(days=30))
    drift = app.drift(first_week, last_week)
    echo("Drift of the last week against the first (flagged when PSI > 0.2 and JS > 0.1):")
    with pl.Config(tbl_cols=-1, tbl_width_chars=160, float_precision=3,
                   tbl_hide_dataframe_shape=True):
        echo(str(drift.select("field", "kind", "ks", "psi", "js", "wasserstein", "chi2_p",
                              "drift")))
    weekly = app.metrics(["accuracy", "recall"], output="outputs.flagged",
                         feedback="feedback.is_fraud", interval=timedelta(days=7),
                         start_time=START, end_time=START + timedelta(days=DAYS))
    echo("Accuracy and recall of the flag by week, as labels arrived:")
    with pl.Config(tbl_hide_dataframe_shape=True):
        echo(str(weekly.select(pl.col("interval_start").dt.date().alias("week"), "partial",
                               "rows", "rows_with_feedback", pl.col("accuracy").round(3),
                               pl.col("recall").round(3))))
    trigger = AggregationTrigger("amount-up", "mean", ["inputs.amount"], None, 80.0,
                                 timedelta(days=1))
    app.add_automation(Automation("curate-when-amounts-move", trigger,
                                  UniformCurator("shift-sample", APP, 200)))
    scheduler = Scheduler(workspace)
    fired = []
    for day in range(1, DAYS + 1):  # a tick a day through the month
        clock.set(START + timedelta(days=day))
        scheduler.run_pending()
        fired += [a for a in scheduler.alerts if a.status == "fired"]
    echo(f"Daily ticks through the month: {len(fired)} alert fired: {fired[0].describe()}"
         if fired else "Daily ticks through the month: no alert fired")
    sample = workspace.get_dataset("shift-sample")
    echo(f"Its action curated {sample.read().height} rows of that day into 'shift-sample' "
         f"({sample.list_versions()[0]['message'][:60]}...)")
    clock.set(START + timedelta(days=DAYS))


def _html_report(workspace: Workspace, root: Path, echo: Callable[[str], None]) -> None:
    path = workspace.get_application(APP).report(root / "report.html")
    echo(f"\n== Report ==\nWrote {path} ({path.stat().st_size // 1024:,} KB): open it in a "
         "browser, offline; it has no scripts.")


def _model_v1(inputs: dict[str, object]) -> bool:
    """The fraud rule in production: big amounts are suspicious."""
    return float(inputs["amount"]) > 300  # type: ignore[arg-type]


def _model_v2(inputs: dict[str, object]) -> bool:
    """The candidate: weighs foreign cards and online merchants too."""
    risk = 0.25 * bool(inputs["foreign"]) + 0.15 * (inputs["merchant"] == "online") + min(
        float(inputs["amount"]) / 4000, 0.3)  # type: ignore[arg-type]
    return risk > 0.2


def _evaluation(workspace: Workspace, echo: Callable[[str], None]) -> None:
    """Did the candidate model improve? Both versions on the latest curated dataset version."""
    from .evaluation import evaluate

    echo("\n== Evaluation: fraud rule v1 against candidate v2 on the latest curated version ==")
    comparison = evaluate("uniform-100", {"v1": _model_v1, "v2": _model_v2},
                          ["f1", "accuracy", "recall"], reference="feedback.is_fraud",
                          workspace=workspace, progress=False)
    echo(str(comparison))
    echo(f"Rows without a label yet are left out of each metric; stored as evaluation "
         f"{comparison.id} (gantry-local eval show {comparison.id} --db {workspace.db}).")


def _datasets(workspace: Workspace, query: Callable[..., object],
              echo: Callable[[str], None]) -> None:
    """Version a training set: push, edit, diff, roll back, verify."""
    labelled = query(all_time=True,  # type: ignore[attr-defined]
                     filters=[{"feature_name": "feedback.is_fraud", "null_value": False}]).to_polars()
    echo(f"\n== Datasets on {workspace.storage} ==")
    train = workspace.create_dataset("fraud-train", app_name=APP)
    first = train.push_dataframe(labelled, message="labelled traffic of January")
    echo(f"Pushed {labelled.height:,} labelled rows as version {first['version_id'][:12]}")
    cutoff = labelled["inputs.amount"].quantile(0.99)
    fixed = set(labelled.filter(pl.col("outputs.flagged") & ~pl.col("feedback.is_fraud"))
                ["__join_key"].head(25).to_list())
    cleaned = labelled.filter(pl.col("inputs.amount") < cutoff).with_columns(
        pl.when(pl.col("__join_key").is_in(fixed)).then(True)
        .otherwise(pl.col("feedback.is_fraud")).alias("feedback.is_fraud"))
    second = train.push_dataframe(cleaned, message="drop the top 1% amounts, fix 25 labels")
    diff = train.diff(first["version_id"], second["version_id"])
    echo(f"Edited it: {diff}")
    rolled = train.rollback(first["version_id"][:8])
    echo(f"Rolled back: {rolled['message'][:40]}... -> version {rolled['version_id'][:12]}")
    report = train.verify()
    echo(f"Verified {report['versions']} versions, {report['objects']} objects, "
         f"{report['bytes']:,} bytes against their hashes")
    rows = [{"version": v["version_id"][:12], "rows": v["rows"]["data"], "message": v["message"],
             "latest": v["is_latest_version"]} for v in train.list_versions()]
    echo(str(pl.DataFrame(rows)))


def _report(query: Callable[..., object], echo: Callable[[str], None]) -> None:
    everything = query(all_time=True).to_polars()  # type: ignore[attr-defined]
    echo(f"\nColumns: {', '.join(everything.columns)}")
    daily = (everything.group_by(pl.col("__time").dt.truncate("1w").alias("week"))
             .agg(pl.len().alias("predictions"),
                  pl.col("feedback.is_fraud").is_not_null().mean().round(3).alias("labelled"),
                  pl.col("outputs.fraud_score").mean().round(3).alias("mean_score"))
             .sort("week"))
    echo("\nTraffic and labels by week:")
    echo(str(daily))
    labelled = everything.filter(pl.col("feedback.is_fraud").is_not_null())
    by_version = (labelled.group_by("__version")
                  .agg(pl.len().alias("labelled"),
                       (pl.col("outputs.flagged") == pl.col("feedback.is_fraud")).mean().round(3)
                       .alias("accuracy"))
                  .sort("__version"))
    echo("\nAccuracy of the flag against late labels, by model version:")
    echo(str(by_version))
    big_foreign = query(all_time=True,
                        filters=[{"feature_name": "inputs.amount", "lower_bound": 500},
                                 {"feature_name": "inputs.foreign", "boolean_query": True}])
    echo(f"\nForeign transactions of 500 or more: {big_foreign.count():,}")  # type: ignore[attr-defined]
    week_two = query(start_time=START + timedelta(days=7), end_time=START + timedelta(days=14),
                     version="v1", tags={"region": "DE"})
    echo(f"German v1 traffic in week two: {week_two.count():,} records")  # type: ignore[attr-defined]
