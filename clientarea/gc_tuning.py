"""Garbage-collector settings for request-shaped work.

A request builds many short-lived objects (rows, GraphQL values, dicts) and frees them when the
response is written; the default generation-0 threshold of 700 allocations runs the collector
dozens of times per large response, each pass also walking the long-lived objects of the app.
Freezing what exists after start-up takes those out of every pass, and a higher threshold lets
a request finish before the collector looks.
"""

from __future__ import annotations

import gc

GENERATION_0_THRESHOLD = 50_000


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    _, first, second = gc.get_threshold()
    gc.set_threshold(GENERATION_0_THRESHOLD, first, second)
