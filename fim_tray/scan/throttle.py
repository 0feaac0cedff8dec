"""A cap on how fast scans read files: a token bucket of bytes per second, shared by threads."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MB = 1_000_000  # MB/s as fim-tray prints sizes elsewhere ("310.2 MB hashed" is bytes / 1e6)
STEP = 0.05  # seconds: the longest single sleep, so a stop ends a wait within about this long
BURST = 0.25  # seconds of reading that idle time may save up, at the full rate
MIN_MB_PER_S = 0.1  # the least cap: below it a check of a big file would not end
MAX_MB_PER_S = 100_000.0  # the highest cap taken: 100 GB/s, faster than any disk reads


class Throttle:
    """At most ``rate`` bytes a second on average, across every thread that charges it.

    A read is charged after it happened (:meth:`charge`), so the bucket may go into debt: the
    thread that charged sleeps until the debt is paid off. Threads charging together each see
    the debt of the others, so together they keep to the rate. The bucket starts empty (a scan
    does not open with a full-speed burst) and saves up at most ``burst`` seconds of reading
    while nothing is read, say while the walk lists folders.

    ``clock`` and ``sleep`` are injectable so tests run on a fake clock, exactly and fast.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = BURST,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"a throttle needs a positive rate in bytes per second, not {rate}")
        self.rate = float(rate)
        self._capacity = self.rate * max(0.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._last = clock()

    def charge(self, nbytes: int, cancelled: Callable[[], bool] | None = None) -> bool:
        """Count ``nbytes`` just read and wait until they fit the rate. False when
        ``cancelled`` said so during the wait (asked every STEP seconds), True otherwise."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= nbytes
            debt = -self._tokens
        if debt <= 0:
            return True
        return self._wait(debt / self.rate, cancelled)

    def _wait(self, seconds: float, cancelled: Callable[[], bool] | None) -> bool:
        # Small steps rather than one long sleep: a cancelled scan must not sit out its debt.
        deadline = self._clock() + seconds
        while True:
            if cancelled is not None and cancelled():
                return False
            left = deadline - self._clock()
            if left <= 0:
                return True
            self._sleep(min(left, STEP))


def throttle_for(mb_per_s: float | None) -> Throttle | None:
    """A throttle for a cap in MB/s; None (no cap) for 0 or None, and for a cap no disk reaches
    (above :data:`MAX_MB_PER_S`, or not a finite number): such a cap holds nothing back."""
    if not mb_per_s or not (0 < mb_per_s <= MAX_MB_PER_S):
        return None
    return Throttle(mb_per_s * MB)


def check_mb_per_s(value: object) -> float:
    """``value`` as a cap in MB/s: a finite number, 0 or more (0 is no cap). ``ValueError``
    otherwise; the caller names the setting or option in its message."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    if value == math.inf:  # no disk reaches it (JSON's 1e999): no cap, as a 0 is
        return 0.0
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"not a number of MB/s from 0 up: {value!r}")
    if 0 < value < MIN_MB_PER_S:  # a crawl that would never end a check: the least cap
        return MIN_MB_PER_S
    return float(value)
