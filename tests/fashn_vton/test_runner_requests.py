"""FashnVtonRunner in-process with the tiny test model: a request id is sampled once however often it
is sent, and a cancelled request leaves its batch at the next step without changing the others."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tryon.engines.fashn_vton.batching import CANCELLED, SampleLedger, unpack_result

from .test_runner import packed, runner, store  # noqa: F401 (the module's model store and runner)


@pytest.fixture()
def sampled_rows(runner, monkeypatch):  # noqa: F811
    """How many rows the runner's model was asked to sample, call by call."""
    counted: list[int] = []
    sample_canvases = runner.pipeline.sample_canvases

    def counting(canvases, *args, **kwargs):
        counted.append(len(canvases))
        return sample_canvases(canvases, *args, **kwargs)

    monkeypatch.setattr(runner.pipeline, "sample_canvases", counting)
    return counted


def test_a_request_sent_twice_in_one_batch_is_sampled_once(runner, sampled_rows) -> None:  # noqa: F811
    twice = [unpack_result(row) for row in runner.sample(np.concatenate([packed("twice", 11), packed("twice", 11)]))]
    assert sampled_rows == [1]
    assert np.array_equal(twice[0], twice[1])


def test_a_request_sent_again_after_it_finished_gets_the_kept_result(runner, sampled_rows) -> None:  # noqa: F811
    first = unpack_result(runner.sample(packed("again", 12))[0])
    again = unpack_result(runner.sample(packed("again", 12))[0])
    assert sampled_rows == [1]
    assert np.array_equal(first, again)


def test_a_request_sent_again_while_it_samples_waits_for_the_first(runner, sampled_rows, monkeypatch) -> None:  # noqa: F811
    """The resend of a cut call: a later batch, while the first computes (the runner's batches run
    in threads of their own)."""
    started = threading.Event()
    set_progress = runner.progress_board.set
    monkeypatch.setattr(runner.progress_board, "set", lambda *args: (started.set(), set_progress(*args)))
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(runner.sample, packed("resent", 13, num_steps=6))
        assert started.wait(60)
        resent = pool.submit(runner.sample, packed("resent", 13, num_steps=6))
        first_picture, resent_picture = (unpack_result(call.result()[0]) for call in (first, resent))
    assert sampled_rows == [1]
    assert np.array_equal(first_picture, resent_picture)


@pytest.fixture()
def rows_per_step(runner):  # noqa: F811
    """The rows of each transformer pass (conditional + null rows while guided; the last step unguided)."""
    counted: list[int] = []
    hook = runner.pipeline.transformer.register_forward_pre_hook(lambda _, args: counted.append(args[0].shape[0]))
    yield counted
    hook.remove()


def rows_of(*requests: tuple[str, int]) -> np.ndarray:
    """A batch of 4-step requests (id, seed)."""
    return np.concatenate([packed(request_id, seed, num_steps=4) for request_id, seed in requests])


def pictures(runner, *requests: tuple[str, int]) -> list:  # noqa: F811
    return [unpack_result(row) for row in runner.sample(rows_of(*requests))]


def test_a_request_cancelled_while_it_samples_leaves_its_batch_at_the_next_step(runner, rows_per_step, monkeypatch) -> None:  # noqa: F811
    """"b" is cancelled after the first of 4 steps: the model runs on "a" and "c" alone from then on,
    and they get the pictures a batch of the two gives (same seeds), to the bound of a request
    batched vs alone (their first step ran at batch 3: CPU float32 matmuls differ by about 1e-6
    between batch sizes, so a rare pixel moves one level)."""
    set_progress = runner.progress_board.set

    def cancel_after_first_step(ids, done, total):
        set_progress(ids, done, total)
        if done == 1:
            asyncio.run(runner.cancel(["b"]))

    monkeypatch.setattr(runner.progress_board, "set", cancel_after_first_step)
    batch = pictures(runner, ("a", 21), ("b", 22), ("c", 23))
    assert batch[1] == CANCELLED
    assert rows_per_step == [6, 4, 4, 2]
    monkeypatch.undo()
    without = pictures(runner, ("a'", 21), ("c'", 23))
    for kept, alone in zip([batch[0], batch[2]], without):
        difference = np.abs(kept.astype(int) - alone)
        assert difference.max() <= 1 and np.mean(difference > 0) < 0.0001


def test_a_request_cancelled_before_its_batch_starts_is_skipped_and_the_others_are_pixel_equal(runner, rows_per_step) -> None:  # noqa: F811
    """A cancel can overtake its request: "b" never reaches the model, and "a" and "c" are sampled
    exactly as a batch of the two."""
    asyncio.run(runner.cancel(["early b"]))
    batch = pictures(runner, ("early a", 31), ("early b", 32), ("early c", 33))
    assert batch[1] == CANCELLED and rows_per_step == [4, 4, 4, 2]
    without = pictures(runner, ("early a'", 31), ("early c'", 33))
    assert np.array_equal(batch[0], without[0]) and np.array_equal(batch[2], without[1])


def test_a_batch_whose_every_request_is_cancelled_stops(runner, rows_per_step, sampled_rows) -> None:  # noqa: F811
    asyncio.run(runner.cancel(["gone"]))
    assert pictures(runner, ("gone", 34)) == [CANCELLED]
    assert rows_per_step == [] and sampled_rows == []


def test_progress_answers_for_many_requests_in_one_call(runner) -> None:  # noqa: F811
    runner.sample(np.concatenate([packed("p1", 41, num_steps=2), packed("p2", 42, num_steps=3)]))
    answer = asyncio.run(runner.progress(["p1", "p2", "unknown"]))
    assert answer == {"p1": [2, 2], "p2": [3, 3], "unknown": [0, 0]}


def test_the_ledger_keeps_a_bounded_number_of_results() -> None:
    ledger = SampleLedger(max_results=2)
    for request_id in ("x", "y", "z"):
        result, first = ledger.claim(request_id)
        assert first
        ledger.finish(request_id, request_id.upper())
    kept, first = ledger.claim("z")
    assert not first and kept.result() == "Z"
    _, first = ledger.claim("x")  # forgotten: the oldest of three
    assert first


def test_a_failed_computation_fails_its_waiters_and_a_resend_computes_again() -> None:
    ledger = SampleLedger()
    result, _ = ledger.claim("f")
    waiting, first = ledger.claim("f")
    assert not first and waiting is result
    ledger.abandon("f", RuntimeError("model gone"))
    with pytest.raises(RuntimeError, match="model gone"):
        waiting.result()
    assert ledger.claim("f")[1]
    ledger.finish("f", "picture")
    ledger.abandon("f", RuntimeError("a later request of its batch failed"))  # "f" was done: kept
    assert ledger.claim("f")[0].result() == "picture"
