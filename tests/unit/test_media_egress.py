"""Where the media fetcher may connect (media/egress.py): https on the provider's allow-list, public unicast
addresses only, whatever form an address or a URL takes. No network: addresses come from a stub resolver."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.media.egress import MediaOrigins, RefusedDestination, check, is_public_address

META = MediaOrigins.parse("graph.facebook.com,lookaside.fbsbx.com,*.fbcdn.net")
PUBLIC = "157.240.22.35"  # a Meta edge address

# Every IPv4 range a request must never reach: (network, what it is).
NON_PUBLIC_V4 = [
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",
    "100.64.0.0/10",  # carrier-grade NAT (shared address space)
    "127.0.0.0/8",
    "169.254.0.0/16",  # link-local: the instance metadata service at 169.254.169.254
    "172.16.0.0/12",
    "192.0.0.0/29",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and the broadcast address
]
NON_PUBLIC_V6 = ["::1/128", "::/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32", "100::/64"]


def addresses_in(network: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda offset: net[offset])


non_public_v4 = st.sampled_from(NON_PUBLIC_V4).flatmap(addresses_in)
non_public_v6 = st.sampled_from(NON_PUBLIC_V6).flatmap(addresses_in)
public_v4 = (
    st.integers(0, 2**32 - 1)
    .map(ipaddress.IPv4Address)
    .filter(lambda ip: not any(ip in ipaddress.ip_network(net) for net in NON_PUBLIC_V4) and ip.is_global)
)


def mapped(ip: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0xFFFF << 32) | int(ip))


def compatible(ip: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(ip))


def nat64(ip: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ip))


def nat64_local(ip: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::")) | int(ip))


def six_to_four(ip: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80) | 1)


def teredo(ip: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0x20010000 << 96) | (int(ip) << 64) | (int(ip) ^ 0xFFFFFFFF))


def resolving_to(*addresses: str):
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


# -- addresses -----------------------------------------------------------------------------------


@given(non_public_v4, st.sampled_from([lambda ip: ip, mapped, compatible, nat64, nat64_local, six_to_four, teredo]))
def test_a_non_public_ipv4_address_is_refused_in_every_form(ip, form):
    # Given an internal IPv4 address, written as itself or inside any IPv6 form that carries one
    # When it is judged, Then it is not public
    assert not is_public_address(form(ip))
    assert not is_public_address(str(form(ip)))


@given(public_v4)
def test_a_public_ipv4_address_is_public_as_itself_mapped_or_through_nat64(ip):
    # Given a public IPv4 address
    # Then it is public as itself, IPv4-mapped, and behind a NAT64 gateway (a VPC's DNS64 answers)
    assert is_public_address(ip) and is_public_address(mapped(ip)) and is_public_address(nat64(ip))
    # And the deprecated and tunnelling forms are refused whatever they carry
    assert not any(is_public_address(form(ip)) for form in (compatible, six_to_four, teredo))


@given(non_public_v6)
def test_non_public_ipv6_ranges_are_refused(ip):
    assert not is_public_address(ip)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "::127.0.0.1",
        "::ffff:7f00:1",
        "fd00:ec2::254",
        "fe80::1%eth0",
        "not an address",
    ],
)
def test_the_metadata_service_and_loopback_in_any_notation_are_refused(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["157.240.22.35", "2a03:2880:f12f:83:face:b00c:0:25de", "64:ff9b::9df0:1623"])
def test_public_provider_addresses_are_public(address):
    assert is_public_address(address)


# -- URLs ----------------------------------------------------------------------------------------


def test_an_allowed_https_url_resolving_to_public_addresses_is_a_destination_on_those_addresses():
    destination = check(
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2", META, resolving_to(PUBLIC)
    )
    # Then the connection goes to the checked address, and the request names the host
    assert destination.addresses == (PUBLIC,)
    assert (destination.origin.host, destination.target, destination.host_header) == (
        "lookaside.fbsbx.com",
        "/whatsapp_business/attachments/?mid=1&ext=2",
        "lookaside.fbsbx.com",
    )


@given(non_public_v4 | non_public_v6)
def test_an_allowed_host_resolving_to_any_non_public_address_is_refused(internal):
    # Given an allowed CDN name whose DNS answers an internal address (rebinding), alone or among public ones
    for answer in ([str(internal)], [PUBLIC, str(internal)]):
        # When the URL is checked, Then it is refused before any connection
        with pytest.raises(RefusedDestination, match="outside the public internet"):
            check("https://scontent.xx.fbcdn.net/v/t1/photo.jpg", META, resolving_to(*answer))


hostile_urls = st.sampled_from(
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://lookaside.fbsbx.com/photo.jpg",  # allowed host, but not https
        "https://lookaside.fbsbx.com:8443/photo.jpg",  # allowed host, another port
        "https://169.254.169.254/",
        "https://[::ffff:169.254.169.254]/",
        "https://2852039166/",  # 169.254.169.254 as one number
        "https://0xa9.0xfe.0xa9.0xfe/",
        "https://lookaside.fbsbx.com@169.254.169.254/",
        "https://user:pass@lookaside.fbsbx.com/",
        "https://lookaside.fbsbx.com.evil.example/",
        "https://evil-lookaside.fbsbx.com/",
        "https://fbcdn.net/",  # "*.fbcdn.net" admits names under it, not the name itself
        "https://evilfbcdn.net/",
        "https://scontent.fbcdn.net.evil.example/",
        "https://%6c%6f%6f%6b%61%73%69%64%65.fbsbx.com/",
        "ftp://lookaside.fbsbx.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/",
        "//lookaside.fbsbx.com/photo.jpg",
        "https://lookaside.fbsbx.com/a b",
        "https://lookaside.fbsbx.com/\r\nHost: evil",
        "javascript:alert(1)",
        "",
    ]
)


@given(hostile_urls, st.sampled_from(["", "/", "/x?y=1", "#frag"]))
def test_urls_outside_the_allow_list_or_not_plain_https_are_refused_without_a_lookup(url, tail):
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return [PUBLIC]

    # Given a URL of a shape an attacker would try (the resolver would even answer a public address)
    # When it is checked, Then it is refused, and only an allowed name is ever looked up
    try:
        destination = check(url + tail, META, resolve)
    except RefusedDestination:
        assert all(host in ("lookaside.fbsbx.com",) for host in looked_up), looked_up
        return
    pytest.fail(f"{url + tail!r} was admitted as {destination}")


@given(st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8}){0,2}", fullmatch=True))
def test_names_under_a_wildcard_are_admitted_and_lookalikes_are_not(label):
    # Given "*.fbcdn.net" on the allow-list
    assert check(f"https://{label}.fbcdn.net/x", META, resolving_to(PUBLIC)).origin.host == f"{label}.fbcdn.net"
    for lookalike in (
        f"https://{label}fbcdn.net/x",
        f"https://{label}.fbcdn.net.{label}.example/x",
        f"http://{label}.fbcdn.net/x",
    ):
        with pytest.raises(RefusedDestination):
            check(lookalike, META, resolving_to(PUBLIC))


def test_an_exact_origin_entry_is_the_only_way_to_admit_http_another_port_or_loopback():
    # Given the local runner's allow-list: the fake providers' exact origin
    local = MediaOrigins.parse("http://127.0.0.1:8123")
    # Then that origin is admitted, loopback included
    assert check("http://127.0.0.1:8123/cdn/photo.jpg", local).addresses == ("127.0.0.1",)
    # And nothing else on 127.0.0.1: another port, https, another loopback name, the metadata service
    for url in (
        "http://127.0.0.1:8124/",
        "https://127.0.0.1:8123/",
        "http://localhost:8123/",
        "http://127.0.0.2:8123/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(RefusedDestination):
            check(url, local)


@pytest.mark.parametrize(
    "entry",
    [
        "169.254.169.254",
        "*.127.0.0.1",
        "localhost",
        "*.com.",
        "http://127.0.0.1:8123/path",
        "https://",
        "exa mple.com",
        "例え.jp",
    ],
)
def test_allow_list_entries_that_are_not_names_or_origins_are_refused_at_start(entry):
    with pytest.raises(ValueError, match="media allow-list entry"):
        MediaOrigins.parse(entry)


def test_an_empty_allow_list_admits_nothing():
    with pytest.raises(RefusedDestination):
        check("https://lookaside.fbsbx.com/x", MediaOrigins.parse(""), resolving_to(PUBLIC))
