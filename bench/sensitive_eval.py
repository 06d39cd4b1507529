"""Precision and recall of the sensitive-data scanner per detector kind, on the labelled corpus.

    python bench/sensitive_eval.py [--samples 4000] [--seed 1] [--show-errors N]

A detection counts as correct only with the gold kind and exactly the gold
span. ``--show-errors N`` also prints up to N false positives and N false
negatives per kind with the text around them (for tuning context words).
Every detector module in gateway/sensitive/detectors/ runs, through
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


def evaluate(samples: int, seed: int, errors: list[str] | None = None,
             show: int = 0) -> dict[str, tuple[int, int, int]]:
    """kind -> (true positives, false positives, false negatives); up to ``show`` misses per kind go to ``errors``."""
    scanner = Scanner(builtin_detectors())
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for sample in corpus(samples, seed):
        gold = set(sample.gold)
        found = {(d.start, d.end, d.kind) for d in scanner.scan(sample.text)}
        for _s, _e, kind in found & gold:
            tp[kind] += 1
        for s, e, kind in found - gold:
            fp[kind] += 1
            if errors is not None and fp[kind] <= show:
                errors.append(_error("FP", kind, sample.text, s, e, gold))
        for s, e, kind in gold - found:
            fn[kind] += 1
            if errors is not None and fn[kind] <= show:
                errors.append(_error("FN", kind, sample.text, s, e, found))
    kinds = list(dict.fromkeys([*KINDS, *scanner.kinds, *fp]))
    return {k: (tp[k], fp[k], fn[k]) for k in kinds}


def _error(what: str, kind: str, text: str, start: int, end: int, other: set[tuple[int, int, str]]) -> str:
    """One misclassified value: its kind, the value marked in its context, what the other side had overlapping it."""
    around = text[max(0, start - 60):start] + "[[" + text[start:end] + "]]" + text[end:end + 30]
    overlap = sorted(k for s, e, k in other if s < end and e > start)
    instead = f" (instead: {', '.join(overlap)})" if overlap else ""
    return f"{what} {kind}{instead}: {around!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show-errors", type=int, default=0, metavar="N",
                        help="print up to N false positives and N false negatives per kind")
    args = parser.parse_args()
    errors: list[str] = []
    rows = evaluate(args.samples, args.seed, errors, args.show_errors)
    print(f"{'kind':<14}{'precision':>10}{'recall':>8}{'tp':>7}{'fp':>6}{'fn':>6}")
    for kind, (tp, fp, fn) in rows.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{kind:<14}{precision:>10.4f}{recall:>8.4f}{tp:>7}{fp:>6}{fn:>6}")
    if errors:
        print()
        print("\n".join(sorted(errors)))


if __name__ == "__main__":
    main()
