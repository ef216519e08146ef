"""The photos of a submission: uploaded files, or URLs the service fetches once, at submission.

Each photo field ``X`` (``person_image``, ``clothing_image``, and a whole outfit's optional
``bottom_image``) has a sibling ``X_url``: exactly one of the two is given. A URL is fetched through the SSRF guard that webhooks use
(``tryon.guarded_http``), within the upload size limit and ``TRYON_IMAGE_URL_TIMEOUT_SECONDS``,
and its bytes are queued like an upload's: the job, and any retry of it, never fetches again.
At most ``TRYON_IMAGE_URL_MAX_FETCHES`` submissions fetch at once (a 429 beyond), so slow URLs
cannot take every request thread and delay polls.

Clients that send no files may send the form's fields as a JSON object instead
(``FormOrJSONRoute``): the same names, the same checks, the same answers.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Coroutine, Iterator

from fastapi import Form, HTTPException, Request, Response, UploadFile, params
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from ..errors import InvalidImage
from ..guarded_http import Guard, fetch
from ..images import ACCEPTED_TYPES, check_upload_size, sniff_image_type
from .state import ServiceState

# Not TRYON_WEBHOOK_ALLOW_PRIVATE: a webhook is a blind POST, while a fetched photo comes back to the
# client in the result, so allowing private webhook receivers must not also open internal hosts to reading.
ALLOW_PRIVATE_SETTING = "TRYON_IMAGE_URL_ALLOW_PRIVATE"
_URL_DESCRIPTION = (
    "URL of the {photo} (http or https), instead of the {field} file: fetched once, at submission, "
    "with the same limits and checks as an upload; only public addresses unless the operator sets "
    f"{ALLOW_PRIVATE_SETTING}."
)
PersonImageURL = Annotated[
    str | None,
    Form(max_length=2048, description=_URL_DESCRIPTION.format(photo="person photo", field="person_image")),
]
ClothingImageURL = Annotated[
    str | None,
    Form(max_length=2048, description=_URL_DESCRIPTION.format(photo="clothing photo", field="clothing_image")),
]
BottomImageURL = Annotated[
    str | None,
    Form(max_length=2048, description=_URL_DESCRIPTION.format(photo="outfit's bottoms", field="bottom_image")),
]


@dataclass(frozen=True)
class PhotoSource:
    """One photo of a request as sent: ``upload`` (the ``field`` file) or ``url`` (``field``_url)."""

    field: str
    upload: UploadFile | None
    url: str | None

    @property
    def url_field(self) -> str:
        return f"{self.field}_url"


def read_photos(state: ServiceState, *sources: PhotoSource) -> list[bytes]:
    """The bytes of each photo, in order: the upload's, or those its URL answered with.

    Raises ``InvalidImage`` naming every field given both ways or neither, and ``URLRefused``
    (naming the URL field) when a fetch fails. Blocking: FastAPI runs the handler in a thread.
    """
    problems = [problem for source in sources if (problem := _source_problem(source))]
    if problems:
        raise InvalidImage("; ".join(problems) + ".")
    with _fetch_slot(state, [source.url_field for source in sources if source.upload is None]):
        return [_photo_bytes(state, source) for source in sources]


@contextmanager
def _fetch_slot(state: ServiceState, url_fields: list[str]) -> Iterator[None]:
    """One of the ``TRYON_IMAGE_URL_MAX_FETCHES`` slots while a submission fetches its photos (one
    after the other, on its request thread); none for uploads only. With every slot taken the
    answer is a 429 at once: waiting for a slot would hold a request thread too."""
    if not url_fields:
        yield
        return
    if not state.image_url_fetches.acquire(blocking=False):
        wait = math.ceil(state.image_url_limits.timeout_seconds)
        raise HTTPException(
            429,
            f"{' and '.join(url_fields)}: the service is already fetching photos by URL for "
            f"{state.image_url_max_fetches} submissions, its limit; try again in about {wait} s, or "
            "upload the photos as files.",
            headers={"Retry-After": str(wait)},
        )
    try:
        yield
    finally:
        state.image_url_fetches.release()


def read_upload(field: str, upload: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes; an oversized file is refused before it is read into memory."""
    if upload.size is not None:
        check_upload_size(field, upload.size, max_bytes)
    return upload.file.read(max_bytes + 1)


