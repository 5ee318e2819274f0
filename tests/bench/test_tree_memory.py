"""The benchmark's process-tree memory sampler counts a grandchild's memory (as a Spark load's JVM is) and gives each
stage of a load its own peak."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bench.tree_memory import TreePeak, stage_peaks, tree_rss

_GRANDCHILD = "import time; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1.5)"


def test_the_peak_includes_a_grandchilds_memory():
    parent = textwrap.dedent(
        f"""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {_GRANDCHILD!r}], check=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", parent])
    sampler = TreePeak(proc.pid, interval_s=0.05)
    proc.wait()
    peak = sampler.stop()
    assert proc.returncode == 0
    # the grandchild touched 300 MiB; the parent alone holds some 10 MiB
    assert peak >= 300 * 2**20


def test_a_process_that_has_ended_holds_nothing():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert tree_rss(proc.pid) == 0


def test_each_sample_counts_for_the_stage_running_when_it_was_taken():
    starts = [(100.0, "启动"), (103.0, "读取"), (110.0, "计算")]
    samples = [(99.0, 999), (100.5, 10), (103.0, 40), (105.0, 30), (111.0, 70), (120.0, 20)]
    assert stage_peaks(samples, starts) == {"启动": 10, "读取": 40, "计算": 70}
