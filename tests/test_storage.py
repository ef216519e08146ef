"""S3 result storage against a real S3 server (SeaweedFS), which checks signatures and expiry like AWS.

Links are fetched with plain ``requests``, as a browser would: no AWS client on the reading side.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
import requests

from tests.s3_server import Credentials, SeaweedS3
from tryon.results.s3 import S3ResultStorage, StorageError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # a PNG signature and arbitrary bytes


StorageFactory = Callable[..., S3ResultStorage]


@pytest.fixture()
def make_storage(s3_server: SeaweedS3, bucket: str, monkeypatch: pytest.MonkeyPatch) -> StorageFactory:
    """Build storages the way the service does: credentials from boto3's chain (here the environment)."""

    def make(credentials: Credentials | None = None, **overrides) -> S3ResultStorage:
        credentials = credentials or s3_server.admin
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        options = {"bucket": bucket, "endpoint_url": s3_server.endpoint_url, "region": s3_server.region}
        return S3ResultStorage(**(options | overrides))

    return make


def job_id() -> str:
    return uuid.uuid4().hex


def count_http_sends(storage: S3ResultStorage, operation: str) -> list[int]:
    """A list that grows by one for each HTTP request botocore sends for ``operation`` (retries included)."""
    sends: list[int] = []
    storage.client.meta.events.register(f"before-send.s3.{operation}", lambda **_: sends.append(1))
    return sends


# -- start-up check ----------------------------------------------------------------------------------


def test_check_passes_on_a_writable_bucket_and_leaves_nothing_behind(
    make_storage: StorageFactory, s3_server: SeaweedS3, bucket: str
) -> None:
    make_storage().check()

    listing = s3_server.client().list_objects_v2(Bucket=bucket)
    assert listing.get("KeyCount", 0) == 0


def test_check_names_a_missing_bucket(make_storage: StorageFactory) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"

    with pytest.raises(StorageError, match=f"bucket '{missing}' does not exist"):
        make_storage(bucket=missing).check()


def test_check_names_a_bucket_it_cannot_write(
    make_storage: StorageFactory, s3_server: SeaweedS3, bucket: str
) -> None:
    with pytest.raises(StorageError, match=f"cannot write to bucket '{bucket}': AccessDenied"):
        make_storage(credentials=s3_server.reader).check()


def test_check_reports_wrong_credentials_as_denied(
    make_storage: StorageFactory, s3_server: SeaweedS3
) -> None:
    wrong = Credentials(s3_server.admin.access_key, "not-the-secret")

    with pytest.raises(StorageError, match="denied"):
        make_storage(credentials=wrong).check()


# -- upload and links --------------------------------------------------------------------------------


def test_uploaded_result_is_served_by_its_presigned_url(make_storage: StorageFactory) -> None:
    storage = make_storage()
    job = job_id()

    key = storage.put_result(job, PNG)
    response = requests.get(storage.presigned_url(key), timeout=5)

    assert key == f"results/{job}.png"
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.content == PNG


def test_url_with_a_changed_signature_is_refused(make_storage: StorageFactory) -> None:
    storage = make_storage()
    url = storage.presigned_url(storage.put_result(job_id(), PNG))
    last = url[-1]
    tampered = url[:-1] + ("0" if last != "0" else "1")

    response = requests.get(tampered, timeout=5)

    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text


def test_url_for_another_key_is_refused(make_storage: StorageFactory) -> None:
    storage = make_storage()
    mine = storage.put_result(job_id(), PNG)
    other = storage.put_result(job_id(), PNG)
    url_for_mine = storage.presigned_url(mine)

    # A valid link with its path changed to another existing object: the signature no longer matches.
    assert requests.get(url_for_mine.replace(mine, other), timeout=5).status_code == 403
    # A validly signed link for an object that was never uploaded.
    never_uploaded = storage.presigned_url(f"results/{job_id()}.png")
    assert requests.get(never_uploaded, timeout=5).status_code == 404


def test_expired_url_is_refused_and_a_fresh_one_works(make_storage: StorageFactory) -> None:
    storage = make_storage(url_expires=2)
    key = storage.put_result(job_id(), PNG)
    first = storage.presigned_url(key)
    assert requests.get(first, timeout=5).status_code == 200

    time.sleep(3.1)  # X-Amz-Date has whole seconds
    expired = requests.get(first, timeout=5)
    second = storage.presigned_url(key)  # a late poll presigns again from the stored key
    fresh = requests.get(second, timeout=5)

    assert expired.status_code == 403
    assert "expired" in expired.text
    assert second != first
    assert fresh.status_code == 200
    assert fresh.content == PNG


