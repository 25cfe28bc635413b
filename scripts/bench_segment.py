"""Sentence splitting time against line length: pysbd on the raw line (the old behaviour)
and the package's Segmenter, which cuts long lines at sentence ends first.

    python scripts/bench_segment.py                 # 10k ... 1M characters
    python scripts/bench_segment.py --raw-max 200000  # skip raw pysbd above this length

Prints one row per length: characters, sentences, seconds and characters per second for each.
"""

from __future__ import annotations

import argparse
import time

import pysbd

from stance.data.segment import Segmenter

SENTENCES = [
    "Officials at the Chaman crossing said trucks had waited for a third day.",
    "“We are ready to talk,” the spokesman said, “but not under fire.”",
    "Dr. Rahimi of the U.N. mission said 1.5 million people were affected.",
    "The ministry gave no figures.",
]


def line_of(n_chars: int) -> str:
    """One paragraph of about ``n_chars`` characters, no line breaks."""
    text, i = [], 0
    while sum(map(len, text)) + len(text) < n_chars:
        text.append(SENTENCES[i % len(SENTENCES)])
        i += 1
    return " ".join(text)[:n_chars]


def timed(fn, arg) -> tuple[float, int]:
    t = time.perf_counter()
    out = fn(arg)
    return time.perf_counter() - t, len(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="10000,30000,100000,300000,1000000")
    ap.add_argument("--raw-max", type=int, default=100_000, help="longest line given to raw pysbd (it is slow)")
    args = ap.parse_args()
    raw = pysbd.Segmenter(language="en", clean=False)
    seg = Segmenter()
    print(f"{'chars':>9} {'sentences':>9} {'raw pysbd s':>12} {'raw chars/s':>12} {'Segmenter s':>12} "
          f"{'chars/s':>10}")
    for n in (int(x) for x in args.lengths.split(",")):
        line = line_of(n)
        s_t, s_n = timed(lambda x: seg.split([x]), line)
        if n <= args.raw_max:
            r_t, _ = timed(raw.segment, line)
            raw_cols = f"{r_t:12.2f} {n / r_t:12.0f}"
        else:
            raw_cols = f"{'(skipped)':>12} {'':>12}"
        print(f"{n:9d} {s_n:9d} {raw_cols} {s_t:12.2f} {n / s_t:10.0f}", flush=True)


if __name__ == "__main__":
    main()
