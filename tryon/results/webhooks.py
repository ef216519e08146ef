"""Job-end webhooks: signed JSON POSTs, sent in the background, to addresses that are safe to call.

The service POSTs the same JSON a poll of the job would return to the ``webhook_url`` given at
submission, with ``X-Tryon-Signature: t=<unix seconds>,v1=<hex>``: HMAC-SHA256 under
``TRYON_WEBHOOK_SECRET`` of the timestamp, a dot, and the exact body bytes (Stripe's scheme). The
timestamp is signed with the body, so a receiver that refuses old ones (``verify`` allows five
minutes) cannot be fed a captured delivery again later. docs/security.md shows a receiver's check.

Webhook URLs are checked when the job is submitted and again just before each send, by the SSRF
guard of ``tryon.guarded_http`` (its host resolved once per attempt, the connection pinned to a
checked address). Redirects are not followed: a redirect could point anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import ssl
import threading
import time
from concurrent.futures import Future, wait

import aiohttp

from ..guarded_http import Guard, Resolver, Target, URLRefused, check_url, pinned_session, resolve_host

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tryon-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
ALLOW_PRIVATE_SETTING = "TRYON_WEBHOOK_ALLOW_PRIVATE"


def sign(message: bytes, secret: str) -> str:
    """HMAC-SHA256 of ``message`` under ``secret``, as lowercase hex."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Tryon-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds):
    ``t=<timestamp>,v1=<HMAC-SHA256 hex of b"<timestamp>." + body>``."""
    return f"t={timestamp},v1={sign(f'{timestamp}.'.encode() + body, secret)}"


def verify(
    body: bytes,
    header_value: str | None,
    secret: str,
    *,
    tolerance_seconds: float = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header_value`` signs ``body`` under ``secret`` with a timestamp no further than
    ``tolerance_seconds`` from ``now`` (a replayed old delivery fails). Constant-time comparison."""
    fields: dict[str, list[str]] = {}
    for part in (header_value or "").split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    timestamp = (fields.get("t") or [""])[0]
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign(f"{timestamp}.".encode() + body, secret)
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))


def check_webhook_url(url: str, *, allow_private: bool, resolve: Resolver = resolve_host) -> Target:
    """The target ``url`` names, if the service may POST to it; else ``URLRefused`` says why
    (``tryon.guarded_http.check_url`` for the ``webhook_url`` field)."""
    return check_url(url, Guard("webhook_url", allow_private, ALLOW_PRIVATE_SETTING), resolve=resolve)


class WebhookSender:
    """POSTs job payloads to webhook URLs from a background event loop; ``send`` never blocks.

    Deliveries run concurrently on that loop, each costing a socket and no thread while it waits,
    so a slow receiver delays only its own deliveries; every attempt ends within
    ``timeout_seconds`` (the host's lookup included).

    Each delivery is tried up to ``attempts`` times, waiting ``backoff_seconds`` * 2**n between
    tries, on connection errors, timeouts, HTTP 429 and 5xx. Any other answer ends it. Every
    outcome is logged with the job id (from ``payload["job_id"]``). ``resolve`` and
    ``ssl_context`` are the system's unless given (tests give their own).
    """

    def __init__(
        self,
        secret: str | None,
        *,
        allow_private: bool,
        attempts: int = 5,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 10,
        resolve: Resolver = resolve_host,
        ssl_context: ssl.SSLContext | None = None,
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
        self._resolve = resolve
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._pending: set[Future] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tryon-webhooks", daemon=True)
        self._thread.start()

    def check(self, url: str) -> Target:
        """``check_webhook_url`` with this sender's policy: call it when a job is submitted."""
        return check_webhook_url(url, allow_private=self.allow_private, resolve=self._resolve)

    def send(self, url: str, payload: dict) -> None:
        """Queue one delivery of ``payload`` as JSON to ``url`` and return at once."""
        if self._closed.is_set():
            log.warning("job %s: webhook not sent, the sender is shut down", payload.get("job_id"))
            return
        future = asyncio.run_coroutine_threadsafe(self._deliver_logged(url, payload), self._loop)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def close(self, timeout: float | None = 30) -> None:
        """Stop taking deliveries; give those under way (retries included) up to ``timeout`` seconds."""
        self._closed.set()
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)
        wait([asyncio.run_coroutine_threadsafe(self._cancel_deliveries(), self._loop)], timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _cancel_deliveries(self) -> None:
        """Deliveries still under way or waiting to retry give up now (each logs it)."""
        deliveries = asyncio.all_tasks() - {asyncio.current_task()}
        for delivery in deliveries:
            delivery.cancel()
        await asyncio.gather(*deliveries, return_exceptions=True)
        await self._loop.shutdown_default_executor()

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    async def _deliver_logged(self, url: str, payload: dict) -> bool:
        try:
            return await self._deliver(url, payload)
        except asyncio.CancelledError:
            log.warning("job %s: webhook given up, the sender shut down", payload.get("job_id"))
            raise
        except Exception:  # a bug here must not vanish inside a Future nobody reads
            log.exception("job %s: webhook failed unexpectedly", payload.get("job_id"))
            return False

    async def _deliver(self, url: str, payload: dict) -> bool:
        """True when the receiver answered 2xx."""
        job_id = payload.get("job_id")
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "tryon-webhook/1"}
        if job_id:
            headers["X-Tryon-Job-Id"] = str(job_id)
        for attempt in range(1, self.attempts + 1):
            try:
                target = await asyncio.wait_for(asyncio.to_thread(self.check, url), self.timeout_seconds)
            except asyncio.TimeoutError:
                log.warning("job %s: webhook not sent: its host name did not resolve in time", job_id)
                return False
            except URLRefused as error:
                log.warning("job %s: webhook not sent: %s", job_id, error)
                return False
            if self._secret:  # signed at each attempt: a retry carries its own, current timestamp
                headers[SIGNATURE_HEADER] = signature_header(body, self._secret, int(time.time()))
            try:
                status = await self._post(target, body, headers)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                problem = type(error).__name__
            else:
                if 200 <= status < 300:
                    log.info(
                        "job %s: webhook delivered to %s (HTTP %d, attempt %d)",
                        job_id, target.shown, status, attempt,
                    )
                    return True
                if status != 429 and status < 500:
                    log.warning(
                        "job %s: webhook to %s refused with HTTP %d; not retried", job_id, target.shown, status
                    )
                    return False
                problem = f"HTTP {status}"
            if attempt == self.attempts:
                break
            delay = self.backoff_seconds * 2 ** (attempt - 1)
            log.info(
                "job %s: webhook to %s failed (%s, attempt %d of %d); retrying in %.1fs",
                job_id, target.shown, problem, attempt, self.attempts, delay,
            )
            await asyncio.sleep(delay)
        log.warning(
            "job %s: webhook to %s given up after %d attempts (last: %s)",
            job_id, target.shown, attempt, problem,
        )
        return False

    async def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` to ``target``, connecting only to its checked addresses; the HTTP status.

        The whole attempt (connecting, sending, the status line and headers) has one deadline,
        ``timeout_seconds``, so a receiver that drips its answer cannot hold on longer. The body of
        the answer is never read: the connection is closed after the headers (aiohttp's parser
        bounds those), so a receiver's answer costs at most a socket buffer of memory.
        """
        async with pinned_session(
            target, timeout_seconds=self.timeout_seconds, ssl_context=self._ssl_context
        ) as session:
            async with session.post(target.url, data=body, headers=headers, allow_redirects=False) as response:
                return response.status
