"""Webhooks against a real HTTP receiver on loopback: signature, retries, SSRF refusals.

No traffic leaves this machine: private and link-local addresses are refused before any connection.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.served import WEBHOOK_SECRET
from tryon.guarded_http import URLRefused
from tryon.results.webhooks import (
    SIGNATURE_HEADER,
    WebhookSender,
    check_webhook_url,
    sign,
    signature_header,
    verify,
)

SECRET = WEBHOOK_SECRET  # the secret of the shared server (tests/conftest.py `service`)
PAYLOAD = {"job_id": "0b6c3c9e-2f7e-4a53-9d1e-5c1f0d6a9b11", "status": "completed", "progress": 100}


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers from a list of status codes.

    With ``tls`` (an ``ssl.SSLContext``) it serves HTTPS and records the SNI name each client sent.
    """

    def __init__(self, answers: list[int] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.answers = list(answers or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.server_names: list[str | None] = []
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
        self.port = self.server.server_address[1]
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"http://127.0.0.1:{self.port}/hooks/tryon?token=abc"
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
    timestamp, signature = headers[SIGNATURE_HEADER].split(",")
    assert abs(int(timestamp.removeprefix("t=")) - time.time()) < 5
    assert signature == f"v1={sign(timestamp.removeprefix('t=').encode() + b'.' + body, SECRET)}"
    assert verify(body, headers[SIGNATURE_HEADER], SECRET)
    assert not verify(body, headers[SIGNATURE_HEADER], "another secret")
    assert not verify(body + b" ", headers[SIGNATURE_HEADER], SECRET)
    assert headers["X-Tryon-Job-Id"] == PAYLOAD["job_id"]


def test_a_captured_delivery_cannot_be_replayed_later() -> None:
    body, sent_at = b'{"job_id":"x","status":"completed"}', 1_800_000_000
    header = signature_header(body, SECRET, sent_at)

    assert verify(body, header, SECRET, now=sent_at + 299)
    assert not verify(body, header, SECRET, now=sent_at + 301)  # replayed after the tolerance
    assert not verify(body, header, SECRET, now=sent_at - 301)
    # The timestamp is signed: moving it forward breaks the signature.
    forged = header.replace(f"t={sent_at}", f"t={sent_at + 3600}")
    assert not verify(body, forged, SECRET, now=sent_at + 3600)
    for malformed in (None, "", "v1=abc", f"t=soon,{header.split(',')[1]}", f"sha256={sign(body, SECRET)}"):
        assert not verify(body, malformed, SECRET, now=sent_at)


def test_each_retry_is_signed_with_its_own_timestamp() -> None:
    receiver = Receiver(answers=[500])
    sender = WebhookSender(SECRET, allow_private=True, attempts=2, backoff_seconds=1.05)
    try:
        sender.send(receiver.url, PAYLOAD)
        (first, body), (second, _) = receiver.wait_for(2)
        sender.close(timeout=5)
    finally:
        receiver.close()
    sent_at = [int(headers[SIGNATURE_HEADER].split(",")[0].removeprefix("t=")) for headers in (first, second)]
    assert sent_at[1] > sent_at[0]
    assert verify(body, first[SIGNATURE_HEADER], SECRET) and verify(body, second[SIGNATURE_HEADER], SECRET)


def test_sign_is_hmac_sha256_hex() -> None:
    # RFC 4231 test case 2.
    assert sign(b"what do ya want for nothing?", "Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_two_server_errors_are_retried_with_backoff_then_delivered(caplog) -> None:
    receiver = Receiver(answers=[500, 503])
    sender = WebhookSender(SECRET, allow_private=True, attempts=5, backoff_seconds=0.1)
    try:
        with caplog.at_level(logging.INFO, logger="tryon.results.webhooks"):
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
        with caplog.at_level(logging.INFO, logger="tryon.results.webhooks"):
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
    with pytest.raises(URLRefused, match="loopback"):
        check_webhook_url(receiver.url, allow_private=False)
    check_webhook_url(receiver.url, allow_private=True)

    strict = WebhookSender(SECRET, allow_private=False, backoff_seconds=0.01)
    with caplog.at_level(logging.INFO, logger="tryon.results.webhooks"):
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
    with pytest.raises(URLRefused, match=reason) as refused:
        check_webhook_url(url, allow_private=False)
    assert isinstance(refused.value, ValueError)


def test_allow_private_still_requires_http() -> None:
    with pytest.raises(URLRefused, match="http or https"):
        check_webhook_url("file:///etc/passwd", allow_private=True)


def test_a_public_address_is_accepted_without_contacting_it() -> None:
    check_webhook_url("https://93.184.215.14:8443/hook", allow_private=False)


# --- SSRF: what the check reads must be what the client connects to, and only public addresses ---


def no_dns(host: str, port: int) -> list:
    raise AssertionError(f"{host} must be refused before any name lookup")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # Parser differentials: a checker reading the host after "@" while the client stops at "\\".
        ("http://127.0.0.1:8099\\@8.8.8.8/x", "backslash"),
        ("http://localhost:8099\\@8.8.8.8/x", "backslash"),
        ("http://8.8.8.8\\@127.0.0.1/x", "backslash"),
        ("http://127.0.0.1:8099@8.8.8.8/x", "user name or password"),
        ("http://user:pass@8.8.8.8/x", "user name or password"),
        ("http://8.8.8.8 @127.0.0.1/x", "visible ASCII"),
        ("http://8.8.8.8\t/x", "visible ASCII"),
        ("http://bücher.example/x", "visible ASCII"),
        ("http://ex%61mple.com/x", "neither a host name"),
        # Numeric host forms that URL parsers and inet_aton read as 127.0.0.1.
        ("http://2130706433/x", "neither a host name"),
        ("http://0177.0.0.1/x", "neither a host name"),
        ("http://0x7f.1/x", "neither a host name"),
        ("http://127.1/x", "neither a host name"),
        ("http://0/x", "neither a host name"),
        # Addresses that are not globally reachable, whatever their prefix says.
        ("http://192.0.0.8/x", "non-public"),
        ("http://100.64.0.1/x", "non-public"),
        ("http://0.0.0.0/x", "unspecified"),
        ("http://[::]/x", "unspecified"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://[::ffff:169.254.169.254]/x", "link-local"),
        ("http://[2002:7f00:1::]/x", "carries 127.0.0.1, a loopback"),
        ("http://[2002:a9fe:a9fe::1]/x", "carries 169.254.169.254, a link-local"),
        ("http://[64:ff9b::7f00:1]/x", "carries 127.0.0.1, a loopback"),
        ("http://[64:ff9b::a00:1]/x", "carries 10.0.0.1, a private"),
        ("http://[64:ff9b:1::808:808]/x", "reserved"),  # local-use NAT64
        ("http://[::127.0.0.1]/x", "reserved"),  # IPv4-compatible (deprecated)
        # Outside global unicast 2000::/3 though Python's is_global says True (IANA registries).
        ("http://[fec0::1]/x", "site-local"),
        ("http://[::2:7f00:1]/x", "reserved"),  # ::/8, reserved by the IETF
        ("http://[::ffff:0:7f00:1]/x", "reserved"),  # SIIT-translated 127.0.0.1 (::ffff:0:0:0/96)
        ("http://[::ffff:0:808:808]/x", "reserved"),  # SIIT-translated, even of a public address
        ("http://[5f00::1]/x", "reserved"),  # SRv6 segment identifiers (RFC 9602)
        ("http://[3fff::1]/x", "non-public"),  # documentation (RFC 9637)
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", "private"),
        ("http://[fe80::1%25eth0]/x", "link-local"),
        ("http://[fd00::1]/x", "private"),
        ("http://[ff0e::1]/x", "multicast"),
    ],
)
def test_ssrf_forms_are_refused_before_any_lookup(url: str, reason: str) -> None:
    with pytest.raises(URLRefused, match=reason):
        check_webhook_url(url, allow_private=False, resolve=no_dns)


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://93.184.215.14:8443/hook", "93.184.215.14", 8443),
        ("http://[2606:4700::1111]/hook", "2606:4700::1111", 80),
        ("http://[64:ff9b::808:808]/hook", "64:ff9b::808:808", 80),  # NAT64 of 8.8.8.8
        ("HTTPS://8.8.8.8/Hook?token=a@b", "8.8.8.8", 443),  # "@" in the query is no user-info
    ],
)
def test_public_literal_addresses_are_the_target_as_the_client_reads_it(url: str, host: str, port: int) -> None:
    target = check_webhook_url(url, allow_private=False, resolve=no_dns)

    assert (target.host, target.port) == (host, port)
    assert target.addresses == (ipaddress.ip_address(host),)
    assert (target.url.raw_host, target.url.port) == (host, port)  # what aiohttp connects to


