"""Run background scans at low CPU priority, so a laptop's owner never feels them."""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

NICE = 10  # of 19: below everything a person runs, above truly idle work


def lower_this_thread() -> bool:
    """Lower the calling thread's priority (and that of threads it starts afterwards, on
    Linux, where the nice value is per thread and inherited). False when the OS refused."""
    try:
        if sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.windll.kernel32
            below_normal = -1  # THREAD_PRIORITY_BELOW_NORMAL
            return bool(kernel32.SetThreadPriority(kernel32.GetCurrentThread(), below_normal))
        if sys.platform.startswith("linux"):
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, NICE))
            return True
        # macOS and the BSDs: the nice value is per process; lower the whole background app.
        os.nice(max(0, NICE - os.nice(0)))
        return True
    except (OSError, AttributeError):
        log.debug("cannot lower the scan priority", exc_info=True)
        return False
