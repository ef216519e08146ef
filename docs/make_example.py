"""Regenerate docs/example.png: pairs from tests/data sent through a real ``bentoml serve``.

    python docs/make_example.py

Each row is person | garment | result, the result exactly as the service returned it.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import DATA_DIR  # noqa: E402
from tests.e2e.helpers import decode_result, poll_until_finished, submit  # noqa: E402
from tests.e2e.served import ServedService  # noqa: E402

# Three of the better results (the full 12-pair contact sheet, failures included, is
# docs/quality_sheet.jpg from benchmarks/quality.py).
PAIRS = [
    ("studio_man_hoodie.png", "sweatshirt_grey.jpg"),
    ("studio_woman_jacket.png", "jeans_blue.jpg"),
    ("indoor_man_sweater.jpg", "shirt_oxford_blue.jpg"),
]
ROW_HEIGHT = 430


def fit(image: np.ndarray, height: int = ROW_HEIGHT) -> Image.Image:
    picture = Image.fromarray(image)
    return picture.resize((round(picture.width * height / picture.height), height), Image.LANCZOS)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        server = ServedService(Path(workdir)).start()
        try:
            for person_name, garment_name in PAIRS:
                person = (DATA_DIR / "persons" / person_name).read_bytes()
                garment = (DATA_DIR / "garments" / garment_name).read_bytes()
                job_id = submit(server.url, person, garment).json()["job_id"]
                final = poll_until_finished(server.url, job_id).final
                assert final["status"] == "completed", final
                images = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in (person, garment)]
                rows.append([fit(image) for image in (*images, decode_result(final))])
        finally:
            server.stop()
    width = max(sum(tile.width for tile in row) for row in rows)
    sheet = Image.new("RGB", (width, ROW_HEIGHT * len(rows)), "white")
    for index, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, index * ROW_HEIGHT))
            x += tile.width
    sheet.save(REPO / "docs" / "example.png", optimize=True)
    print(f"wrote {REPO / 'docs' / 'example.png'} ({len(rows)} pairs)")


if __name__ == "__main__":
    main()