def test_every_resolved_address_must_be_public() -> None:
    answers = {"hooks.example.test": ["93.184.215.14", "2606:4700::1111"], "mixed.example.test": ["8.8.8.8", "10.1.2.3"]}

    def resolve(host: str, port: int) -> list:
        return [ipaddress.ip_address(address) for address in answers[host]]

    target = check_webhook_url("https://hooks.example.test/hook", allow_private=False, resolve=resolve)
    assert target.addresses == tuple(resolve("hooks.example.test", 443))
    with pytest.raises(URLRefused, match="host mixed.example.test resolves to 10.1.2.3, a private"):
        check_webhook_url("https://mixed.example.test/hook", allow_private=False, resolve=resolve)


def test_the_backslash_bypass_does_not_reach_a_loopback_receiver(receiver, caplog) -> None:
    """The reported bypass: the check read 8.8.8.8, the client connected to 127.0.0.1."""
    strict = WebhookSender(SECRET, allow_private=False, attempts=1)
    with caplog.at_level(logging.INFO, logger="tryon.results.webhooks"):
        strict.send(f"http://127.0.0.1:{receiver.port}\\@8.8.8.8/x", PAYLOAD)
        strict.send(f"http://localhost:{receiver.port}\\@8.8.8.8/x", PAYLOAD)
        strict.close(timeout=5)

    assert receiver.requests == []
    assert caplog.text.count("not sent") == 2


