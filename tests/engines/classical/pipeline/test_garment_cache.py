import threading
import time

import numpy as np
import pytest

from tryon.errors import GarmentNotFound
from tryon.engines.classical.garment_cache import GarmentCache, garment_key
from tryon.engines.classical.pipeline.types import Category, GarmentCutout, GarmentLandmarks, PreparedGarment


def _prepared(tag: float) -> PreparedGarment:
    mask = np.ones((4, 4), bool)
    cutout = GarmentCutout(rgb=np.zeros((4, 4, 3), np.uint8), alpha=mask.astype(np.float32), mask=mask)
    point = (tag, tag)
    landmarks = GarmentLandmarks(*([point] * 13))
    return PreparedGarment(cutout=cutout, landmarks=landmarks, category=Category.UPPER_BODY, reason="test")


def test_hit_returns_the_cached_garment_without_preparing_again():
    cache = GarmentCache(max_items=4)
    calls = []
    first = cache.get_or_prepare(b"photo-a", lambda: calls.append(1) or _prepared(1))
    second = cache.get_or_prepare(b"photo-a", lambda: calls.append(1) or _prepared(2))
    assert first is second and calls == [1]
    assert (cache.hits, cache.misses) == (1, 1)
    assert b"photo-a" in cache and b"photo-b" not in cache


def test_key_is_the_sha256_of_the_bytes():
    assert garment_key(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_least_recently_used_is_evicted():
    cache = GarmentCache(max_items=2)
    cache.get_or_prepare(b"a", lambda: _prepared(1))
    cache.get_or_prepare(b"b", lambda: _prepared(2))
    cache.get_or_prepare(b"a", lambda: _prepared(9))  # touch a: b is now the oldest
    cache.get_or_prepare(b"c", lambda: _prepared(3))
    assert len(cache) == 2 and b"a" in cache and b"c" in cache and b"b" not in cache


def test_failures_are_raised_and_not_cached():
    cache = GarmentCache()

    def fail():
        raise GarmentNotFound("no garment")

    with pytest.raises(GarmentNotFound):
        cache.get_or_prepare(b"blank", fail)
    assert b"blank" not in cache
    assert cache.get_or_prepare(b"blank", lambda: _prepared(1)).reason == "test"


def test_concurrent_misses_prepare_once():
    cache = GarmentCache()
    calls = []
    lock = threading.Lock()

    def slow():
        with lock:
            calls.append(1)
        time.sleep(0.05)
        return _prepared(1)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_prepare(b"same", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 8 and all(r is results[0] for r in results)


def test_concurrent_distinct_garments_are_all_kept():
    cache = GarmentCache(max_items=64)
    threads = [
        threading.Thread(target=cache.get_or_prepare, args=(f"g{i}".encode(), lambda i=i: _prepared(i)))
        for i in range(32)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 32 and cache.misses == 32


def test_max_items_must_be_positive():
    with pytest.raises(ValueError, match="max_items"):
        GarmentCache(max_items=0)
