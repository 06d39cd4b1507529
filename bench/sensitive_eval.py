"""Precision and recall of the sensitive-data scanner per detector kind, on the labelled corpus.

    python bench/sensitive_eval.py [--samples 4000] [--seed 1]

A detection counts as correct only with the gold kind and exactly the gold
span. Every detector module in gateway/sensitive/detectors/ runs, through
the scanner with its default confidence floor.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sensitive_corpus import KINDS, corpus  # noqa: E402

from gateway.sensitive.scanner import Scanner, builtin_detectors  # noqa: E402


def evaluate(samples: int, seed: int) -> dict[str, tuple[int, int, int]]:
    """kind -> (true positives, false positives, false negatives)."""
    scanner = Scanner(builtin_detectors())
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for sample in corpus(samples, seed):
        gold = set(sample.gold)
        found = {(d.start, d.end, d.kind) for d in scanner.scan(sample.text)}
        for _s, _e, kind in found & gold:
            tp[kind] += 1
        for _s, _e, kind in found - gold:
            fp[kind] += 1
        for _s, _e, kind in gold - found:
            fn[kind] += 1
    kinds = list(dict.fromkeys([*KINDS, *scanner.kinds, *fp]))
    return {k: (tp[k], fp[k], fn[k]) for k in kinds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{'kind':<14}{'precision':>10}{'recall':>8}{'tp':>7}{'fp':>6}{'fn':>6}")
    for kind, (tp, fp, fn) in evaluate(args.samples, args.seed).items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{kind:<14}{precision:>10.4f}{recall:>8.4f}{tp:>7}{fp:>6}{fn:>6}")


if __name__ == "__main__":
    main()
