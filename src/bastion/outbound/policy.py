"""Which addresses a server-side request may reach: the SSRF policy of SPEC section 7.

A request made on behalf of a user must not reach what only the server can reach: its
own loopback, the private network behind it, or the cloud metadata service that hands
out credentials. The check is made on the parsed address, never on the text, so every
spelling of one address (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``,
``::ffff:127.0.0.1``, ``64:ff9b::7f00:1``, ``2002:7f00:1::``) gets the same answer.
See https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from bastion.config.reader import IPNetwork
from bastion.errors import BastionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_net = ipaddress.ip_network

# IANA special-purpose IPv4 ranges: nothing here is an ordinary public web server.
FORBIDDEN_IPV4: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT; Alibaba's metadata service lives here
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local; AWS/GCP/Azure metadata at 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast included
    )
)

# IPv6: only global unicast (2000::/3) may be reached, minus its special ranges.
# Forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
FORBIDDEN_IPV6: tuple[ipaddress.IPv6Network, ...] = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) included
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

# Cloud metadata endpoints stay refused even where private networks are allowed
# (ENABLE_LOCAL_WEB_FETCH): they hand out the host's credentials. Only an exact
# admin-configured host:port may name one.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.169.253",  # AWS DNS
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::253",
    )
)

DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


class UrlNotAllowed(BastionError):
    """The URL or the address it leads to may not be fetched from the server."""

    status_code = 400
    code = "url_not_allowed"
    detail = "This URL may not be fetched."


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 address leads to, if any."""
    if address in _MAPPED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return None