class CountingResolver:
    """A fake DNS: fixed answers per name, and a count of the lookups."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list:
        self.lookups.append(host)
        return [ipaddress.ip_address(self.answers[host])]


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(receiver) -> None:
    # receiver.test has no address in the system's DNS (.test is reserved): the delivery arrives
    # only if the client connects to what the check resolved, and the name is looked up once.
    resolver = CountingResolver({"receiver.test": "127.0.0.1"})
    sender = WebhookSender(SECRET, allow_private=True, attempts=1, resolve=resolver)
    sender.send(f"http://receiver.test:{receiver.port}/hook", PAYLOAD)
    [(headers, body)] = receiver.wait_for(1)
    sender.close(timeout=5)

    assert json.loads(body) == PAYLOAD
    assert headers["Host"] == f"receiver.test:{receiver.port}"
    assert resolver.lookups == ["receiver.test"]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Self-signed certificates for receiver.test and other.test (openssl)."""
    folder = tmp_path_factory.mktemp("certificates")
    for name in ("receiver.test", "other.test"):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
             "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(folder / f"{name}.key"),
             "-out", str(folder / f"{name}.pem")],
            check=True, capture_output=True,
        )
    return folder


def tls_receiver(certificates: Path, name: str) -> Receiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / f"{name}.pem", certificates / f"{name}.key")
    return Receiver(tls=context)


def test_https_to_a_pinned_address_still_verifies_the_host_name_and_sends_it_as_sni(certificates) -> None:
    trusted = ssl.create_default_context()
    for name in ("receiver.test", "other.test"):
        trusted.load_verify_locations(certificates / f"{name}.pem")
    resolver = CountingResolver({"receiver.test": "127.0.0.1"})
    genuine, impostor = tls_receiver(certificates, "receiver.test"), tls_receiver(certificates, "other.test")
    sender = WebhookSender(SECRET, allow_private=True, attempts=1, resolve=resolver, ssl_context=trusted)
    try:
        sender.send(f"https://receiver.test:{genuine.port}/hook", PAYLOAD)
        sender.send(f"https://receiver.test:{impostor.port}/hook", PAYLOAD)  # a certificate for another name
        genuine.wait_for(1)
        sender.close(timeout=5)

        assert len(genuine.requests) == 1 and genuine.server_names == ["receiver.test"]
        assert impostor.requests == []
    finally:
        genuine.close()
        impostor.close()


# --- Through the service: the form field, the delivery at the job's end, the refusal at submission ---