def _source_problem(source: PhotoSource) -> str | None:
    if source.upload is not None and source.url:
        return f"{source.field} and {source.url_field} are both given: send the photo one way, as a file or by URL"
    if source.upload is None and not source.url:
        return (
            f"{source.field} is required (send it as a file field in multipart/form-data, or its URL "
            f"as {source.url_field})"
        )
    return None


def _photo_bytes(state: ServiceState, source: PhotoSource) -> bytes:
    if source.upload is not None:
        return read_upload(source.field, source.upload, state.limits.max_bytes)
    guard = Guard(source.url_field, state.allow_private_image_urls, ALLOW_PRIVATE_SETTING)
    data = fetch(source.url, guard, max_bytes=state.limits.max_bytes, limits=state.image_url_limits)
    _check_fetched_type(source.url_field, data)
    return data


def _check_fetched_type(url_field: str, data: bytes) -> None:
    """Refuse, naming the URL field, an answer that is no photo; the rest of an upload's checks
    follow at submission (they name the photo field)."""
    media_type = sniff_image_type(data)
    if not data:
        raise InvalidImage(f"{url_field} answered with an empty body, not a photo.")
    if media_type is None:
        raise InvalidImage(f"{url_field} did not send an image: its bytes are not JPEG, PNG or WEBP.")
    if media_type not in ACCEPTED_TYPES:
        raise InvalidImage(f"{url_field} sent an unsupported image type: {media_type} (JPEG, PNG or WEBP only).")


class FormOrJSONRoute(APIRoute):
    """A route whose form fields may also come as a JSON object of the same names (files excepted:
    a JSON body gives their ``_url`` fields), validated by the same declarations as the form.

    The OpenAPI schema shows the JSON body beside the form, as the form's fields.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self._has_form():
            json_body = {
                "description": "The form's fields by the same names, as one JSON object, for clients that "
                "send no files: the photos by their _url fields. Numbers may be JSON numbers or strings.",
                "allOf": [
                    {"$ref": f"#/components/schemas/Body_{self.unique_id}"},
                    {"properties": {name: {"not": {}} for name in self._file_fields()}},  # files: never
                ],
            }
            self.openapi_extra = {
                **(self.openapi_extra or {}),
                "requestBody": {"content": {"application/json": {"schema": json_body}}},
            }

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self._has_form():
            return handler
        files = self._file_fields()

        async def form_or_json(request: Request) -> Response:
            if _is_json(request.headers.get("content-type", "")):
                request = _JSONFieldsRequest(request, _json_fields(await request.body(), files))
            return await handler(request)

        return form_or_json

    def _file_fields(self) -> set[str]:
        return {param.alias for param in self.dependant.body_params if isinstance(param.field_info, params.File)}

    def _has_form(self) -> bool:
        return self.body_field is not None and isinstance(self.body_field.field_info, params.Form)


class _JSONFieldsRequest(Request):
    """The request with the fields of its JSON body as its form (FastAPI awaits ``form(**limits)``)."""

    def __init__(self, request: Request, fields: FormData) -> None:
        super().__init__(request.scope, request.receive)
        self._fields = fields

    async def form(self, **limits: Any) -> FormData:  # type: ignore[override]
        return self._fields


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _json_fields(body: bytes, files: set[str]) -> FormData:
    """The form fields a JSON object stands for: strings as they are, numbers and booleans as
    their JSON text, null as absent. ``files`` cannot come in JSON; nor can lists or objects."""
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 is a ValueError too; deep nesting a RecursionError
        raise HTTPException(400, "The request body is not valid JSON.") from None
    if not isinstance(fields, dict):
        raise HTTPException(400, "The JSON body must be an object of the form's fields (person_image_url, ...).")
    form = []
    for name, value in fields.items():
        if name in files:
            raise HTTPException(
                400,
                f"{name} cannot be sent in a JSON body: give {name}_url there, or send the file in "
                "multipart/form-data.",
            )
        if isinstance(value, (dict, list)):
            kind = "an object" if isinstance(value, dict) else "a list"
            raise HTTPException(400, f"{name} must be a string or a number in the JSON body, not {kind}.")
        if value is not None:
            form.append((name, json.dumps(value) if isinstance(value, (bool, int, float)) else value))
    return FormData(form)
