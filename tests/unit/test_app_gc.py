"""A served process tunes the garbage collector after start; test instances do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.app import GC_YOUNG_THRESHOLD, create_app
from bastion.config import load_settings


@pytest.fixture
def default_gc() -> Iterator[tuple[int, int, int]]:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    yield thresholds
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_a_served_app_freezes_startup_objects_and_collects_young_ones_less_often(
    tmp_path: Path, default_gc: tuple[int, int, int]
) -> None:
    app = create_app(load_settings({"DATA_DIR": str(tmp_path)}), tune_gc=True)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *default_gc[1:])


async def test_an_app_built_for_tests_leaves_the_collector_alone(
    tmp_path: Path, default_gc: tuple[int, int, int]
) -> None:
    app = create_app(load_settings({"DATA_DIR": str(tmp_path)}))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == default_gc
