"""Side-by-side timing shared by the benchmarks: rounds interleaved so load from other processes hits every run alike."""

import statistics
import time


def interleaved_medians(runs, rounds, warmup=2):
    """``{name: median seconds}`` of ``runs`` (``{name: callable}``), each called ``warmup`` times first (tracing), then
    once per round, in turn, for ``rounds`` rounds."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}
