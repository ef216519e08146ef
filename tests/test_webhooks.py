"""Webhooks against a real HTTP receiver on loopback: signature, retries, SSRF refusals.

No traffic leaves this machine: private and link-local addresses are refused before any connection.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tryon.webhooks import (
    SIGNATURE_HEADER,
    WebhookSender,
    WebhookURLRefused,
    check_webhook_url,
    sign,
    verify,
)

SECRET = "test-secret-7f3a"
PAYLOAD = {"job_id": "0b6c3c9e-2f7e-4a53-9d1e-5c1f0d6a9b11", "status": "completed", "progress": 100}


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers from a list of status codes."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.answers = list(answers or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    code = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append((dict(self.headers), body))
                    receiver.arrived.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tryon?token=abc"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[dict[str, str], bytes]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture()
def sender() -> Iterator[WebhookSender]:
    webhook_sender = WebhookSender(SECRET, allow_private=True, attempts=5, backoff_seconds=0.05)
    yield webhook_sender
    webhook_sender.close(timeout=5)


def test_delivery_is_signed_json_that_the_receiver_can_verify(receiver, sender) -> None:
    sender.send(receiver.url, PAYLOAD)

    [(headers, body)] = receiver.wait_for(1)
    assert json.loads(body) == PAYLOAD
    assert headers["Content-Type"] == "application/json"
    assert headers[SIGNATURE_HEADER] == f"sha256={sign(body, SECRET)}"
    assert verify(body, headers[SIGNATURE_HEADER], SECRET)
    assert not verify(body, headers[SIGNATURE_HEADER], "another secret")
    assert not verify(body + b" ", headers[SIGNATURE_HEADER], SECRET)
    assert headers["X-Tryon-Job-Id"] == PAYLOAD["job_id"]


def test_sign_is_hmac_sha256_hex() -> None:
    # RFC 4231 test case 2.
    assert sign(b"what do ya want for nothing?", "Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_two_server_errors_are_retried_with_backoff_then_delivered(caplog) -> None:
    receiver = Receiver(answers=[500, 503])
    sender = WebhookSender(SECRET, allow_private=True, attempts=5, backoff_seconds=0.1)
    try:
        with caplog.at_level(logging.INFO, logger="tryon.webhooks"):
            started = time.monotonic()
            sender.send(receiver.url, PAYLOAD)
            assert time.monotonic() - started < 0.05, "send() must not wait for the delivery"
            requests = receiver.wait_for(3)
            sender.close(timeout=5)
        assert len(requests) == 3
        assert requests[0][1] == requests[2][1]  # the same body, so the same signature
        assert time.monotonic() - started >= 0.1 + 0.2  # backoff 0.1 s, then 0.2 s
        delivered = [r.getMessage() for r in caplog.records if "delivered" in r.getMessage()]
        assert delivered and PAYLOAD["job_id"] in delivered[0] and "attempt 3" in delivered[0]
        assert "token=abc" not in caplog.text  # the query (it may hold a token) stays out of logs
    finally:
        receiver.close()


def test_a_4xx_answer_is_not_retried_and_attempts_are_bounded(caplog) -> None:
    refusing, failing = Receiver(answers=[410]), Receiver(answers=[500] * 10)
    sender = WebhookSender(SECRET, allow_private=True, attempts=3, backoff_seconds=0.01)
    try:
        with caplog.at_level(logging.INFO, logger="tryon.webhooks"):
            sender.send(refusing.url, PAYLOAD)
            sender.send(failing.url, PAYLOAD)
            sender.close(timeout=5)
        assert len(refusing.requests) == 1
        assert len(failing.requests) == 3
        assert "given up after 3 attempts" in caplog.text
    finally:
        refusing.close()
        failing.close()


def test_loopback_receiver_is_refused_unless_private_addresses_are_allowed(receiver, caplog) -> None:
    with pytest.raises(WebhookURLRefused, match="loopback"):
        check_webhook_url(receiver.url, allow_private=False)
    check_webhook_url(receiver.url, allow_private=True)

    strict = WebhookSender(SECRET, allow_private=False, backoff_seconds=0.01)
    with caplog.at_level(logging.INFO, logger="tryon.webhooks"):
        strict.send(receiver.url, PAYLOAD)
        strict.close(timeout=5)
    assert receiver.requests == []
    assert "not sent" in caplog.text and PAYLOAD["job_id"] in caplog.text


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://[::ffff:192.168.1.1]/hook", "private"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://example.com/", "http or https"),
        ("http:///no-host", "no host"),
    ],
)
def test_unsafe_urls_are_refused_with_a_readable_reason(url: str, reason: str) -> None:
    with pytest.raises(WebhookURLRefused, match=reason) as refused:
        check_webhook_url(url, allow_private=False)
    assert isinstance(refused.value, ValueError)


def test_allow_private_still_requires_http() -> None:
    with pytest.raises(WebhookURLRefused, match="http or https"):
        check_webhook_url("file:///etc/passwd", allow_private=True)


def test_a_public_address_is_accepted_without_contacting_it() -> None:
    check_webhook_url("https://93.184.215.14:8443/hook", allow_private=False)


# --- Through the service: the form field, the delivery at the job's end, the refusal at submission ---


@pytest.fixture(scope="module")
def webhook_service(tmp_path_factory: pytest.TempPathFactory):
    from .e2e.served import ServedService

    served = ServedService(
        tmp_path_factory.mktemp("webhook-served"),
        TRYON_WEBHOOK_SECRET=SECRET,
        TRYON_WEBHOOK_ALLOW_PRIVATE="true",  # the receiver is on loopback
    ).start()
    yield served
    served.stop()


def test_service_posts_the_final_poll_json_signed_when_the_job_ends(
    webhook_service, receiver, data_dir
) -> None:
    from tryon.client import TryOnClient

    with TryOnClient(webhook_service.url) as client:
        job_id = client.submit(
            data_dir / "persons" / "studio_man_hoodie.png",
            data_dir / "garments" / "shirt_oxford_blue.jpg",
            webhook_url=receiver.url,
        )
        final = client.wait(job_id, poll_seconds=0.1, timeout=120)

    [(headers, body)] = receiver.wait_for(1, timeout=30)
    assert verify(body, headers[SIGNATURE_HEADER], SECRET)
    assert json.loads(body) == final  # byte for byte what a poll returns, result included


def test_service_refuses_a_webhook_url_it_will_not_call_before_queueing(webhook_service, data_dir) -> None:
    from tryon.client import TryOnClient, TryOnFailed

    with TryOnClient(webhook_service.url) as client, pytest.raises(TryOnFailed) as refused:
        client.submit(
            data_dir / "persons" / "studio_man_hoodie.png",
            data_dir / "garments" / "shirt_oxford_blue.jpg",
            webhook_url="file:///etc/passwd",
        )
    assert refused.value.status_code == 400
    assert "http or https" in refused.value.reason
