"""The address policy: every spelling of a forbidden address is refused, public ones pass."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.outbound.policy import (
    FORBIDDEN_IPV4,
    FORBIDDEN_IPV6,
    GLOBAL_UNICAST_V6,
    LOCAL_NETWORKS,
    AddressPolicy,
    DomainFilter,
    UrlNotAllowed,
    is_forbidden,
    parse_ipv4_any_form,
)

POLICY = AddressPolicy()


def ipv4_spellings(address: ipaddress.IPv4Address) -> list[str]:
    """Every textual form a resolver or an HTTP library reads as ``address``."""
    value = int(address)
    a, b, c, d = address.packed
    return [
        str(address),
        str(value),  # 2130706433
        hex(value),  # 0x7f000001
        f"0{oct(value)[2:]}",  # 017700000001
        f"0{a:o}.0{b:o}.0{c:o}.0{d:o}",  # 0177.00.00.01
        f"{a:#x}.{b:#x}.{c:#x}.{d:#x}",  # 0x7f.0x0.0x0.0x1
        f"{a}.{b}.{(c << 8) | d}",  # 127.0.1
        f"{a}.{(b << 16) | (c << 8) | d}",  # 127.1
        f"[::ffff:{address}]",
        f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]",
        f"[64:ff9b::{value >> 16:x}:{value & 0xFFFF:x}]",
        f"[2002:{value >> 16:x}:{value & 0xFFFF:x}::1]",
    ]


LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.000.000.001",
    "0x7f.1",
    "127.0.0.1.",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "[0:0:0:0:0:0:0:1]",
    "0.0.0.0",  # noqa: S104 (a URL host, not a bind address)
    "0",
    "[::]",
]
METADATA = [
    "169.254.169.254",
    "[fd00:ec2::254]",
    "100.100.100.200",
    "169.254.170.2",
    "[::ffff:169.254.169.254]",
    "[::ffff:a9fe:a9fe]",
    "2852039166",  # 169.254.169.254
]
TRICKS = [
    "http://evil@127.0.0.1/",
    "http://user:pass@example.com/",
    "http://example.com\\@127.0.0.1/",
    "http://example.com\\.127.0.0.1/",
    "http://example.com%5C@127.0.0.1/",
    "http://exa%6dple.com/",
    "http://example.com /",
    "http://exa\tmple.com/",
    "http://example.com\x00.127.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://example.com/",
    "//example.com/",
    "http:///path",
    "http://1.2.3.4.5/",
    "http://[fe80::1%25eth0]/",
    "http://999.1.1.1/",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + METADATA)
def test_internal_addresses_are_refused_in_every_spelling(host: str) -> None:
    with pytest.raises(UrlNotAllowed):
        POLICY.check_url(f"http://{host}:8080/")


@pytest.mark.parametrize("url", TRICKS)
def test_userinfo_backslash_and_scheme_tricks_are_refused(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        POLICY.check_url(url)


def test_public_url_is_accepted_with_its_name_and_default_port() -> None:
    target = POLICY.check_url("https://Example.COM/path?q=1")
    assert (target.scheme, target.host, target.port, target.address) == (
        "https",
        "example.com",
        443,
        None,
    )


def test_idn_host_is_checked_in_its_ascii_form() -> None:
    assert POLICY.check_url("http://bücher.example/").host == "xn--bcher-kva.example"


def test_configured_upstream_is_allowed_only_on_its_own_host_and_port() -> None:
    policy = AddressPolicy.for_urls(["http://127.0.0.1:11434"])
    policy.check_url("http://127.0.0.1:11434/api/tags")
    for url in (
        "http://127.0.0.1:11435/",
        "http://127.1:11434/",
        "http://[::ffff:127.0.0.1]:11434/",
    ):
        with pytest.raises(UrlNotAllowed):
            policy.check_url(url)


def test_a_url_parsed_before_is_judged_again_by_every_policy() -> None:
    url = "http://127.0.0.1:11434/api/chat"
    allowed = AddressPolicy.for_urls(["http://127.0.0.1:11434"])
    for _ in range(2):  # the second time, the parse is remembered
        assert allowed.check_url(url).address == ipaddress.ip_address("127.0.0.1")
        with pytest.raises(UrlNotAllowed):
            POLICY.check_url(url)
    for _ in range(2):  # a refused parse is refused every time
        with pytest.raises(UrlNotAllowed):
            allowed.check_url("http://user@127.0.0.1:11434/")


def test_local_networks_allow_private_addresses_but_never_metadata() -> None:
    policy = AddressPolicy(allow_networks=LOCAL_NETWORKS)
    policy.check_url("http://127.0.0.1:8080/")
    policy.check_url("http://[::1]/")
    policy.check_url("http://192.168.1.10/")
    for host in METADATA:
        with pytest.raises(UrlNotAllowed):
            policy.check_url(f"http://{host}/")


def test_domain_filter_blocks_and_allows_like_open_webui() -> None:
    blocking = DomainFilter(["!evil.com", "!.Bad.org"])
    assert not blocking.permits("evil.com")
    assert not blocking.permits("www.evil.com")
    assert not blocking.permits("x.bad.org.")
    assert blocking.permits("notevil.com")
    allowing = DomainFilter(["example.com", "!private.example.com"])
    assert allowing.permits("example.com")
    assert allowing.permits("docs.example.com")
    assert not allowing.permits("private.example.com")
    assert not allowing.permits("example.org")
    assert not allowing.permits("badexample.com")


def test_domain_filter_applies_to_every_url() -> None:
    policy = AddressPolicy(domains=DomainFilter(["example.com"]))
    policy.check_url("https://example.com/")
    with pytest.raises(UrlNotAllowed):
        policy.check_url("https://93.184.216.34/")


# --- properties -------------------------------------------------------------------------


def _in(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> st.SearchStrategy[int]:
    return st.integers(int(network.network_address), int(network.broadcast_address))


forbidden_ipv4 = st.sampled_from(FORBIDDEN_IPV4).flatmap(_in).map(ipaddress.IPv4Address)
any_ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
public_ipv4 = any_ipv4.filter(lambda a: not any(a in net for net in FORBIDDEN_IPV4))


@given(forbidden_ipv4)
def test_every_forbidden_ipv4_address_is_refused_in_every_spelling(
    address: ipaddress.IPv4Address,
) -> None:
    for spelling in ipv4_spellings(address):
        with pytest.raises(UrlNotAllowed):
            POLICY.check_url(f"http://{spelling}/")


@given(public_ipv4)
def test_every_public_ipv4_address_is_allowed_and_read_as_itself(
    address: ipaddress.IPv4Address,
) -> None:
    for spelling in ipv4_spellings(address):
        if spelling.startswith("["):
            POLICY.check_url(f"http://{spelling}/")  # mapped, NAT64, 6to4: the same verdict
        else:
            assert parse_ipv4_any_form(spelling) == address


@given(any_ipv4)
def test_policy_verdict_matches_python_for_public_ipv4(address: ipaddress.IPv4Address) -> None:
    # Whatever Python's tables call private, reserved or shared is forbidden here too.
    if not address.is_global or address.is_multicast:
        assert is_forbidden(address)


@given(
    st.lists(
        st.one_of(
            st.integers(0, 2**32 - 1).map(str),
            st.integers(0, 2**32 - 1).map(hex),
            st.integers(0, 2**32 - 1).map(lambda n: "0" + oct(n)[2:]),
        ),
        min_size=1,
        max_size=4,
    ).map(".".join)
)
def test_numeric_hosts_are_read_exactly_as_the_c_resolver_reads_them(text: str) -> None:
    try:
        expected: ipaddress.IPv4Address | None = ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        expected = None
    assert parse_ipv4_any_form(text) == expected


ipv6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


@given(ipv6)
def test_ipv6_outside_global_unicast_is_refused_unless_it_embeds_a_public_ipv4(
    address: ipaddress.IPv6Address,
) -> None:
    public = address in GLOBAL_UNICAST_V6 and not any(address in n for n in FORBIDDEN_IPV6)
    embedded = address.ipv4_mapped or (
        ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address in ipaddress.IPv6Network("64:ff9b::/96")
        else address.sixtofour
    )
    expected_allowed = (
        not is_forbidden(embedded) if embedded is not None else public and not address.teredo
    )
    try:
        POLICY.check_url(f"http://[{address}]/")
    except UrlNotAllowed:
        assert not expected_allowed
    else:
        assert expected_allowed
