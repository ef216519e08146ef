"""Outbound HTTP to addresses a client gave us (SSRF guard): webhook deliveries and photo fetches.

A URL is read with the connecting client's own parser (yarl, aiohttp's), its host resolved once,
every address checked, and the connection made to a checked address, never to a second DNS
answer. TLS still verifies the certificate against the URL's host name (and sends it as SNI).
``fetch`` follows a redirect only to the same host, checking the new URL again.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

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

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
# Name lookups of fetches, off the caller's thread so that a lookup that hangs costs the caller
# no more than its deadline (getaddrinfo cannot be interrupted; the thread finishes it later).
_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tryon-lookup")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]


class URLRefused(ValueError):
    """A URL the service will not call or fetch; the message names the field and says why, for
    the API client to read."""


@dataclass(frozen=True)
class Target:
    """A checked URL: exactly what the client connects to.

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


@dataclass(frozen=True)
class Guard:
    """Which URLs a field may name: ``allow_private`` lets it reach loopback, link-local and private
    addresses; ``setting`` is the operator's switch for that, quoted in refusals."""

    field: str
    allow_private: bool
    setting: str


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address (A and AAAA records) the system resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]) for *_, sockaddr in infos]


def check_url(url: str, guard: Guard, *, resolve: Resolver = resolve_host) -> Target:
    """The target ``url`` names, if the service may contact it; else ``URLRefused`` says why.

    The URL is read with the connecting client's own parser (yarl, aiohttp's), and what URL parsers
    are known to read differently is refused: backslashes, user-info (``user@``), spaces, control
    and non-ASCII characters, and numeric hosts that are not a plain dotted-quad IPv4 or bracketed
    IPv6 address (``2130706433``, ``0177.0.0.1``, ``0x7f.1``). Unless ``guard.allow_private`` is
    set, every address the host resolves to must be one the service may contact (``_refusal``).
    """
    field = guard.field
    parsed = _parse(url, field)
    host, port = _authority(parsed, field)
    literal = _ip_literal(host)
    try:
        addresses = (literal,) if literal is not None else tuple(resolve(host, port))
    except (OSError, UnicodeError) as error:
        raise URLRefused(f"{field} host {host} cannot be resolved ({error}).") from None
    if not addresses:
        raise URLRefused(f"{field} host {host} has no address.")
    if not guard.allow_private:
        for address in addresses:
            if reason := _refusal(address):
                where = f"points at {address}" if literal is not None else f"host {host} resolves to {address}"
                raise URLRefused(
                    f"{field} {where}, {reason}; the service only connects to public addresses (an "
                    f"operator can allow private ones with {guard.setting})."
                )
    return Target(url=parsed, host=host, port=port, addresses=addresses)