def is_forbidden(address: IPAddress) -> bool:
    """Whether ``address`` is anything but a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return True  # a zone index only makes sense for link-local addresses
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_forbidden(inner)
        if address not in GLOBAL_UNICAST_V6:
            return True
        return any(address in net for net in FORBIDDEN_IPV6)
    return any(address in net for net in FORBIDDEN_IPV4)


def is_metadata(address: IPAddress) -> bool:
    if address in METADATA_ADDRESSES:
        return True
    inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return inner is not None and inner in METADATA_ADDRESSES


def parse_ipv4_any_form(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any form ``inet_aton`` and browsers accept, else ``None``.

    ``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``127.000.000.001``
    are all 127.0.0.1 to the C resolver: a policy that only knew the dotted form
    would let them through.
    """
    parts = text.lower().removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_LABEL.fullmatch(p) for p in parts):
        return None
    numbers = []
    for part in parts:
        if part.startswith("0x"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                return None
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def host_address(host: str) -> IPAddress | None:
    """The address a URL host names literally, in any spelling; ``None`` for a DNS name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            raise UrlNotAllowed("The URL's IPv6 address is invalid.") from None
    return parse_ipv4_any_form(host)


def _check_dns_name(host: str) -> None:
    name = host.removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UrlNotAllowed("The URL's host name is not a valid DNS name.")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # A numeric last label makes resolvers read the host as an address.
        raise UrlNotAllowed("The URL's host looks like an address but is not a valid one.")


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: scheme, host (as sent in Host and SNI) and port."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None  # set when the host is an address literal
    url: httpx.URL = field(repr=False, compare=False)  # as parsed, so it is parsed once


def parse_target(url: httpx.URL | str) -> Target:
    """Parse ``url`` the way httpx will connect to it, refusing what cannot be trusted.

    The URL is parsed by httpx itself, so the host checked is the host connected to;
    userinfo, backslashes and control characters are refused because parsers disagree
    about them (``http://a.com\\@127.0.0.1`` is a.com to a browser, 127.0.0.1 to httpx).
    """
    return _parse_text(url) if isinstance(url, str) else _parse_url(url)


@functools.lru_cache(maxsize=512)
def _parse_text(url: str) -> Target:
    """Remembered: a model upstream's few URLs are parsed on every request otherwise.

    Only the parse is kept (a refusal is not cached); the policy still judges every use.
    """
    if any(ch == "\\" or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise UrlNotAllowed("The URL contains characters that are not allowed.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise UrlNotAllowed("The URL is not valid.") from None
    return _parse_url(parsed)


def _parse_url(url: httpx.URL) -> Target:
    if url.scheme not in DEFAULT_PORTS:
        raise UrlNotAllowed("Only http and https URLs may be fetched.")
    if url.userinfo:
        raise UrlNotAllowed("URLs with a user name or password may not be fetched.")
    host = url.raw_host.decode("ascii").lower()
    if not host:
        raise UrlNotAllowed("The URL has no host.")
    address = host_address(host)
    if address is None:
        _check_dns_name(host)
    return Target(url.scheme, host, url.port or DEFAULT_PORTS[url.scheme], address, url)


class DomainFilter:
    """``WEB_FETCH_FILTER_LIST`` semantics (as open-webui): ``!d`` blocks d and its
    subdomains; plain entries, if any, are the only domains allowed.

    Entries may also be IP addresses or CIDR ranges (``!10.0.0.0/8``, ``!::1``). Those
    are matched against every address a host resolves to, on every hop, never against
    the URL's text: ``!127.0.0.2/32`` must stop ``http://127.0.0.2/``, ``http://2130706434/``
    and a name (or a redirect) that resolves there. The list only narrows what the rest
    of the policy allows; an allowed range never opens a private network. An entry that
    is neither a domain nor an address raises ``ValueError``: a typo must not silently
    block nothing.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        blocked: list[str] = []
        allowed: list[str] = []
        blocked_networks: list[IPNetwork] = []
        allowed_networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().lower()
            if not text:
                continue
            block = text.startswith("!")
            value = text[1:].strip() if block else text
            network = _filter_network(value)
            if network is not None:
                (blocked_networks if block else allowed_networks).append(network)
                continue
            domain = value.removesuffix(".").lstrip(".")
            if not domain or not all(_LABEL.fullmatch(label) for label in domain.split(".")):
                raise ValueError(f"{entry.strip()!r} is neither a domain nor an IP address/range")
            (blocked if block else allowed).append(domain)
        self.blocked = tuple(blocked)
        self.allowed = tuple(allowed)
        self.blocked_networks = tuple(blocked_networks)
        self.allowed_networks = tuple(allowed_networks)

    @staticmethod
    def _matches(host: str, domains: tuple[str, ...]) -> bool:
        return any(host == d or host.endswith("." + d) for d in domains)

    def _allows_name(self, name: str) -> bool:
        return not (self.allowed or self.allowed_networks) or self._matches(name, self.allowed)

    def permits(self, host: str) -> bool:
        """The host name's verdict; with address entries, ``permits_address`` has the last word."""
        name = host.lower().removesuffix(".")
        if self._matches(name, self.blocked):
            return False
        # An allowed address range may still let the host in, once it is resolved.
        return self._allows_name(name) or bool(self.allowed_networks)

    def permits_address(self, address: IPAddress, host: str) -> bool:
        """An address ``host`` resolved to (or names literally), on any hop."""
        judged = [address]
        inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        if inner is not None:
            judged.append(inner)  # ::ffff:127.0.0.2 is 127.0.0.2
        if any(_contains(net, a) for net in self.blocked_networks for a in judged):
            return False
        if self._allows_name(host.lower().removesuffix(".")):
            return True
        return any(_contains(net, a) for net in self.allowed_networks for a in judged)


def _filter_network(text: str) -> IPNetwork | None:
    """An address or CIDR range of the filter list, ``None`` for a domain."""
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        # Resolvers read a numeric last label as an address: never a domain (see above).
        if "/" in text or ":" in text or _NUMERIC_LABEL.fullmatch(text.rsplit(".", 1)[-1]):
            raise ValueError(f"{text!r} is not a valid IP address or range") from None
        return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What one outbound client may reach.

    ``allow_hosts``: exact ``(host, port)`` origins the admin configured (model
    upstreams); every address they resolve to is allowed, metadata included, because
    the admin named them. ``allow_networks``: networks allowed although not public
    (``ENABLE_LOCAL_WEB_FETCH``); metadata addresses stay refused there.
    ``domains``: an optional host-name filter applied to every URL and redirect.
    """

    allow_hosts: frozenset[tuple[str, int]] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    domains: DomainFilter | None = field(default=None, compare=False)

    @classmethod
    def for_urls(
        cls, urls: Iterable[str], *, allow_networks: Iterable[IPNetwork] = ()
    ) -> AddressPolicy:
        """A policy that allows exactly the origins of ``urls`` (admin-configured)."""
        hosts = set()
        for url in urls:
            target = parse_target(url)
            hosts.add((target.host, target.port))
        return cls(allow_hosts=frozenset(hosts), allow_networks=tuple(allow_networks))

    def host_is_configured(self, host: str, port: int) -> bool:
        return (host.lower(), port) in self.allow_hosts

    def check_url(self, url: httpx.URL | str) -> Target:
        """Refuse a URL before any connection: scheme, syntax, domain filter, literal."""
        target = parse_target(url)
        if self.host_is_configured(target.host, target.port):
            return target
        if self.domains is not None and not self.domains.permits(target.host):
            raise UrlNotAllowed("This domain may not be fetched.")
        if target.address is not None:
            self.check_address(target.address, target.host, target.port)
        return target

    def check_address(self, address: IPAddress, host: str, port: int) -> None:
        """Refuse ``address`` unless it is public or allowed by configuration."""
        if self.host_is_configured(host, port):
            return
        if is_metadata(address):
            raise UrlNotAllowed("This address may not be fetched.")
        if self.domains is not None and not self.domains.permits_address(address, host):
            raise UrlNotAllowed("This address may not be fetched.")
        if not is_forbidden(address):
            return
        if any(_contains(net, address) for net in self.allow_networks):
            return
        raise UrlNotAllowed("This address may not be fetched.")


def _contains(network: IPNetwork, address: IPAddress) -> bool:
    if address.version != network.version:
        return False
    return address in network


LOCAL_NETWORKS: tuple[IPNetwork, ...] = (_net("0.0.0.0/0"), _net("::/0"))
