"""The HTML report: self-contained, every section present, and it renders in Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.triggers import AggregationTrigger
from gantry_local.cli import main
from gantry_local.monitoring.report import SECTIONS

from .test_alerts import S


@pytest.fixture
def reported(ws: gantry.Workspace, clock: gantry.ManualClock, tmp_path: Path) -> Path:
    app = ws.create_application("payments")
    for day in range(10):
        level = 150 if day >= 5 else 100
        _, keys = app.log_records(
            inputs=[{"amount": level + (i % 7) * 3.0, "merchant": "abc"[i % 3],
                     "note": None if i % 5 == 0 else "n"} for i in range(60)],
            outputs=[{"flagged": i % 4 == 0} for i in range(60)],
            timestamps=[S + timedelta(days=day, minutes=20 * i) for i in range(60)])
        app.log_records(feedbacks=[{"flagged": i % 3 == 0} for i in range(60)], join_keys=keys)
    UniformCurator("daily", "payments", 10, start_on=S).create(workspace=ws)
    app.add_automation(Automation("high", AggregationTrigger(
        "high", "mean", ["inputs.amount"], None, 120, timedelta(days=1)), lambda alert: None))
    scheduler = gantry.Scheduler(ws)
    for day in range(1, 11):
        clock.set(S + timedelta(days=day))
        scheduler.run_pending()
    gantry.evaluate("daily", {"v1": lambda r: r["amount"] > 130, "v2": lambda r: True},
                    ["accuracy"], reference="feedback.flagged", workspace=ws, progress=False)
    return app.report(tmp_path / "out" / "report.html")


def test_report_is_self_contained_with_every_section(reported: Path) -> None:
    page = reported.read_text()
    for section in SECTIONS:
        assert f"id='{section}'" in page, section
    assert "<script" not in page.lower()  # readable with JavaScript off: there is none
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched at view time
    assert page.count("<svg") >= 8
    assert "alert" in page and "high" in page and "daily: 10 versions" in page
    assert "verdict" in page  # the latest evaluation


def test_report_leaves_matplotlib_settings_alone(ws: gantry.Workspace, tmp_path: Path) -> None:
    """The report's SVG settings hold for its own figures only, not for the user's plots."""
    import matplotlib

    before = {key: matplotlib.rcParams[key] for key in ("svg.hashsalt", "svg.fonttype")}
    app = ws.create_application("plain")
    app.log_records(inputs=[{"x": float(i)} for i in range(20)], outputs=[0] * 20,
                    timestamps=[S + timedelta(hours=i) for i in range(20)])
    app.report(tmp_path / "plain.html")
    assert {key: matplotlib.rcParams[key] for key in before} == before


def test_report_charts_read_at_a_glance(reported: Path) -> None:
    page = reported.read_text()
    evaluation = page[page.index("id='evaluations'"):]
    assert "<svg" in evaluation.split("<pre>")[0]  # the difference-with-CI chart
    assert "difference from v1" in evaluation
    datasets = page[page.index("id='datasets'"):page.index("id='evaluations'")]
    ticks = re.findall(r'id="xtick_\d+">.*?<text[^>]*>([^<]*)</text>', datasets, re.DOTALL)
    assert ticks and all("." not in t for t in ticks), ticks  # versions are whole numbers
    drift = page[page.index("id='drift'"):page.index("id='metrics'")]
    assert "highest PSI" in drift


def test_dataset_chart_numbers_versions_in_whole_numbers(ws: gantry.Workspace,
                                                          tmp_path: Path) -> None:
    """Three versions: matplotlib's default ticks would read 0.0, 0.5, 1.0, ... ."""
    import polars as pl

    app = ws.create_application("few")
    app.log_records(inputs=[{"x": float(i)} for i in range(20)], outputs=[0] * 20,
                    timestamps=[S + timedelta(hours=i) for i in range(20)])
    dataset = ws.create_dataset("few-versions", app_name="few")
    for n in (3, 5, 9):
        dataset.push_dataframe(pl.DataFrame({"inputs.x": [float(i) for i in range(n)]}))
    page = app.report(tmp_path / "few.html").read_text()
    datasets = page[page.index("id='datasets'"):page.index("id='evaluations'")]
    ticks = re.findall(r'id="xtick_\d+">.*?<text[^>]*>([^<]*)</text>', datasets, re.DOTALL)
    assert ticks and all(t.strip().lstrip("−-").isdigit() for t in ticks), ticks


def test_report_cli(ws: gantry.Workspace, reported: Path, tmp_path: Path) -> None:
    ws.close()
    out = tmp_path / "cli.html"
    assert main(["report", "--db", str(ws.db), "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="needs Debian's chromium (.ci/run installs it)")
def test_report_renders_in_headless_chromium(reported: Path, tmp_path: Path) -> None:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
             "--window-size=1200,3000"]
    shot = tmp_path / "shot.png"
    run = subprocess.run(["chromium", *flags, f"--screenshot={shot}", reported.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)
    assert "CONSOLE" not in run.stderr and "Uncaught" not in run.stderr
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    low, high = pixels.getextrema()
    assert high - low > 100 and len(pixels.histogram()) == 256  # not blank
    assert sum(1 for count in pixels.histogram() if count) > 50
    dom = subprocess.run(["chromium", *flags, "--dump-dom", reported.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
