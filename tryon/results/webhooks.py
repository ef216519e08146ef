"""Job-end webhooks: signed JSON POSTs, sent in the background, to addresses that are safe to call.

The service POSTs the same JSON a poll of the job would return to the ``webhook_url`` given at
submission, with ``X-Tryon-Signature: t=<unix seconds>,v1=<hex>``: HMAC-SHA256 under
``TRYON_WEBHOOK_SECRET`` of the timestamp, a dot, and the exact body bytes (Stripe's scheme). The
timestamp is signed with the body, so a receiver that refuses old ones (``verify`` allows five
minutes) cannot be fed a captured delivery again later. docs/security.md shows a receiver's check.

Webhook URLs are checked when the job is submitted and again just before each send (SSRF): the
URL is read with the sending client's own parser, its host resolved once per attempt, every
address checked, and the connection made to a checked address, never to a second DNS answer.
TLS still verifies the certificate against the URL's host name (and sends it as SNI). Redirects
are not followed: a redirect could point anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Tryon-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048

_PRINTABLE_ASCII = re.compile(r"[!-\[\]-~]+")  # visible ASCII except the backslash
_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
# Not globally reachable (IANA special-purpose registries), but ``is_global`` before Python
# 3.11.10 / 3.12.4 says they are (CPython gh-113171), or still does (3fff::/20, documentation,
# RFC 9637).
_NOT_GLOBAL = tuple(ipaddress.ip_network(net) for net in ("192.0.0.0/24", "64:ff9b:1::/48", "3fff::/20"))
# The only IPv6 space that can reach a receiver (IANA IPv6 address space registry): global unicast
# 2000::/3, plus the forms that carry an IPv4 address checked on its own (IPv4-mapped, and NAT64's
# well-known prefix). Everything else (``::/8`` reserved forms like ::2:7f00:1 or the
# SIIT-translated ::ffff:0:a.b.c.d, IPv4-compatible, site-local fec0::/10, 5f00::/16, ...) is
# refused, whatever ``is_global`` says of it.
_IPV6_REACHABLE = tuple(ipaddress.ip_network(net) for net in ("2000::/3", "::ffff:0:0/96", "64:ff9b::/96"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the low 32 bits are an IPv4 address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]


class WebhookURLRefused(ValueError):
    """A webhook URL the service will not call; the message says why, for the API client to read."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL: exactly what the sender connects to.

    ``url`` is the client's own parse of the URL, ``host`` and ``port`` the authority it names, and
    ``addresses`` what ``host`` resolved to when it was checked: the connection goes to one of them
    and to nothing else, so a name cannot be re-pointed at an internal address between the check
    and the connection (DNS rebinding).
    """

    url: yarl.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def shown(self) -> str:
        """The URL without query or fragment (they may hold tokens): for logs."""
        return str(self.url.with_query(None).with_fragment(None))


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


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address (A and AAAA records) the system resolver gives for ``host``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookURLRefused(f"webhook_url host {host} cannot be resolved ({error}).") from None
    return [ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]) for *_, sockaddr in infos]


def check_webhook_url(url: str, *, allow_private: bool, resolve: Resolver = resolve_host) -> WebhookTarget:
    """The target ``url`` names, if the service may call it; else ``WebhookURLRefused`` says why.

    The URL is read with the sending client's own parser (yarl, aiohttp's), and what URL parsers
    are known to read differently is refused: backslashes, user-info (``user@``), spaces, control
    and non-ASCII characters, and numeric hosts that are not a plain dotted-quad IPv4 or bracketed
    IPv6 address (``2130706433``, ``0177.0.0.1``, ``0x7f.1``). Unless ``allow_private`` is set,
    every address the host resolves to must be one the service may contact (``_refusal``).
    """
    parsed = _parse(url)
    host, port = _authority(parsed)
    literal = _ip_literal(host)
    addresses = (literal,) if literal is not None else tuple(resolve(host, port))
    if not addresses:
        raise WebhookURLRefused(f"webhook_url host {host} has no address.")
    if not allow_private:
        for address in addresses:
            if reason := _refusal(address):
                where = f"points at {address}" if literal is not None else f"host {host} resolves to {address}"
                raise WebhookURLRefused(
                    f"webhook_url {where}, {reason}; webhooks are only sent to public addresses (an "
                    "operator can allow private ones with TRYON_WEBHOOK_ALLOW_PRIVATE)."
                )
    return WebhookTarget(url=parsed, host=host, port=port, addresses=addresses)


def _parse(url: str) -> yarl.URL:
    if not isinstance(url, str) or not url.strip():
        raise WebhookURLRefused("webhook_url is empty.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookURLRefused(f"webhook_url is longer than {MAX_URL_LENGTH} characters.")
    scheme = url.split(":", 1)[0].lower() if ":" in url else "none"
    if scheme not in ALLOWED_SCHEMES:
        raise WebhookURLRefused(f"webhook_url must be an http or https URL (its scheme is {scheme}).")
    if not _PRINTABLE_ASCII.fullmatch(url):
        raise WebhookURLRefused(
            "webhook_url may hold only visible ASCII characters, no spaces or backslashes (write an "
            "international host name in its xn-- form and percent-encode the rest)."
        )
    try:
        return yarl.URL(url)
    except ValueError as error:
        raise WebhookURLRefused(f"webhook_url is not a valid URL ({error}).") from None


def _authority(parsed: yarl.URL) -> tuple[str, int]:
    """(host, port) of the URL; the host in lowercase, an IPv6 address without its brackets."""
    if "@" in (parsed.raw_authority or ""):
        raise WebhookURLRefused("webhook_url must not carry a user name or password (user@host).")
    host = (parsed.raw_host or "").lower()
    if not host:
        raise WebhookURLRefused("webhook_url has no host name.")
    if _ip_literal(host) is None and not _is_host_name(host):
        raise WebhookURLRefused(
            f"webhook_url host {host} is neither a host name nor an IP address written plainly "
            "(dotted-quad IPv4, or IPv6 in brackets)."
        )
    try:
        port = parsed.port
    except ValueError as error:
        raise WebhookURLRefused(f"webhook_url is not a valid URL ({error}).") from None
    if port is None or not 0 < port < 65536:
        raise WebhookURLRefused(f"webhook_url has an invalid port ({port}).")
    return host, port


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_host_name(host: str) -> bool:
    """Dot-separated labels of letters, digits and hyphens, the last one not a number (URL parsers
    read ``2130706433`` or ``0x7f.1`` as IPv4 addresses)."""
    labels = host.removesuffix(".").split(".")
    return (
        len(host) <= 253
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
        and not _NUMERIC_LABEL.fullmatch(labels[-1])
    )


def _refusal(address: IPAddress) -> str | None:
    """Why the service must not contact ``address`` (e.g. "a loopback address"), or None if it may.

    It may when the address is globally reachable unicast (``is_global``, an IPv6 one inside
    ``_IPV6_REACHABLE`` too), and so is every IPv4 address embedded in it (IPv4-mapped, 6to4,
    Teredo, NAT64): the 6to4 or NAT64 form of 127.0.0.1 is global by its prefix, and a relay would
    deliver it to a loopback address.
    """
    if address.version == 6 and not any(address in network for network in _IPV6_REACHABLE):
        return _described(address)
    for part in (*_embedded_ipv4(address), address):
        if part.is_multicast or not part.is_global or any(part in network for network in _NOT_GLOBAL):
            carried = "" if part is address else f"which carries {part}, "
            return carried + _described(part)
    return None


def _described(address: IPAddress) -> str:
    """"a multicast address", "a loopback address", "an unspecified address", ..."""
    if address.is_multicast:
        return "a multicast address"
    kind = _kind(address)
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} address"


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    if address.version == 4:
        return []
    embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [part for part in embedded if part is not None]


def _kind(address: IPAddress) -> str:
    for kind in ("unspecified", "loopback", "link-local", "site-local", "private", "reserved"):
        if getattr(address, f"is_{kind.replace('-', '_')}", False):
            return kind
    return "non-public"  # shared address space (100.64/10), benchmarking, documentation and the like


class _PinnedResolver(AbstractResolver):
    """aiohttp's name lookup, answered with the addresses a ``WebhookTarget`` was checked with."""

    def __init__(self, target: WebhookTarget) -> None:
        self._target = target

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        if host.rstrip(".").lower() != self._target.host.rstrip("."):
            raise OSError(f"{host} is not the checked webhook host {self._target.host}")
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=self._target.port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self._target.addresses
        ]

    async def close(self) -> None:
        pass


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

    def check(self, url: str) -> WebhookTarget:
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
            except WebhookURLRefused as error:
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

    async def _post(self, target: WebhookTarget, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` to ``target``, connecting only to its checked addresses; the HTTP status.

        The whole attempt (connecting, sending, the status line and headers) has one deadline,
        ``timeout_seconds``, so a receiver that drips its answer cannot hold on longer. The body of
        the answer is never read: the connection is closed after the headers (aiohttp's parser
        bounds those), so a receiver's answer costs at most a socket buffer of memory.
        """
        connector = aiohttp.TCPConnector(
            resolver=_PinnedResolver(target), ssl=self._ssl_context, use_dns_cache=False, force_close=True
        )
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=False, auto_decompress=False
        ) as session:
            async with session.post(target.url, data=body, headers=headers, allow_redirects=False) as response:
                return response.status
