"""Time-based one-time passwords (RFC 6238): codes, the accepted window, the QR code.

A code is checked against the current 30-second step and one step either side (the
drift RFC 6238 section 5.2 allows for a phone's clock), never more: every extra step
accepted is one more chance for a guess. The step a code matched is returned so that the
caller can refuse it ever after (section 5.2: "the verifier MUST NOT accept the second
attempt of the OTP after the successful validation has been issued").
"""

from __future__ import annotations

import hmac
import io

import pyotp
import segno

DIGITS = 6
INTERVAL = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    """A base32 secret of 160 random bits (RFC 4226 section 4 recommends 160)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code, drawn here: the secret never goes to an image service.

    segno writes only paths and a title of its own (no script, no link, no text of the
    caller's besides the encoded data), so the document is safe to show as an image.
    """
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, dark="#000", light="#fff"
    )
    return out.getvalue().decode("utf-8")


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step within the drift window whose code is ``code``, else None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    current = int(now) // INTERVAL
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared, in constant time, whichever matches.
        if hmac.compare_digest(totp.at(step * INTERVAL), code):
            found = step
    return found
