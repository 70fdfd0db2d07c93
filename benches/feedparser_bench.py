#!/usr/bin/env python3
"""The reference a user would otherwise reach for: Python's feedparser parsing
the same feed files the glas crawl benchmark writes, on one core.

    python3 benches/feedparser_bench.py DIR/feeds

Prints items, seconds, items/s and peak memory (ru_maxrss).
"""

import resource
import sys
import time
from pathlib import Path

import feedparser


def main():
    files = sorted(Path(sys.argv[1]).glob("*.xml"))
    blobs = [f.read_bytes() for f in files]
    t = time.perf_counter()
    items = 0
    for b in blobs:
        d = feedparser.parse(b)
        items += len(d.entries)
    dt = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"feedparser {feedparser.__version__} parse only (1 thread): {dt:7.3f} s  {items / dt:10.0f} items/s  items {items}  peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
