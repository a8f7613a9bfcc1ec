"""A fleet on S3: three producer processes write segments to ``s3://bucket/spool`` on a real
(moto) S3 endpoint; one curation host ingests them exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import fsspec
import pytest

import gantry_local as gantry

from .conftest import S3_OPTIONS, make_bucket

PRODUCER = textwrap.dedent("""
    import json, sys
    import gantry_local as gantry
    url, options, name = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    gantry.init(db="fleet.duckdb", producer=True, spool=url, spool_options=options,
                producer_id=name, flush_interval=0.05)
    app = gantry.create_application("fleet")
    keys = [app.log_record(inputs={"host": name, "i": i}, outputs={"p": i / 10},
                           join_key=f"{name}-{i}") for i in range(600)]
    other = {"host-a": "host-b", "host-b": "host-c", "host-c": "host-a"}[name]
    # feedback for another host's predictions, as a label service elsewhere in the fleet would
    gantry.log_records("fleet", feedbacks=[{"label": i % 2} for i in range(100)],
                       join_keys=[f"{other}-{i}" for i in range(100)])
    gantry.flush()
    print(app.workspace.producer_id)
""")


@pytest.fixture
def spool(s3_endpoint: str) -> tuple[str, dict[str, object]]:
    return f"s3://{make_bucket(s3_endpoint)}/spool", {**S3_OPTIONS, "endpoint_url": s3_endpoint}


def test_three_producers_on_s3_and_one_ingesting_host(
        spool: tuple[str, dict[str, object]], tmp_path: Path) -> None:
    url, options = spool
    children = [subprocess.Popen([sys.executable, "-c", PRODUCER, url, json.dumps(options), name],
                                 cwd=tmp_path, stdout=subprocess.PIPE, text=True)
                for name in ("host-a", "host-b", "host-c")]
    names = [child.communicate(timeout=120)[0].strip() for child in children]
    assert names == ["host-a", "host-b", "host-c"]
    assert all(child.returncode == 0 for child in children)
    fs, _ = fsspec.core.url_to_fs(url, **options)
    pending = fs.find(url + "/pending")
    assert pending and {p.rsplit("/", 1)[1].split(".", 1)[0] for p in pending} == set(names)
    with gantry.Workspace(db=tmp_path / "host.duckdb", spool=url, spool_options=options) as host:
        result = host.ingest()
        assert result.quarantined == [] and result.rows == 3 * 700
        assert host.ingest().segments == 0
        frame = host.query("fleet").to_polars()
    assert frame.height == 1800 and frame["__join_key"].n_unique() == 1800
    assert frame.group_by("inputs.host").len().sort("inputs.host")["len"].to_list() == [600] * 3
    labelled = frame.filter(frame["feedback.label"].is_not_null())
    assert labelled.height == 300  # each host's first 100 predictions, labelled by another host
    assert fs.find(url + "/pending") == []
    assert len(fs.find(url + "/ingested")) == len(pending)


def test_a_corrupt_segment_on_s3_is_quarantined(spool: tuple[str, dict[str, object]],
                                                tmp_path: Path) -> None:
    url, options = spool
    fs, _ = fsspec.core.url_to_fs(url, **options)
    worker = gantry.ProducerWorkspace(db=":memory:", spool=url, spool_options=options,
                                      producer_id="w")
    worker.log_record("m", inputs={"x": 1}, outputs=1)
    worker.flush()
    fs.pipe_file(f"{url}/pending/records/application=m/date=2024-01-01/bad-000000000001.parquet",
                 b"PAR1 not really")
    worker.log_record("m", inputs={"x": 2}, outputs=2)
    worker.close()
    with gantry.Workspace(db=tmp_path / "h.duckdb", spool=url, spool_options=options) as host:
        result = host.ingest()
        assert result.rows == 2
        [(name, error)] = result.quarantined
        assert name.endswith("bad-000000000001.parquet") and "truncated or corrupt" in error
    assert len(fs.find(url + "/quarantine")) == 1
