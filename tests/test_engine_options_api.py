"""The engines' options in the HTTP API, built from the registry: the form, its validation and its
OpenAPI schema, and what a submitted job keeps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tryon.api import AdmissionPolicy, ServiceState, attach_state, create_app
from tryon.api.engine_options import declared_fields
from tryon.engines.base import EngineOptions
from tryon.engines.registry import engines
from tryon.images import ImageLimits
from tryon.results import ResultPublisher

from .conftest import DATA_DIR

# The submit form's schema before the engines declared their options (main at 2700af2).
BEFORE = json.loads((Path(__file__).parent / "fixtures" / "submit_form_before_engine_options.json").read_text())
PERSON = (DATA_DIR / "persons" / "studio_woman_jacket.png").read_bytes()


class CreatedJobs:
    """Stands in for the job store: keeps what ``create`` was given."""

    def __init__(self) -> None:
        self.inputs = []

    def create(self, job_id, inputs, max_queued=None) -> None:
        self.inputs.append(inputs)


@pytest.fixture
def jobs() -> CreatedJobs:
    return CreatedJobs()


@pytest.fixture
def client(jobs: CreatedJobs) -> TestClient:
    app = create_app()
    policy = AdmissionPolicy(api_key=None, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=20 << 20)
    state = ServiceState(
        store=jobs, wake=lambda: None, limits=ImageLimits(), results=ResultPublisher(None), admission=policy, health=None
    )
    attach_state(app, state)
    return TestClient(app)


def post(client: TestClient, **fields: str):
    files = {"person_image": ("person.png", PERSON), "clothing_image": ("clothing.png", PERSON)}
    return client.post("/api/tryon", files=files, data=fields)


def test_the_submit_form_keeps_every_field_it_had_with_its_type_limits_and_description(client: TestClient) -> None:
    form = client.get("/openapi.json").json()["components"]["schemas"]["Body_submit_tryon_api_tryon_post"]
    photos = ("person_image", "clothing_image")  # a URL field may stand in for each (docs/api.md)
    for name, before in BEFORE["properties"].items():
        now = form["properties"][name]
        if name in photos:
            assert now["description"].startswith(before["description"]), name
            now, before = {**now, "description": ""}, {**before, "description": ""}
        assert now == before, name
    assert form.get("required", []) == [name for name in BEFORE["required"] if name not in photos]
    assert form["properties"]["mode"]["anyOf"][0]["enum"] == ["performance", "balanced", "quality"]


def test_the_job_answer_documents_every_engines_details(client: TestClient) -> None:
    answer = client.get("/openapi.json").json()["components"]["schemas"]["JobStatusResponse"]["properties"]
    assert {"seed", "steps", "guidance_scale", "garment_photo_type", "mode", "width", "height", "notes"} <= set(answer)
    assert answer["seed"]["description"] == "The seed the engine sampled with (completed; generative engines only)."


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", "0"), ("steps", "51"), ("steps", "many"), ("seed", "-1"), ("guidance_scale", "lots"),
     ("garment_photo_type", "worn"), ("mode", "fastest")],
)  # fmt: skip
def test_a_bad_option_is_a_400_naming_it(client: TestClient, jobs: CreatedJobs, field: str, value: str) -> None:
    response = post(client, **{field: value})
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}: "), response.json()
    assert not jobs.inputs


def test_the_job_keeps_the_options_sent_typed_and_no_others(client: TestClient, jobs: CreatedJobs) -> None:
    response = post(client, steps="12", guidance_scale="2.5", mode="quality", category="dresses")
    assert response.status_code == 202, response.text
    (inputs,) = jobs.inputs
    assert inputs.options == {
        "category": "dresses",
        "engine_options": {"steps": 12, "guidance_scale": 2.5, "mode": "quality"},  # those sent, typed
    }


def test_two_engines_may_share_an_option_only_declared_alike() -> None:
    from pydantic import Field

    class Steps(EngineOptions):
        steps: int = Field(default=4, ge=1)

    class SameSteps(EngineOptions):
        steps: int = Field(default=4, ge=1)

    class OtherSteps(EngineOptions):
        steps: float = 4.0

    assert list(declared_fields([Steps, SameSteps])) == ["steps"]
    with pytest.raises(ValueError, match="engines declare 'steps' differently"):
        declared_fields([Steps, OtherSteps])


def test_the_api_names_no_engines_option() -> None:
    """The form and the answer come from the registry: no option is written into tryon/api/."""
    names = set(declared_fields(spec.options for spec in engines())) | set(declared_fields(spec.details for spec in engines()))
    api = Path(__file__).resolve().parents[1] / "tryon" / "api"
    naming = [
        f"{path.name}: {name}"
        for path in api.glob("*.py")
        for name in names
        if re.search(rf"""["']{name}["']|\b{name}\s*[:=]""", path.read_text())  # a key, a field, an argument
    ]
    assert not naming, naming
