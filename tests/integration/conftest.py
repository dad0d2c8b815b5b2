"""Fixtures of the tests that run instances against a real Redis: one injected clock and
one event sink shared by every instance a test starts, so that two instances' counts and
events can be compared."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from tests.support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()
