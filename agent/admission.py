"""How many planner answers one process works on at once, first come first served.

The planner's answers are short and CPU-bound in Python. Twenty of them in twenty
threads at once share one interpreter lock: every store call hands it over and waits
behind the others to get it back, so each answer takes as long as all of them together
(and more, in switching). A few at a time, the others waiting in arrival order, finish
the same work sooner and keep waiting times even. Measured in eval/BENCH.md (``ask``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

#: Planner answers worked on at once in one process (the rest wait in arrival order).
PLANNER_SLOTS = 4


class FairSlots:
    """A counting semaphore that serves waiters strictly in arrival order."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots={slots} must be at least 1")
        self._free = slots
        self._lock = threading.Lock()
        self._waiting: deque[threading.Event] = deque()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold one slot for the duration of the block, waiting for one if needed."""
        with self._lock:
            turn = None
            if self._free and not self._waiting:
                self._free -= 1
            else:
                turn = threading.Event()
                self._waiting.append(turn)
        if turn is not None:
            turn.wait()  # the slot is handed over by the holder that leaves
        try:
            yield
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting.popleft().set()
                else:
                    self._free += 1


#: The slots of this process's planner answers.
PLANNER = FairSlots(PLANNER_SLOTS)
