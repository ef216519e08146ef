"""The behaviour every job store must have (SQLite now; Redis runs the same tests later)."""

from __future__ import annotations

import threading
import time

import pytest

from tryon.jobs import JobResult, StoredPicture, JobInputs, JobStatus, QueueFull

INPUTS = JobInputs(person_image=b"person-bytes", clothing_image=b"clothing-bytes")


def test_new_job_is_queued_and_readable(make_store) -> None:
    store = make_store()
    store.create("job-1", INPUTS)
    record = store.get("job-1")
    assert record.status is JobStatus.QUEUED and record.progress == 0 and record.step is None
    assert store.get("unknown") is None


def test_claim_hands_out_inputs_oldest_first_and_only_once(make_store) -> None:
    store = make_store()
    store.create("first", INPUTS)
    store.create("second", JobInputs(b"p2", b"c2"))
    record, inputs = store.claim("worker-a")
    assert record.job_id == "first" and inputs == INPUTS
    assert record.status is JobStatus.PROCESSING and record.attempts == 1
    record, inputs = store.claim("worker-b")
    assert record.job_id == "second" and inputs == JobInputs(b"p2", b"c2")
    assert store.claim("worker-c") is None


def test_concurrent_claims_never_share_a_job(make_store) -> None:
    stores = [make_store() for _ in range(4)]  # separate connections, like separate processes
    for index in range(40):
        stores[0].create(f"job-{index:02d}", INPUTS)
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(store, worker_id: str) -> None:
        while (claim := store.claim(worker_id)) is not None:
            with lock:
                claimed.append(claim[0].job_id)

    threads = [threading.Thread(target=drain, args=(s, f"w{i}")) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == [f"job-{index:02d}" for index in range(40)]


def test_advance_records_step_and_progress(make_store) -> None:
    store = make_store()
    store.create("job", INPUTS)
    store.claim("w")
    assert store.advance("job", "w", step="pose", progress=25)
    record = store.get("job")
    assert (record.status, record.step, record.progress) == (JobStatus.PROCESSING, "pose", 25)


def test_complete_keeps_result_and_drops_inputs(make_store) -> None:
    store = make_store()
    store.create("job", INPUTS)
    store.claim("w")
    assert store.complete("job", "w", JobResult(pictures=(StoredPicture(b"png-bytes"),)))
    record = store.get("job")
    assert record.status is JobStatus.COMPLETED and record.progress == 100
    assert record.pictures == (StoredPicture(data=b"png-bytes"),) and record.warning is None
    assert store.claim("w") is None


def test_complete_can_keep_an_object_key_or_a_warning(make_store) -> None:
    store = make_store()
    store.create("uploaded", INPUTS)
    store.create("fallback", INPUTS)
    store.claim("w")
    store.claim("w")
    store.complete("uploaded", "w", JobResult(pictures=(StoredPicture(key="results/uploaded.png"),)))
    store.complete("fallback", "w", JobResult(pictures=(StoredPicture(b"png"),), warning="S3 upload failed"))
    uploaded, fallback = store.get("uploaded"), store.get("fallback")
    assert uploaded.pictures == (StoredPicture(key="results/uploaded.png"),)
    assert (fallback.pictures, fallback.warning) == ((StoredPicture(data=b"png"),), "S3 upload failed")


def test_complete_keeps_every_picture_of_a_job_in_order(make_store) -> None:
    store = make_store()
    jobs = {
        "kept": tuple(StoredPicture(data=bytes([index]) * 3 + b"\0jpeg") for index in range(4)),
        "uploaded": tuple(StoredPicture(key=f"results/uploaded{suffix}.webp") for suffix in ("", "-1", "-2")),
    }
    for job_id, pictures in jobs.items():
        store.create(job_id, INPUTS)
        store.claim("w")
        assert store.complete(job_id, "w", JobResult(pictures=pictures))
    reader = make_store()  # another connection reads the same
    assert {job_id: reader.get(job_id).pictures for job_id in jobs} == jobs
    store.create("pending", INPUTS)
    assert store.get("pending").pictures == ()


def test_purge_removes_only_old_finished_jobs(make_store) -> None:
    store = make_store()
    for job_id in ("done", "failed", "running", "waiting"):
        store.create(job_id, INPUTS)
    for _ in range(3):
        store.claim("w")
    store.complete("done", "w", JobResult(pictures=(StoredPicture(b"png"),)))
    store.fail("failed", "w", "reason")
    assert store.purge_finished(older_than_seconds=60) == 0
    time.sleep(0.05)
    assert store.purge_finished(older_than_seconds=0.01) == 2
    assert store.get("done") is None and store.get("failed") is None
    assert store.get("running").status is JobStatus.PROCESSING
    assert store.get("waiting").status is JobStatus.QUEUED
    assert store.counts() == {"queued": 1, "processing": 1, "completed": 0, "failed": 0}


def test_fail_keeps_the_reason(make_store) -> None:
    store = make_store()
    store.create("job", INPUTS)
    store.claim("w")
    assert store.fail("job", "w", "No person was found in the person photo.")
    record = store.get("job")
    assert record.status is JobStatus.FAILED
    assert record.error == "No person was found in the person photo."


def test_expired_lease_lets_another_worker_take_over(make_store) -> None:
    store = make_store(lease_seconds=0.2)
    store.create("job", INPUTS)
    store.claim("dead-worker")
    store.advance("job", "dead-worker", step="warp", progress=40)
    assert store.claim("live-worker") is None  # lease still valid
    time.sleep(0.3)
    record, inputs = store.claim("live-worker")
    assert record.job_id == "job" and record.attempts == 2 and inputs == INPUTS
    # The dead worker's late updates are refused: the record never goes backwards.
    assert not store.advance("job", "dead-worker", step="blend", progress=85)
    assert not store.complete("job", "dead-worker", JobResult(pictures=(StoredPicture(b"stale"),)))
    assert store.complete("job", "live-worker", JobResult(pictures=(StoredPicture(b"fresh"),)))
    assert store.get("job").pictures[0].data == b"fresh"


def test_rerun_does_not_move_progress_backwards(make_store) -> None:
    store = make_store(lease_seconds=0.1)
    store.create("job", INPUTS)
    store.claim("first")
    store.advance("job", "first", step="inpainting", progress=55)
    time.sleep(0.2)
    store.claim("second")
    assert store.advance("job", "second", step="segmentation", progress=10)
    assert store.get("job").progress == 55
    store.advance("job", "second", step="blend", progress=85)
    assert (store.get("job").step, store.get("job").progress) == ("blend", 85)


def test_renew_keeps_a_long_job_with_its_worker(make_store) -> None:
    store = make_store(lease_seconds=0.3)
    store.create("job", INPUTS)
    store.claim("w")
    for _ in range(4):
        time.sleep(0.15)
        store.renew(["job"], "w")
    assert store.claim("other") is None


def test_job_that_keeps_dying_is_failed_with_a_reason(make_store) -> None:
    store = make_store(lease_seconds=0.05, max_attempts=2)
    store.create("job", INPUTS)
    for worker in ("w1", "w2"):
        store.claim(worker)
        store.advance("job", worker, step="warp", progress=40)
        time.sleep(0.1)
    assert store.claim("w3") is None
    record = store.get("job")
    assert record.status is JobStatus.FAILED
    assert "Gave up after 2 attempts" in record.error and "warp" in record.error


def test_records_survive_reopening(make_store) -> None:
    store = make_store()
    store.create("queued", INPUTS)
    store.create("done", INPUTS)
    store.claim("w")  # takes "queued" (oldest)
    store.close()
    reopened = make_store()
    assert reopened.get("queued").status is JobStatus.PROCESSING
    assert reopened.get("done").status is JobStatus.QUEUED


def test_counts_cover_every_status(make_store) -> None:
    store = make_store()
    for index in range(3):
        store.create(f"j{index}", INPUTS)
    store.claim("w")
    assert store.counts() == {"queued": 2, "processing": 1, "completed": 0, "failed": 0}


def test_cancel_ends_queued_and_running_jobs_but_not_finished_ones(make_store) -> None:
    store = make_store()
    for job_id in ("running", "queued", "done"):
        store.create(job_id, INPUTS)
    store.claim("w")  # running
    store.cancel("queued", "Cancelled.")  # cancelled while queued: never claimed
    done = store.claim("w")[0].job_id
    assert done == "done"
    store.complete("done", "w", JobResult(pictures=(StoredPicture(b"png"),)))

    assert store.cancel("running", "Cancelled by the client.")
    assert not store.cancel("done", "too late") and not store.cancel("unknown", "x")
    running = store.get("running")
    assert running.status is JobStatus.FAILED and running.error == "Cancelled by the client."
    assert store.get("queued").status is JobStatus.FAILED
    assert store.get("done").status is JobStatus.COMPLETED
    # The worker that was running it is refused from now on.
    assert not store.advance("running", "w", step="blend", progress=85)
    assert not store.complete("running", "w", JobResult(pictures=(StoredPicture(b"late"),)))
    assert store.claim("w") is None
    assert store.counts() == {"queued": 0, "processing": 0, "completed": 1, "failed": 2}


def test_options_and_details_travel_with_the_job(make_store) -> None:
    store = make_store()
    store.create("job", JobInputs(b"p", b"c", {"category": "lower_body"}))
    assert store.get("job").options == {"category": "lower_body"}
    record, inputs = store.claim("w")
    assert inputs.options == {"category": "lower_body"} and record.options == inputs.options
    details = {"category": "lower_body", "notes": ["category auto -> lower_body"]}
    store.complete("job", "w", JobResult(pictures=(StoredPicture(b"png"),), details=details))
    record = store.get("job")
    assert record.details == details and record.options == {"category": "lower_body"}


def test_a_whole_outfits_bottom_image_travels_with_the_job(make_store) -> None:
    store = make_store()
    outfit = JobInputs(b"person", b"top", {"category": "auto"}, bottom_image=b"bottoms")
    store.create("outfit", outfit)
    store.create("one-garment", INPUTS)
    assert store.claim("w") == (store.get("outfit"), outfit)
    assert store.claim("w")[1].bottom_image is None
    assert store.complete("outfit", "w", JobResult(pictures=(StoredPicture(b"png"),)))
    assert store.get("outfit").status is JobStatus.COMPLETED and store.claim("w") is None


def test_a_full_queue_refuses_new_jobs_until_one_leaves_it(make_store) -> None:
    store = make_store()
    for index in range(3):
        store.create(f"job-{index}", INPUTS, max_queued=3)
    with pytest.raises(QueueFull) as refused:
        store.create("one-too-many", INPUTS, max_queued=3)
    assert refused.value.queued == 3 and store.get("one-too-many") is None
    store.create("unlimited", INPUTS)  # no max_queued: no limit
    store.claim("w")
    store.claim("w")
    store.create("room-again", INPUTS, max_queued=3)
    assert store.counts()["queued"] == 3


def test_a_burst_of_concurrent_creates_never_passes_the_queue_limit(make_store) -> None:
    stores = [make_store() for _ in range(4)]  # separate connections, like separate processes
    start = threading.Barrier(40)
    accepted: list[str] = []
    refused: list[int] = []
    lock = threading.Lock()

    def submit(store, job_id: str) -> None:
        start.wait()
        try:
            store.create(job_id, INPUTS, max_queued=5)
        except QueueFull as full:
            with lock:
                refused.append(full.queued)
        else:
            with lock:
                accepted.append(job_id)

    threads = [threading.Thread(target=submit, args=(stores[i % 4], f"job-{i:02d}")) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 5 and len(refused) == 35
    assert set(refused) == {5}
    assert stores[0].counts()["queued"] == 5
    assert sorted(r.job_id for r in map(stores[0].get, accepted)) == sorted(accepted)
