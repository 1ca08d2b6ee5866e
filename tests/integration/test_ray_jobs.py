"""A 1-round tiny campaign submitted as a Ray job (JobSubmissionClient) runs to SUCCEEDED."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time

import pytest
from ray_helpers import TEST_CONFIG, TINY, seed_registry, tiny_config

pytestmark = pytest.mark.ray


def test_campaign_job_succeeds(ray_cluster, tiny_champion, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    out = tmp_path / "job-campaign"
    overrides = TINY + ["campaign.retrain_below=0.0"]  # no retraining: the actors test covers it
    seed_registry(tiny_config(*overrides[len(TINY):]), out, tiny_champion)
    argv = [sys.executable, "-m", "arena.jobs.campaign", "--config", str(TEST_CONFIG), "--rounds", "1",
            "--out", str(out), "--quiet"] + [a for o in overrides for a in ("--set", o)]
    client = JobSubmissionClient(ray_cluster.dashboard_url)
    env = {k: os.environ[k] for k in ("ARENA_DATA_MIRROR", "ARENA_CACHE_DIR", "HF_HUB_OFFLINE") if k in os.environ}
    job_id = client.submit_job(entrypoint=shlex.join(argv), runtime_env={"env_vars": env})
    deadline = time.monotonic() + 420
    status = client.get_job_status(job_id)
    while not status.is_terminal() and time.monotonic() < deadline:
        time.sleep(2)
        status = client.get_job_status(job_id)
    logs = client.get_job_logs(job_id)
    if not status.is_terminal():
        client.stop_job(job_id)
    assert status == JobStatus.SUCCEEDED, logs[-3000:]
    result = json.loads(logs.split("arena job result: ", 1)[1].splitlines()[0])
    assert result["rounds"] == 2 and result["out"] == str(out)
    summary = json.loads((out / "summary.json").read_text())
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert all((out / "records" / f"round={r}" / "_COMPLETE").is_file() for r in (0, 1))


def test_job_entrypoint_reports_config_errors(tmp_path, capsys):
    from arena.jobs.campaign import main

    assert main(["--config", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "x")]) == 2
    assert "config file not found" in capsys.readouterr().err