def test_upload_to_a_missing_bucket_fails_at_once(make_storage: StorageFactory) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    storage = make_storage(bucket=missing, attempts=4, backoff_seconds=5)
    sends = count_http_sends(storage, "PutObject")

    started = time.monotonic()
    with pytest.raises(StorageError, match=f"bucket '{missing}': NoSuchBucket"):
        storage.put_result(job_id(), PNG)

    assert len(sends) == 1  # no retry, no backoff wait
    assert time.monotonic() - started < 2


def test_presigning_makes_no_request(make_storage: StorageFactory) -> None:
    storage = make_storage()
    sends = count_http_sends(storage, "GetObject")

    storage.presigned_url("results/anything.png")

    assert sends == []


# -- outage --------------------------------------------------------------------------------------


def test_outage_fails_with_storage_errors_and_recovers_after_restart(
    make_storage: StorageFactory, s3_server: SeaweedS3
) -> None:
    storage = make_storage(attempts=3, backoff_seconds=0.05)
    stored_before = storage.put_result(job_id(), PNG)
    sends = count_http_sends(storage, "PutObject")

    s3_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match="after 3 attempts.*unreachable"):
            storage.put_result(job_id(), PNG)
        elapsed = time.monotonic() - started
        with pytest.raises(StorageError, match=f"S3 endpoint {s3_server.endpoint_url} unreachable"):
            storage.check()
    finally:
        s3_server.start()

    assert len(sends) == 3  # our attempts only: botocore does not retry underneath
    assert 0.05 + 0.1 <= elapsed < 2
    key = storage.put_result(job_id(), PNG)  # the same storage object works again
    for stored in (key, stored_before):  # and data from before the outage is still there
        response = requests.get(storage.presigned_url(stored), timeout=5)
        assert response.status_code == 200
        assert response.content == PNG


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"url_expires": 0}, "url_expires must be between 1 and 604800 seconds, got 0"),
        ({"url_expires": 8 * 24 * 3600}, "url_expires must be between"),
        ({"attempts": 0}, "attempts must be at least 1, got 0"),
        ({"backoff_seconds": -1}, "backoff_seconds must not be negative"),
        ({"bucket": ""}, "bucket must be a bucket name"),
    ],
)
def test_invalid_configuration_is_rejected(overrides: dict, message: str) -> None:
    options = {"bucket": "results-bucket", "region": "us-east-1", "client": object()} | overrides
    with pytest.raises(ValueError, match=message):
        S3ResultStorage(**options)


@pytest.mark.parametrize("bad_job_id", ["", "../escape", "a/b", ".hidden"])
def test_job_id_must_be_a_plain_name(make_storage: StorageFactory, bad_job_id: str) -> None:
    with pytest.raises(ValueError, match="job_id must be a plain name"):
        make_storage().put_result(bad_job_id, PNG)


# -- several pictures, in their format (ResultPublisher over the real server) ------------------------


@pytest.mark.parametrize("output_format, suffix, media_type", [("jpeg", ".jpg", "image/jpeg"), ("webp", ".webp", "image/webp")])
def test_each_picture_of_a_job_is_one_object_with_its_formats_suffix_and_type(
    make_storage: StorageFactory, s3_server: SeaweedS3, bucket: str, output_format: str, suffix: str, media_type: str
) -> None:
    import numpy as np

    from tryon.images import OutputFormat
    from tryon.results import ResultPublisher

    publisher = ResultPublisher(make_storage())
    pictures = [np.full((40, 30, 3), value, np.uint8) for value in (0, 120, 250)]
    job = job_id()

    result = publisher.publish(job, pictures, OutputFormat(output_format, quality=60))

    keys = [picture.key for picture in result.pictures]
    assert keys == [f"results/{job}{suffix}", f"results/{job}-1{suffix}", f"results/{job}-2{suffix}"]
    assert all(picture.data is None for picture in result.pictures) and result.warning is None
    for key in keys:
        stored = s3_server.client().get_object(Bucket=bucket, Key=key)
        assert stored["ContentType"] == media_type
        fetched = requests.get(publisher.url_for(key), timeout=10)
        assert fetched.headers["Content-Type"] == media_type and fetched.content == stored["Body"].read()
