"""glibc's allocator, told to keep less: few arenas, and free memory handed back after each sweep.

The soak benchmark (bench/soak.py, issue 20) showed the bot's resident memory rising for hours
while Python's live blocks, SQLite's heap and the caches stayed flat: glibc kept the freed memory.
Each thread that allocates gets an arena of its own (up to 8 per core), and this bot has many
threads: aiosqlite runs one per connection, PTB and httpx a few more. Memory freed inside an
arena is kept there for reuse, scattered between live blocks, and the arenas other than the main
one are only returned to the system when `malloc_trim` walks them.

- `limit_arenas` caps the arenas made from now on (`mallopt(M_ARENA_MAX)`); called at start-up,
  before any thread, it caps them all. `MALLOC_ARENA_MAX` in the environment does the same from
  the first allocation (docs/deployment.md's systemd unit sets it).
- `trim` gives the free pages of every arena back to the system (`malloc_trim(0)`); the timer
  sweep calls it (BRIGADE_MALLOC_TRIM).

Both do nothing, and say so, on another C library (musl, macOS).

And Python's cyclic garbage collector, told to leave the start-up's objects alone:
`freeze_start_up` moves everything alive once the bot has started (modules, the ORM's mappers,
the catalogs: about 200,000 objects) out of its reach. A full collection walked them all, about
120 ms on a 2-core machine during which no update was answered: the soak's single slow minutes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging

log = logging.getLogger(__name__)

# mallopt's parameter number for the arena cap (glibc's malloc.h).
M_ARENA_MAX = -8


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The running glibc, or None on another C library."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        version = libc.gnu_get_libc_version
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError, TypeError):
        return None
    version.restype = ctypes.c_char_p
    return libc


def limit_arenas(count: int) -> bool:
    """Make at most `count` malloc arenas from now on (0: glibc's default); True if applied."""
    libc = _glibc()
    if count <= 0 or libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give the C heap's free pages back to the system; True if some were."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


def freeze_start_up() -> int:
    """Collect, then leave every object alive now out of future collections; how many.

    Once, when start-up is over: what is alive then lives as long as the process, so walking it
    in every full collection only stalls the event loop. Objects made afterwards are collected
    as before. (Python's documentation suggests the same before a fork; here it is the pause.)
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