@pytest.fixture(scope="module")
def webhook_service(service):
    """The suite's shared server, which signs with ``SECRET`` and may call receivers on loopback."""
    assert service.env["TRYON_WEBHOOK_SECRET"] == SECRET and service.env["TRYON_WEBHOOK_ALLOW_PRIVATE"] == "true"
    return service


@pytest.mark.e2e
def test_service_posts_the_final_poll_json_signed_when_the_job_ends(
    webhook_service, receiver, data_dir
) -> None:
    from tryon.clients.api_client import TryOnClient

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


@pytest.mark.e2e
def test_service_refuses_a_webhook_url_it_will_not_call_before_queueing(webhook_service, data_dir) -> None:
    from tryon.clients.api_client import TryOnClient, TryOnFailed

    with TryOnClient(webhook_service.url) as client, pytest.raises(TryOnFailed) as refused:
        client.submit(
            data_dir / "persons" / "studio_man_hoodie.png",
            data_dir / "garments" / "shirt_oxford_blue.jpg",
            webhook_url="file:///etc/passwd",
        )
    assert refused.value.status_code == 400
    assert "http or https" in refused.value.reason


# --- Receivers that misbehave: a huge answer, a dripping answer ---


class RawReceiver:
    """A TCP server on 127.0.0.1 whose ``answer(connection)`` runs for each connection, in its own thread."""

    def __init__(self, answer) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.connections = 0
        self._answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.connections += 1
            threading.Thread(target=self._answer_and_close, args=(connection,), daemon=True).start()

    def _answer_and_close(self, connection: socket.socket) -> None:
        try:
            read_request(connection)
            self._answer(connection)
        except OSError:  # the sender hung up: what these tests want
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self.listener.close()


def read_request(connection: socket.socket) -> bytes:
    """The request's head and a body of the declared length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += connection.recv(65536)
    return head


def test_a_receiver_streaming_a_huge_answer_costs_the_sender_a_socket_buffer(caplog) -> None:
    chunk, sent = b"x" * 65536, []

    def huge_answer(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3000000000\r\n\r\n")
        for _ in range(3_000_000_000 // len(chunk)):
            connection.sendall(chunk)
            sent.append(len(chunk))

    receiver = RawReceiver(huge_answer)
    sender = WebhookSender(SECRET, allow_private=True, attempts=1, timeout_seconds=5)
    try:
        with caplog.at_level(logging.INFO, logger="tryon.results.webhooks"):
            started = time.monotonic()
            sender.send(receiver.url, PAYLOAD)
            sender.close(timeout=10)
            took = time.monotonic() - started
        assert "webhook delivered" in caplog.text and "HTTP 200" in caplog.text
        assert took < 3, f"reading the answer took {took:.1f} s"
        time.sleep(0.2)  # the receiver's last sendall fails once the sender has closed
        assert sum(sent) < 32 * 2**20, f"the sender took {sum(sent) / 2**20:.0f} MB of the answer"
    finally:
        receiver.close()


def test_a_dripping_receiver_is_given_up_at_the_deadline_and_delays_no_other(caplog) -> None:
    stop = threading.Event()

    def drip(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.2):  # one header byte at a time: no single read ever times out
            connection.sendall(b"X")

    slow = [RawReceiver(drip) for _ in range(8)]  # more slow receivers than the old sender had threads
    fast = Receiver()
    sender = WebhookSender(SECRET, allow_private=True, attempts=1, timeout_seconds=2)
    try:
        with caplog.at_level(logging.INFO, logger="tryon.results.webhooks"):
            for receiver in slow:
                sender.send(receiver.url, PAYLOAD)
            time.sleep(0.3)  # every slow receiver holds a delivery now
            started = time.monotonic()
            sender.send(fast.url, PAYLOAD)
            assert fast.wait_for(1, timeout=5), "the fast receiver got nothing"
            assert time.monotonic() - started < 1, "the fast receiver waited for the slow ones"
            sender.close(timeout=5)
            took = time.monotonic() - started
        assert all(receiver.connections == 1 for receiver in slow)
        assert caplog.text.count("given up after 1 attempts (last: ") == 8
        assert took < 3.5, f"the slow deliveries ran {took:.1f} s past a 2 s deadline"
    finally:
        stop.set()
        fast.close()
        for receiver in slow:
            receiver.close()
