"""A token bucket per key and scope, in memory (one process serves a given store)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping


class RateLimiter:
    """Buckets of `per_minute[scope]` tokens refilled continuously, one bucket per name."""

    def __init__(
        self, per_minute: Mapping[str, float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rates = {scope: rate / 60.0 for scope, rate in per_minute.items()}
        self._capacity = dict(per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str, scope: str) -> float:
        """Take one token from bucket `name`: 0 when granted, else seconds until one is due."""
        rate = self._rates.get(scope)
        if rate is None:
            return 0.0
        capacity = max(1.0, self._capacity[scope])
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(name, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / rate
