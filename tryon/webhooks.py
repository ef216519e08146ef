"""Job-end webhooks: signed JSON POSTs, sent in the background, to addresses that are safe to call.

The service POSTs the same JSON a poll of the job would return to the ``webhook_url`` given at
submission, with ``X-Tryon-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes under
``TRYON_WEBHOOK_SECRET``. A receiver checks it like this::

    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Tryon-Signature"])

Webhook URLs are checked when the job is submitted and again just before each send, so a host
name that resolves to an internal address by then is still refused (SSRF). Redirects are not
followed: a redirect could point anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tryon-Signature"
ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048


class WebhookURLRefused(ValueError):
    """A webhook URL the service will not call; the message says why, for the API client to read."""


def sign(body: bytes, secret: str) -> str:
    """HMAC-SHA256 of ``body`` under ``secret``, as lowercase hex (the part after ``sha256=``)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str) -> str:
    """The value of the ``X-Tryon-Signature`` header for ``body``."""
    return f"sha256={sign(body, secret)}"


def verify(body: bytes, header_value: str | None, secret: str) -> bool:
    """Whether ``header_value`` is a valid signature of ``body`` (constant-time comparison)."""
    if not header_value:
        return False
    return hmac.compare_digest(signature_header(body, secret), header_value.strip())


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs the service must not call; raises ``WebhookURLRefused`` with a readable reason.

    Only ``http`` and ``https`` with a host are accepted. Unless ``allow_private`` is set, every
    address the host resolves to (all A and AAAA records) must be a public one: loopback,
    link-local (cloud metadata at 169.254.169.254), private, shared (100.64/10), multicast,
    reserved and unspecified addresses are refused, also inside IPv4-mapped IPv6 addresses.
    """
    if not isinstance(url, str) or not url.strip():
        raise WebhookURLRefused("webhook_url is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookURLRefused(f"webhook_url is longer than {MAX_URL_LENGTH} characters.")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        shown = parts.scheme or "none"
        raise WebhookURLRefused(f"webhook_url must be an http or https URL (its scheme is {shown}).")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as error:  # a port that is not a number, or out of range
        raise WebhookURLRefused(f"webhook_url is not a valid URL ({error}).") from None
    if not host:
        raise WebhookURLRefused("webhook_url has no host name.")
    if allow_private:
        return
    for address in _resolve(host, port or (443 if parts.scheme.lower() == "https" else 80)):
        if kind := _non_public_kind(address):
            where = (
                f"points at {address}" if _is_ip_literal(host) else f"host {host} resolves to {address}"
            )
            raise WebhookURLRefused(
                f"webhook_url {where}, {_article(kind)} {kind} address; webhooks are only sent to public "
                "addresses (an operator can allow private ones with TRYON_WEBHOOK_ALLOW_PRIVATE)."
            )


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookURLRefused(f"webhook_url host {host} cannot be resolved ({error}).") from None
    addresses = []
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(text))
    if not addresses:
        raise WebhookURLRefused(f"webhook_url host {host} has no address.")
    return addresses


def _non_public_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The kind of non-public address this is, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for kind, matches in checks:
        if matches:
            return kind
    if not address.is_global:  # shared address space (100.64/10), 6to4 relays and the like
        return "non-public"
    return None


class WebhookSender:
    """POSTs job payloads to webhook URLs from a small thread pool; ``send`` never blocks.

    Each delivery is tried up to ``attempts`` times, waiting ``backoff_seconds`` * 2**n between
    tries, on connection errors, timeouts, HTTP 429 and 5xx. Any other answer ends it. Every
    outcome is logged with the job id (from ``payload["job_id"]``).
    """

    def __init__(
        self,
        secret: str | None,
        *,
        allow_private: bool,
        attempts: int = 5,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 10,
        max_workers: int = 4,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        if not secret:
            log.warning("TRYON_WEBHOOK_SECRET is not set: webhooks are sent without a signature")
        self._secret = secret
        self.allow_private = allow_private
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tryon-webhook")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._abort = threading.Event()

    def check(self, url: str) -> None:
        """``check_webhook_url`` with this sender's policy: call it when a job is submitted."""
        check_webhook_url(url, allow_private=self.allow_private)

    def send(self, url: str, payload: dict) -> None:
        """Queue one delivery of ``payload`` as JSON to ``url`` and return at once."""
        if self._closed.is_set():
            log.warning("job %s: webhook not sent, the sender is shut down", payload.get("job_id"))
            return
        future = self._pool.submit(self._deliver_logged, url, payload)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def close(self, timeout: float | None = 30) -> None:
        """Stop taking deliveries; give those under way (retries included) up to ``timeout`` seconds."""
        self._closed.set()
        with self._lock:
            pending = list(self._pending)
        deadline = None if timeout is None else time.monotonic() + timeout
        for future in pending:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=remaining)
            except Exception:
                pass
        self._abort.set()  # deliveries still waiting to retry give up now
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver_logged(self, url: str, payload: dict) -> bool:
        try:
            return self._deliver(url, payload)
        except Exception:  # a bug here must not vanish inside a Future nobody reads
            log.exception("job %s: webhook to %s failed unexpectedly", payload.get("job_id"), _redacted(url))
            return False

    def _deliver(self, url: str, payload: dict) -> bool:
        """Runs in the pool. True when the receiver answered 2xx."""
        job_id = payload.get("job_id")
        target = _redacted(url)
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "tryon-webhook/1"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature_header(body, self._secret)
        if job_id:
            headers["X-Tryon-Job-Id"] = str(job_id)
        for attempt in range(1, self.attempts + 1):
            try:
                check_webhook_url(url, allow_private=self.allow_private)  # DNS may have changed
            except WebhookURLRefused as error:
                log.warning("job %s: webhook to %s not sent: %s", job_id, target, error)
                return False
            try:
                response = requests.post(
                    url, data=body, headers=headers, timeout=self.timeout_seconds, allow_redirects=False
                )
            except requests.RequestException as error:
                problem = f"{type(error).__name__}"
            else:
                if 200 <= response.status_code < 300:
                    log.info(
                        "job %s: webhook delivered to %s (HTTP %d, attempt %d)",
                        job_id, target, response.status_code, attempt,
                    )
                    return True
                if response.status_code != 429 and response.status_code < 500:
                    log.warning(
                        "job %s: webhook to %s refused with HTTP %d; not retried",
                        job_id, target, response.status_code,
                    )
                    return False
                problem = f"HTTP {response.status_code}"
            if attempt == self.attempts or self._abort.is_set():
                break
            delay = self.backoff_seconds * 2 ** (attempt - 1)
            log.info(
                "job %s: webhook to %s failed (%s, attempt %d of %d); retrying in %.1fs",
                job_id, target, problem, attempt, self.attempts, delay,
            )
            if self._abort.wait(delay):
                break
        log.warning(
            "job %s: webhook to %s given up after %d attempts (last: %s)", job_id, target, attempt, problem
        )
        return False


def _redacted(url: str) -> str:
    """The URL without credentials, query or fragment (they may hold tokens): for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
