"""An option the chosen engine does not take: the job runs, and its answer's notes say so."""

from __future__ import annotations

import requests

from .helpers import poll_until_finished


def test_the_classical_engine_notes_the_options_it_does_not_take(service, person_bytes, garment_bytes) -> None:
    files = {"person_image": ("person.png", person_bytes), "clothing_image": ("clothing.jpg", garment_bytes)}
    submitted = requests.post(f"{service.url}/api/tryon", files=files, data={"steps": "5", "mode": "quality"}, timeout=30)
    assert submitted.status_code == 202, submitted.text

    final = poll_until_finished(service.url, submitted.json()["job_id"]).final

    assert final["status"] == "completed", final
    assert final["notes"][-2:] == [
        "steps is not an option of the classical engine; it was ignored",
        "mode is not an option of the classical engine; it was ignored",
    ]
    assert "steps" not in final and "seed" not in final  # FASHN VTON's details, not the classical engine's