@asynccontextmanager
async def pinned_session(
    target: Target, *, timeout_seconds: float, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session that connects only to ``target``'s checked addresses, one connection per
    request, no proxy from the environment, bodies as sent (no decompression), every request
    bounded by ``timeout_seconds`` in all. Callers pass ``allow_redirects=False``."""
    connector = aiohttp.TCPConnector(
        resolver=_PinnedResolver(target),
        ssl=ssl_context or _default_ssl_context(),
        use_dns_cache=False,
        force_close=True,
    )
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=False, auto_decompress=False
    ) as session:
        yield session


@dataclass(frozen=True)
class FetchLimits:
    """How long a fetch may take in all (lookups, redirects and the body included), and how many
    same-host redirects it follows."""

    timeout_seconds: float = 10
    max_redirects: int = 3


def fetch(
    url: str,
    guard: Guard,
    *,
    max_bytes: int,
    limits: FetchLimits = FetchLimits(),
    resolve: Resolver = resolve_host,
    ssl_context: ssl.SSLContext | None = None,
) -> bytes:
    """The body of the HTTP 200 answer to a GET of ``url``, at most ``max_bytes`` (counted as it
    arrives), within ``limits.timeout_seconds``; any failure is ``URLRefused`` naming ``guard.field``.

    Blocking: call it from a worker thread, never from a running event loop.
    """
    field = guard.field
    deadline = time.monotonic() + limits.timeout_seconds
    for _ in range(limits.max_redirects + 1):
        target = check_url(url, guard, resolve=_lookup_before(deadline, resolve, field, limits.timeout_seconds))
        seconds_left = deadline - time.monotonic()
        try:
            answer = asyncio.run(
                asyncio.wait_for(_get(target, field, max_bytes, seconds_left, ssl_context), max(seconds_left, 0))
            )
        except asyncio.TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
            raise URLRefused(f"{field} did not send its photo within {limits.timeout_seconds:g} s.") from None
        except (aiohttp.ClientError, OSError) as error:
            raise URLRefused(f"{field} could not be fetched: {_connection_problem(error)}.") from None
        if isinstance(answer, bytes):
            return answer
        url = _redirected(target, answer, field)
    raise URLRefused(f"{field} redirects more than {limits.max_redirects} times.")


@dataclass(frozen=True)
class _Redirect:
    location: str


async def _get(
    target: Target, field: str, max_bytes: int, seconds: float, ssl_context: ssl.SSLContext | None
) -> bytes | _Redirect:
    """The body of a 200 answer, or where a redirect points; anything else is ``URLRefused``."""
    headers = {
        "User-Agent": "tryon-fetch/1",
        "Accept": "image/jpeg, image/png, image/webp",
        "Accept-Encoding": "identity",  # nothing to decompress: the limit is on what the photo weighs
    }
    too_large = f"{field} sends more than {max_bytes / 2**20:.1f} MB, the limit per photo."
    async with pinned_session(target, timeout_seconds=seconds, ssl_context=ssl_context) as session:
        async with session.get(target.url, headers=headers, allow_redirects=False) as response:
            if response.status in _REDIRECTS:
                return _Redirect(response.headers.get("Location", ""))
            if response.status != 200:
                raise URLRefused(f"{field} answered HTTP {response.status}, not 200 with the photo.")
            if (response.content_length or 0) > max_bytes:
                raise URLRefused(too_large)
            body = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                body += chunk
                if len(body) > max_bytes:
                    raise URLRefused(too_large)
            return bytes(body)


def _redirected(target: Target, redirect: _Redirect, field: str) -> str:
    """The URL a redirect points to, if it stays on the checked host (it is checked again)."""
    if not redirect.location:
        raise URLRefused(f"{field} answered a redirect without a Location.")
    try:
        location = target.url.join(yarl.URL(redirect.location))
    except ValueError:
        raise URLRefused(f"{field} redirects to a URL that is not valid.") from None
    host = (location.raw_host or "").lower()
    if host != target.host:
        raise URLRefused(f"{field} redirects to another host ({host or 'none'}); give the photo's final URL.")
    return str(location)


def _lookup_before(deadline: float, resolve: Resolver, field: str, timeout_seconds: float) -> Resolver:
    """``resolve`` on a lookup thread, refused once ``deadline`` (``time.monotonic``) passes."""

    def lookup(host: str, port: int) -> list[IPAddress]:
        future = _LOOKUPS.submit(resolve, host, port)
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0))
        except FutureTimeout:
            raise URLRefused(f"{field} host {host} did not resolve within {timeout_seconds:g} s.") from None

    return lookup


def _connection_problem(error: Exception) -> str:
    """A short reason a person can read, without the client library's internals."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return "its TLS certificate is not valid for the host"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"the connection failed ({error.os_error.strerror or 'refused'})"
    if isinstance(error, aiohttp.InvalidURL):
        return "the URL is not one the client can request"
    return "the connection broke off before the answer was complete"


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _parse(url: str, field: str) -> yarl.URL:
    if not isinstance(url, str) or not url.strip():
        raise URLRefused(f"{field} is empty.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise URLRefused(f"{field} is longer than {MAX_URL_LENGTH} characters.")
    scheme = url.split(":", 1)[0].lower() if ":" in url else "none"
    if scheme not in ALLOWED_SCHEMES:
        raise URLRefused(f"{field} must be an http or https URL (its scheme is {scheme}).")
    if not _PRINTABLE_ASCII.fullmatch(url):
        raise URLRefused(
            f"{field} may hold only visible ASCII characters, no spaces or backslashes (write an "
            "international host name in its xn-- form and percent-encode the rest)."
        )
    try:
        return yarl.URL(url)
    except ValueError as error:
        raise URLRefused(f"{field} is not a valid URL ({error}).") from None


def _authority(parsed: yarl.URL, field: str) -> tuple[str, int]:
    """(host, port) of the URL; the host in lowercase, an IPv6 address without its brackets."""
    if "@" in (parsed.raw_authority or ""):
        raise URLRefused(f"{field} must not carry a user name or password (user@host).")
    host = (parsed.raw_host or "").lower()
    if not host:
        raise URLRefused(f"{field} has no host name.")
    if _ip_literal(host) is None and not _is_host_name(host):
        raise URLRefused(
            f"{field} host {host} is neither a host name nor an IP address written plainly "
            "(dotted-quad IPv4, or IPv6 in brackets)."
        )
    try:
        port = parsed.port
    except ValueError as error:
        raise URLRefused(f"{field} is not a valid URL ({error}).") from None
    if port is None or not 0 < port < 65536:
        raise URLRefused(f"{field} has an invalid port ({port}).")
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
    """aiohttp's name lookup, answered with the addresses a ``Target`` was checked with."""

    def __init__(self, target: Target) -> None:
        self._target = target

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        if host.rstrip(".").lower() != self._target.host.rstrip("."):
            raise OSError(f"{host} is not the checked host {self._target.host}")
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
