"""How a job's result pictures are kept in a store record.

The first picture stays where a one-picture job has always kept it (``result`` bytes or
``result_key``), so records written before several pictures existed read the same. The others
(``num_samples`` above 1) are one JSON list, ``more_results``: ``{"key": ...}`` for an uploaded
picture, ``{"b64": ...}`` for bytes kept in the store.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from .records import StoredPicture


def first_picture(pictures: Sequence[StoredPicture]) -> StoredPicture:
    """The picture kept in the ``result``/``result_key`` fields (an empty one when there is none)."""
    return pictures[0] if pictures else StoredPicture()


def more_pictures_json(pictures: Sequence[StoredPicture]) -> str:
    """The pictures after the first, as the ``more_results`` JSON list."""
    return json.dumps([_entry(picture) for picture in pictures[1:]])


def pictures_of(result: bytes | None, result_key: str | None, more_results: str | None) -> tuple[StoredPicture, ...]:
    """Every picture of a record from its stored fields (none while the job has not completed)."""
    first = (StoredPicture(data=result, key=result_key),) if result is not None or result_key else ()
    more = tuple(
        StoredPicture(key=entry["key"]) if "key" in entry else StoredPicture(data=base64.b64decode(entry["b64"]))
        for entry in json.loads(more_results or "[]")
    )
    return first + more


def _entry(picture: StoredPicture) -> dict[str, str]:
    if picture.key:
        return {"key": picture.key}
    return {"b64": base64.b64encode(picture.data or b"").decode("ascii")}
