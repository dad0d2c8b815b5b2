"""A served process freezes what is alive after start; in-process test instances do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.app import create_app
from bastion.config import load_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("freeze_gc", [True, False])
async def test_startup_objects_are_frozen_only_when_asked(
    tmp_path: Path, unfrozen: None, freeze_gc: bool
) -> None:
    app = create_app(load_settings({"DATA_DIR": str(tmp_path)}), freeze_gc=freeze_gc)
    async with app.router.lifespan_context(app):
        assert (gc.get_freeze_count() > 0) is freeze_gc
