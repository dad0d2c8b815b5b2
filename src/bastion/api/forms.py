"""The fields that more than one route's form holds, with the same limits everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import Field, StringConstraints

from bastion.files.data_url import MAX_IMAGE_BYTES
from bastion.jsondata import StoredText

Name = Annotated[StoredText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Long enough for any passphrase, short enough that hashing it is no denial of service.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# How many rows a page skips: past any list's length, within what a database can count
# (SQLite's OFFSET is a signed 64-bit number; a larger one is an error, not an empty page).
MAX_SKIP = 2**31
Skip = Annotated[int, Query(ge=0, le=MAX_SKIP)]
SkipField = Annotated[int, Field(ge=0, le=MAX_SKIP)]
# A base64 data: URL of at most MAX_IMAGE_BYTES, checked by files.data_url.profile_image().
ProfileImageUrl = Annotated[str, StringConstraints(max_length=MAX_IMAGE_BYTES * 4 // 3 + 64)]
