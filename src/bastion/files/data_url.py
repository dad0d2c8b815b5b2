"""Profile pictures as ``data:`` URLs, checked as strictly as an upload.

open-webui stores whatever string the client sends and later answers a ``http…`` one with
a redirect: a picture URL becomes a request every viewer's browser makes to a host the
user chose (an address leak, a tracking pixel). Bastion keeps only a raster image inline:
base64 that decodes strictly, a size cap, and first bytes that are the type it claims
(never SVG, which can carry script). The default picture is the empty string.
"""

from __future__ import annotations

import base64
import binascii
import re

from bastion.errors import BastionError
from bastion.files.sniff import INLINE_TYPES, sniff

MAX_IMAGE_BYTES = 256 * 1024
# open-webui's clients send its default picture's path for "no picture".
_DEFAULTS = frozenset({"", "/user.png", "/static/user.png"})
_DATA_URL = re.compile(r"data:(image/[a-z]+);base64,([A-Za-z0-9+/=\s]*)", re.ASCII)


class InvalidProfileImage(BastionError):
    status_code = 422
    code = "invalid_profile_image"
    detail = "The picture must be a PNG, JPEG, GIF or WebP image as a base64 data: URL."


def profile_image(url: str) -> str:
    """The picture to store for ``url`` (``""`` for none), or raise ``InvalidProfileImage``."""
    if url in _DEFAULTS:
        return ""
    matched = _DATA_URL.fullmatch(url)
    if matched is None or matched[1] not in INLINE_TYPES:
        raise InvalidProfileImage
    encoded = matched[2]
    if len(encoded) > (MAX_IMAGE_BYTES * 4) // 3 + 8:  # before decoding anything large
        raise InvalidProfileImage(f"The picture is larger than {MAX_IMAGE_BYTES // 1024} KiB.")
    try:
        image = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidProfileImage("The picture's base64 is not valid.") from None
    if len(image) > MAX_IMAGE_BYTES:
        raise InvalidProfileImage(f"The picture is larger than {MAX_IMAGE_BYTES // 1024} KiB.")
    try:
        sniffed = sniff(image[:64])
    except BastionError:  # markup: never a picture
        sniffed = None
    if sniffed != matched[1]:
        raise InvalidProfileImage(f"The picture's bytes are not {matched[1]}.")
    return f"data:{matched[1]};base64,{base64.b64encode(image).decode('ascii')}"
