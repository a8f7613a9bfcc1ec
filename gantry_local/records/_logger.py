"""The log calls: validate on the caller's thread, buffer, return. Writing happens elsewhere.

`RecordLogger` holds what both kinds of call share (the buffer, the clock, the join-key
source); the single-record hot path lives in `_single` and batch ingestion in `_many`.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable
from functools import partial

from ..clock import Clock, SystemClock
from . import _inputs as args
from ._buffer import LogBuffer
from ._many import ManyRecords
from ._single import AppState, SingleRecords

__all__ = ["AppState", "RecordLogger"]


class RecordLogger(SingleRecords, ManyRecords):
    """Validates log calls and queues them on a `LogBuffer`."""

    def __init__(self, buffer: LogBuffer, clock: Clock, chunk_records: int = 50_000) -> None:
        self._buffer = buffer
        self._system_clock = type(clock) is SystemClock
        self._now_us: Callable[[], int] = partial(args.clock_us, clock)
        self._prefix = os.urandom(8).hex() + "-"
        self._counter = itertools.count(1)
        self._batch_ids = itertools.count(1)
        self._random = random.Random()
        self._chunk = max(1, min(chunk_records, buffer.capacity))
        self._frame_chunk = buffer.arrow_chunk
        self.careful_calls = 0  # log_record calls that missed the fast path (for tests)
