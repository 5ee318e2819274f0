"""Peak resident memory of a process together with all its descendants, sampled from /proc.

The kernel's accounting (wait4's ru_maxrss) covers the measured process alone. A Spark deployment's rules run in a
JVM that pyspark starts as a child of the load, so its memory would be missing from the figure: this sampler adds
up the resident set of the whole process tree every quarter of a second and keeps the highest sum, and every sample
with its time (so the benchmark can give each stage of a load its own peak). Pages shared
between processes count once per process, so the sum can overstate a little (a JVM and a Python process share
little beyond their libraries); a child that outlives its parent leaves the tree and the sum.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
_PROC = Path("/proc")


def _children() -> dict[int, list[int]]:
    """Every live process's children, by parent pid."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # the command name (field 2) is in parentheses and may contain spaces: the parent pid follows the last ")"
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):  # it ended while we looked
            continue
        children.setdefault(parent, []).append(int(entry.name))
    return children


def tree_rss(pid: int) -> int:
    """Bytes resident in pid and all its descendants now."""
    children, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):  # it ended while we looked
            total += int((_PROC / str(current) / "statm").read_text().split()[1]) * _PAGE
        todo.extend(children.get(current, []))
    return total


class TreePeak:
    """Samples tree_rss(pid) in a thread until stopped; .peak is the highest sum seen, in bytes, and .samples every
    (epoch seconds, bytes) taken."""

    def __init__(self, pid: int, interval_s: float = 0.25) -> None:
        self.pid, self.interval_s, self.peak = pid, interval_s, 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss(self.pid)
            self.samples.append((time.time(), rss))
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval_s)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def stage_peaks(samples: list[tuple[float, int]], starts: list[tuple[float, str]]) -> dict[str, int]:
    """The highest sample of each stage, in bytes: a sample belongs to the last stage started at or before it
    (`starts`: (epoch seconds, stage) in order); samples before the first stage are left out."""
    peaks: dict[str, int] = {}
    for at, rss in samples:
        current = None
        for start, stage in starts:
            if start > at:
                break
            current = stage
        if current is not None:
            peaks[current] = max(peaks.get(current, 0), rss)
    return peaks
