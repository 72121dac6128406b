"""`python -m bot`, with tracemalloc snapshots on demand (the soak benchmark's child process).

With BENCH_TRACEMALLOC_FRAMES set, tracemalloc starts before the bot is imported. With
BENCH_SNAPSHOT_DIR set, every SIGUSR1 writes BENCH_SNAPSHOT_DIR/snapshot-N.caches.json (N = 1,
2, …: SQLite's heap, threads, pools, SQLAlchemy's statement caches, objects by type) and, when
tracing, snapshot-N.tracemalloc. Without either, this is exactly `python -m bot`.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from bench.pauses import GcPauses

# The bot's garbage collections, timed from the start (bench/pauses.py).
_gc = GcPauses()
# The engines the bot made. The bot freezes its start-up's objects out of the garbage collector
# (bot/memory.py), and gc.get_objects() no longer lists frozen ones: pools and statement caches
# are reached from here.
_engines: list[Any] = []


def _record_engines() -> None:
    """Keep every engine storage.database creates (before the bot imports it)."""
    from storage import database

    create = database.create_async_engine

    def recorded(*args: Any, **kwargs: Any) -> Any:
        engine = create(*args, **kwargs)
        _engines.append(engine)
        return engine

    database.create_async_engine = recorded  # type: ignore[assignment]


def _caches() -> dict[str, object]:
    """SQLAlchemy's statement caches: their size, and the SQL texts cached under several keys
    (a statement whose cache key varies while its SQL does not fills the cache for nothing)."""
    from sqlalchemy.sql.compiler import Compiled
    from sqlalchemy.util import LRUCache

    report: dict[str, object] = {}
    found = {id(o): o for o in gc.get_objects() if isinstance(o, LRUCache)}
    for engine in _engines:
        cache = engine.sync_engine._compiled_cache
        if isinstance(cache, LRUCache):
            found.setdefault(id(cache), cache)
    # Named by identity: the same cache keeps its name from one report to the next.
    for index, cache in sorted(found.items()):
        texts: Counter[str] = Counter()
        for value in list(cache.values()):
            compiled = value[0] if isinstance(value, tuple) else value
            if isinstance(compiled, Compiled):
                texts[" ".join(compiled.string.split())[:300]] += 1
        report[f"statement cache {index}"] = {
            "entries": len(cache),
            "capacity": cache.capacity,
            "same SQL under several keys": [[n, t] for t, n in texts.most_common(15) if n > 1],
        }
    report["sqlite heap bytes"] = _sqlite_memory_used()
    report["python allocated blocks"] = sys.getallocatedblocks()
    report["pymalloc"] = _pymalloc()
    report["malloc"] = _mallinfo()
    report["malloc_trim calls"] = _trims
    report["gc"] = _gc.summary()
    report["gc longest since the last report"] = _gc.take_longest_by_generation()
    report["threads"] = threading.active_count()
    # Threads started since the process began (every Thread() draws the next number of its
    # default name, "Thread-N"; this draw skips one): aiosqlite starts one per connection.
    report["threads started"] = threading._counter()  # type: ignore[attr-defined]
    report["objects by type"] = Counter(type(o).__name__ for o in gc.get_objects()).most_common(40)
    from sqlalchemy.pool import Pool

    pools = {id(o): o for o in gc.get_objects() if isinstance(o, Pool)}
    pools |= {id(engine.pool): engine.pool for engine in _engines}
    report["pools"] = [pool.status() for pool in pools.values()]
    return report


def _pymalloc() -> dict[str, int]:
    """Python's own allocator (obmalloc): its 1 MiB arenas are mmapped, outside glibc's counts;
    one is returned to the system only once every block in it is free."""
    import re
    import tempfile

    with tempfile.TemporaryFile() as file:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(file.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        file.seek(0)
        text = file.read().decode(errors="replace")
    wanted = {
        "arenas allocated current": r"# arenas allocated current\s*=\s*([\d,]+)",
        "arenas highwater mark": r"# arenas highwater mark\s*=\s*([\d,]+)",
        "bytes in allocated blocks": r"# bytes in allocated blocks\s*=\s*([\d,]+)",
        "bytes in available blocks": r"# bytes in available blocks\s*=\s*([\d,]+)",
        "bytes in arenas total": r"Total\s*=\s*([\d,]+)",
    }
    found: dict[str, int] = {}
    for name, pattern in wanted.items():
        match = re.search(pattern, text)
        if match:
            found[name] = int(match.group(1).replace(",", ""))
    return found


def _sqlite_memory_used() -> int:
    """SQLite's own heap (page caches, prepared statements), which tracemalloc cannot see."""
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return -1
    library = ctypes.CDLL(name)
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


def _mallinfo() -> dict[str, int]:
    """glibc's view of the C heap: bytes in use, free but kept, mmapped (mallinfo2, all arenas
    summed), and the number of arenas."""

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                "uordblks", "fordblks", "keepcost",
            )
        ]  # fmt: skip

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return {}
    info = libc.mallinfo2()
    return {
        "in use": info.uordblks,
        "free kept": info.fordblks,
        "mmapped": info.hblkhd,
        "arenas": _arena_count(libc),
    }


def _arena_count(libc: ctypes.CDLL) -> int:
    """How many malloc arenas glibc has made (malloc_info's <heap nr=…> elements)."""
    import re
    import tempfile

    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    with tempfile.NamedTemporaryFile(suffix=".xml") as file:
        stream = libc.fopen(file.name.encode(), b"w")
        if not stream:
            return -1
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        return len(re.findall(r"<heap nr=", Path(file.name).read_text()))


# How long each malloc_trim of the timer sweep took (seconds), and how much RSS it gave back.
_trims: dict[str, float] = {"count": 0, "total s": 0.0, "max s": 0.0, "last s": 0.0}


def _time_trims() -> None:
    """Wrap bot.memory.trim to time it (it walks every arena's free lists)."""
    from bot import memory

    untimed = memory.trim

    def timed() -> bool:
        started = time.perf_counter()
        try:
            return untimed()
        finally:
            took = time.perf_counter() - started
            _trims["count"] += 1
            _trims["total s"] += took
            _trims["last s"] = took
            _trims["max s"] = max(_trims["max s"], took)

    memory.trim = timed  # type: ignore[assignment]


def _snapshots(folder: Path) -> None:
    taken = 0

    def dump(signum: int, frame: FrameType | None) -> None:
        nonlocal taken
        taken += 1
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot()
            snapshot.dump(str(folder / f"snapshot-{taken}.tracemalloc"))
        (folder / f"snapshot-{taken}.caches.json").write_text(json.dumps(_caches()))
        (folder / f"snapshot-{taken}.done").touch()

    signal.signal(signal.SIGUSR1, dump)


def main() -> int:
    """Start tracing if asked, then run the bot."""
    _gc.install()
    _record_engines()
    frames = int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "0"))
    if frames:
        tracemalloc.start(frames)
    if "BENCH_SNAPSHOT_DIR" in os.environ:
        _snapshots(Path(os.environ["BENCH_SNAPSHOT_DIR"]))
        _time_trims()
    from bot.__main__ import main as bot_main

    return bot_main([])


if __name__ == "__main__":
    sys.exit(main())
