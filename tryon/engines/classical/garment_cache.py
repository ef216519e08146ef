"""A cache of prepared garments keyed by the content hash of the garment photo.

Garments repeat across many shoppers: the cut-out (GrabCut), category and landmarks depend on the photo
alone, so a garment seen before costs a SHA-256 of its bytes instead of its preparation.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable

from .pipeline.types import PreparedGarment


def garment_key(photo: bytes) -> str:
    """The cache key of a garment photo: the hex SHA-256 of its bytes as uploaded."""
    return hashlib.sha256(photo).hexdigest()


class GarmentCache:
    """Thread-safe, least-recently-used cache of ``PreparedGarment`` by ``garment_key``.

    Concurrent misses for the same photo prepare it once: the other callers wait for that result. A
    preparation that raises (``GarmentNotFound``) is not cached; every waiter gets the error.
    """

    def __init__(self, max_items: int = 64) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[str, PreparedGarment] = OrderedDict()
        self._pending: dict[str, Future[PreparedGarment]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, photo: bytes) -> bool:
        with self._lock:
            return garment_key(photo) in self._items

    def get_or_prepare(self, photo: bytes, prepare: Callable[[], PreparedGarment]) -> PreparedGarment:
        """The prepared garment of ``photo`` (the garment photo's bytes): cached, or ``prepare()``'d now.

        ``prepare`` decodes the photo and calls ``tryon.engines.classical.pipeline.prepare_garment``; it runs only on a
        miss, outside the lock, so other garments are served meanwhile.
        """
        key = garment_key(photo)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = Future()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            return pending.result()
        try:
            prepared = prepare()
        except BaseException as error:
            with self._lock:
                del self._pending[key]
            pending.set_exception(error)
            raise
        with self._lock:
            del self._pending[key]
            self._items[key] = prepared
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        pending.set_result(prepared)
        return prepared
