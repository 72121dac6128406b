"""Group commit: many small writes made at the same moment share one transaction.

A crowd's updates each need a tiny write (an update_id recorded, a message marked sent). One
transaction each means one turn of the database's write lock each — on SQLite, one writer at a
time — and most of the time goes to waiting for that lock and to per-transaction overhead. Here
the first write starts at once; writes that arrive while it runs wait for it and then go
together in the next one. An idle bot writes as before, a busy one in batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

DEFAULT_MAX_BATCH = 256


class GroupCommit(Generic[Item, Result]):
    """Submit items one by one; `write` receives them in batches and returns one result each."""

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be a positive integer")
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, item: Item) -> Result:
        """Write `item` with whatever else is waiting; its result, or the batch's exception.

        If the caller is cancelled, the item is still written with its batch.
        """
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            # No await between the last check of `_pending` and clearing `_writer` below: an
            # item submitted meanwhile either is seen here or starts a new writer.
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write_batch(batch)
        finally:
            self._writer = None

    async def _write_batch(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # every caller of the batch learns of the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.batches += 1
        self.items += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a cancelled caller
                future.set_result(result)
