"""The one safe client for every server-side HTTP request (SPEC section 7)."""

from bastion.outbound.client import (
    OutboundClient,
    OutboundTimeouts,
    ResponseTooLarge,
    UpstreamError,
    UpstreamTimeout,
)
from bastion.outbound.pinning import system_resolver
from bastion.outbound.policy import AddressPolicy, DomainFilter, UrlNotAllowed

__all__ = [
    "AddressPolicy",
    "DomainFilter",
    "OutboundClient",
    "OutboundTimeouts",
    "ResponseTooLarge",
    "UpstreamError",
    "UpstreamTimeout",
    "UrlNotAllowed",
    "system_resolver",
]
