"""Two replicas sharing one Redis: a job is pollable on either, and survives the one that took it."""

from __future__ import annotations

import time

import requests

from tests.redis_server import RedisServer

from .helpers import poll_until_finished, submit
from .served import ServedService


def test_jobs_survive_a_replica_dying_and_redis_restarting(tmp_path, person_bytes, garment_bytes) -> None:
    (tmp_path / "redis").mkdir()
    with RedisServer(tmp_path / "redis") as redis_server:
        shared = {"TRYON_REDIS_URL": redis_server.url, "TRYON_WORKERS": "1", "TRYON_JOB_LEASE_SECONDS": "3"}
        first = ServedService(tmp_path / "a", **shared).start()
        second = ServedService(tmp_path / "b", **shared).start()
        try:
            job_ids = [submit(first.url, person_bytes, garment_bytes).json()["job_id"] for _ in range(4)]
            # Submitted to one replica, visible on the other at once.
            assert requests.get(f"{second.url}/api/tryon/{job_ids[-1]}", timeout=10).status_code == 200

            # Kill the first replica while it is running a job.
            deadline = time.monotonic() + 30
            while requests.get(f"{first.url}/health", timeout=10).json()["queue"]["running_here"] == 0:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            first.kill()

            redis_server.restart()  # and Redis restarts under load: the survivor reconnects
            finals = [poll_until_finished(second.url, job_id, timeout=180).final for job_id in job_ids]
            assert [final["status"] for final in finals] == ["completed"] * 4
            health = requests.get(f"{second.url}/health", timeout=10).json()
            assert health["job_store"] == "redis"
            assert health["queue"]["completed"] == 4 and health["queue"]["processing"] == 0
        finally:
            first.stop()
            second.stop()
