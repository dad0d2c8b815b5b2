"""A User-Agent header summarised as a device and a browser, for the sessions list.

Only the common browsers and systems are named; anything else is "Other". The header is
the client's to choose, so the summary is a hint for the account's owner, never a check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longer than any real header: the rest is not looked at.
_MAX_LENGTH = 512

# Order matters: Edge and Opera say "Chrome", Chrome says "Safari", Android says "Linux".
_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"\b(?:OPR|Opera)/(\d+)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS|HeadlessChrome)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/")),
    ("curl", re.compile(r"^curl/(\d+)")),
)
_SYSTEMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iPhone", re.compile(r"\biPhone\b")),
    ("iPad", re.compile(r"\biPad\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)


@dataclass(frozen=True, slots=True)
class Client:
    device: str
    browser: str


def summarise(user_agent: str | None) -> Client:
    """``Client(device="macOS", browser="Firefox 133")`` or "Other" for what is unknown."""
    text = (user_agent or "")[:_MAX_LENGTH]
    device = next((name for name, pattern in _SYSTEMS if pattern.search(text)), "Other")
    browser = "Other"
    for name, pattern in _BROWSERS:
        found = pattern.search(text)
        if found is not None:
            browser = f"{name} {found.group(1)}"
            break
    return Client(device=device, browser=browser)
