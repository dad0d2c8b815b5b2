"""TOTP codes: the drift window, the step returned for replay protection, malformed codes."""

from __future__ import annotations

import pyotp
import pytest

from bastion.auth import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 30 * 57_000_000 + 10.0  # ten seconds into a step


@pytest.mark.parametrize(("steps", "expected"), [(-1, -1), (0, 0), (1, 1), (-2, None), (2, None)])
def test_the_matching_step_within_one_step_of_drift(steps: int, expected: int | None) -> None:
    code = pyotp.TOTP(SECRET).at(NOW + 30 * steps)
    found = totp.matching_step(SECRET, code, NOW)
    assert found == (None if expected is None else int(NOW) // 30 + expected)


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "12a456", "\uff11\uff12\uff13\uff14\uff15\uff16"]
)
def test_malformed_codes_match_nothing(code: str) -> None:
    assert totp.matching_step(SECRET, code, NOW) is None


def test_spaces_in_a_typed_code_are_ignored() -> None:
    code = pyotp.TOTP(SECRET).at(NOW)
    assert totp.matching_step(SECRET, f" {code[:3]} {code[3:]} ", NOW) == int(NOW) // 30


def test_the_qr_code_is_a_plain_svg_of_the_uri() -> None:
    uri = totp.provisioning_uri(SECRET, "a@example.com", "Bastion <b>")
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<script" not in svg and "href" not in svg and "<b>" not in svg
    assert uri.startswith("otpauth://totp/") and "issuer=Bastion%20%3Cb%3E" in uri
