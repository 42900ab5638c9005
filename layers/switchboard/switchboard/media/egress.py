"""Where the media fetcher may connect: every URL it requests, redirects included, is checked here first.

A URL comes from a webhook (Kakao's proof is a static token; a Meta-signed message still carries whatever
link the customer shared) or from a provider's answer (Graph's media url, a CDN's redirect). Neither is
trusted to name a destination. A request goes out only when

1. the URL is https on a host in that provider's allow-list (`MediaOrigins`, configuration), and
2. every address the host resolves to is a public unicast address (`is_public_address`), and
3. the connection goes to one of those checked addresses (the caller connects to `Destination.addresses`,
   never to the name again: a second lookup could answer differently, "DNS rebinding").

Allow-list entries:

| entry                         | admits                                                                        |
|-------------------------------|-------------------------------------------------------------------------------|
| `lookaside.fbsbx.com`         | https://lookaside.fbsbx.com (port 443) and nothing else                       |
| `*.fbcdn.net`                 | https on port 443 at any name under fbcdn.net (not fbcdn.net itself)          |
| `http://127.0.0.1:8123`       | exactly that scheme, host and port; the only way to admit http, another port, |
|                               | an address literal, or an address outside the public internet (the local fake)|
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import LocationParseError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_URL_LENGTH = 8192
_NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class RefusedDestination(Exception):
    """A URL or address the fetcher never requests. Final: asking again cannot make it acceptable. The message
    names the host at most, never the URL (Telegram's path holds the bot token, CDN queries are signatures)."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class MediaOrigins:
    """One provider's allow-list (see the module's table)."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    exact: frozenset[Origin] = frozenset()

    @classmethod
    def parse(cls, entries: str | Iterable[str]) -> MediaOrigins:
        """From a comma-separated list (an environment variable) or its entries; ValueError names a bad entry."""
        items = entries.split(",") if isinstance(entries, str) else list(entries)
        hosts: set[str] = set()
        suffixes: set[str] = set()
        exact: set[Origin] = set()
        for raw in (item.strip() for item in items):
            if not raw:
                continue
            if "://" in raw:
                exact.add(_exact_origin(raw))
            elif raw.startswith("*."):
                suffixes.add("." + _host_name(raw[2:], raw))
            else:
                hosts.add(_host_name(raw, raw))
        return cls(frozenset(hosts), tuple(sorted(suffixes)), frozenset(exact))

    def admits(self, origin: Origin) -> bool:
        if origin in self.exact:
            return True
        if origin.scheme != "https" or origin.port != 443 or _is_address_literal(origin.host):
            return False
        return origin.host in self.hosts or any(origin.host.endswith(suffix) for suffix in self.suffixes)

    def names_exactly(self, origin: Origin) -> bool:
        return origin in self.exact

    def __bool__(self) -> bool:
        return bool(self.hosts or self.suffixes or self.exact)


@dataclass(frozen=True)
class Destination:
    """A checked request: connect to one of `addresses` (in order), send `target` with Host `host_header`,
    and verify the certificate (SNI) for `origin.host`."""

    origin: Origin
    target: str
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.origin.host}]" if ":" in self.origin.host else self.origin.host
        return host if DEFAULT_PORTS.get(self.origin.scheme) == self.origin.port else f"{host}:{self.origin.port}"


def origin_of(url: str) -> tuple[Origin, str]:
    """The origin a URL names and its request target (path and query); RefusedDestination when it is not a
    plain http(s) URL: credentials in it, no host, a bad port, or too long."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or any(ch in url for ch in "\r\n\t\x00 "):
        raise RefusedDestination("media location is not a plain URL")
    authority = url.split("://", 1)[-1]
    for end in "/?#":
        authority = authority.split(end, 1)[0]
    if "%" in authority or "\\" in authority:
        # A host spelled with escapes is decoded by some parsers and not by others: only plain names are read.
        raise RefusedDestination("media location spells its host with escapes")
    try:
        parsed = urllib3.util.parse_url(url)
    except (LocationParseError, ValueError):
        raise RefusedDestination("media location is not a URL") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise RefusedDestination("media location is not an http(s) URL")
    if parsed.auth is not None:
        raise RefusedDestination("media location carries credentials")
    host = (parsed.host or "").lower().strip("[]")
    # "cdn.example.com." is the same DNS name as "cdn.example.com"; compared without the root dot.
    host = host[:-1] if host.endswith(".") and not _is_address_literal(host[:-1]) else host
    if not host or "%" in host or not host.isascii():
        raise RefusedDestination("media location names no usable host")
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise RefusedDestination("media location names an impossible port")
    target = parsed.path or "/"
    if parsed.query is not None:
        target = f"{target}?{parsed.query}"
    return Origin(scheme, host, port), target


def check(url: str, origins: MediaOrigins, resolve: Resolver | None = None) -> Destination:
    """The destination for `url` under `origins`, resolved once and checked; RefusedDestination otherwise."""
    origin, target = origin_of(url)
    if not origins.admits(origin):
        raise RefusedDestination(f"{origin.host} is not an allowed media host for this channel (https only)")
    addresses = tuple((resolve or resolve_host)(origin.host, origin.port))
    if not addresses:
        raise RefusedDestination(f"{origin.host} resolves to no address")
    if not origins.names_exactly(origin):
        for address in addresses:
            if not is_public_address(address):
                raise RefusedDestination(f"{origin.host} resolves to an address outside the public internet")
    return Destination(origin, target, _ipv4_first(addresses))


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the name has (an address literal is its own); RefusedDestination when it has none."""
    if _is_address_literal(host):
        return [host]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def is_public_address(address: str | IPAddress) -> bool:
    """Public unicast only: no loopback, private, shared (CGNAT), link-local (the instance metadata service),
    multicast, reserved, unspecified or documentation range, in IPv4 or IPv6. An IPv6 address that carries an
    IPv4 address (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d) is judged by that IPv4 address; the
    tunnelling and deprecated forms (IPv4-compatible ::a.b.c.d, 6to4 2002::/16, Teredo 2001::/32) are refused,
    whatever they carry: no provider serves media from them."""
    try:
        ip = (
            address
            if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address))
            else ipaddress.ip_address(address)
        )
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        if ip.ipv4_mapped is not None:
            return _public(ip.ipv4_mapped)
        for prefix in _NAT64_PREFIXES:
            if ip in prefix:
                return _public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip in _IPV4_COMPATIBLE or ip.sixtofour is not None or ip.teredo is not None:
            return False
        return _public(ip)
    return _public(ip)


def _public(ip: IPAddress) -> bool:
    # is_global alone is not enough: it holds for multicast ranges such as 224.0.1.0/24 and for IPv6 forms
    # that embed an IPv4 address (handled above); each range is therefore refused explicitly as well.
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def _is_address_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ipv4_first(addresses: Iterable[str]) -> tuple[str, ...]:
    # Lambda outside a dual-stack VPC has no IPv6 route: trying an AAAA answer first would only time out.
    return tuple(sorted(addresses, key=lambda address: ":" in address))


def _host_name(host: str, entry: str) -> str:
    host = host.strip().lower().rstrip(".")
    labels = host.split(".")
    if (
        not host
        or not host.isascii()
        or _is_address_literal(host)
        or len(labels) < 2
        or not all(label and all(ch.isalnum() or ch == "-" for ch in label) for label in labels)
    ):
        raise ValueError(
            f"media allow-list entry {entry!r} is not a host name: write name.example, *.name.example, "
            "or an exact origin scheme://host:port"
        )
    return host


def _exact_origin(entry: str) -> Origin:
    try:
        origin, target = origin_of(entry)
    except RefusedDestination:
        raise ValueError(f"media allow-list entry {entry!r} is not an origin scheme://host[:port]") from None
    if target not in ("/", "") or entry.rstrip("/").count("/") > 2:
        raise ValueError(f"media allow-list entry {entry!r} must be an origin only, without a path")
    return origin
