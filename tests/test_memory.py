"""glibc's allocator told to keep less (bot/memory.py): few arenas, free pages given back."""

from __future__ import annotations

import ctypes
import platform

import pytest

from bot import memory
from testkit.harness import InProcessBrigade

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")


@glibc_only
def test_on_glibc_the_arenas_are_capped_and_free_pages_can_be_given_back() -> None:
    assert memory.limit_arenas(2) is True
    assert memory.limit_arenas(0) is False  # 0: glibc's default, nothing asked
    # Something freed to trim: a few MiB in small blocks, freed.
    blocks = [ctypes.create_string_buffer(4096) for _ in range(2048)]
    del blocks
    assert isinstance(memory.trim(), bool)


def test_another_c_library_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.limit_arenas(2) is False
    assert memory.trim() is False


@pytest.mark.parametrize("trim", [True, False])
async def test_the_timer_sweep_trims_when_the_setting_says_so(
    brigade: InProcessBrigade, monkeypatch: pytest.MonkeyPatch, trim: bool
) -> None:
    calls: list[bool] = []

    def counted() -> bool:
        calls.append(True)
        return True

    monkeypatch.setattr(memory, "trim", counted)
    monkeypatch.setattr(brigade.services.settings, "malloc_trim", trim)
    await brigade.run_timers()
    assert calls == ([True] if trim else [])


def test_freezing_the_start_up_keeps_later_garbage_collectable() -> None:
    import gc
    import weakref

    class Node:
        pass

    try:
        assert memory.freeze_start_up() == gc.get_freeze_count() > 0
        # A cycle made after the freeze is still found by a collection.
        cycle = Node()
        cycle.self = cycle  # type: ignore[attr-defined]
        alive = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert alive() is None
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
