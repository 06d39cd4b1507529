"""MB/s of the sensitive-data scanner with every detector, on one core.

    python bench/sensitive_speed.py [--size 20000000] [--rounds 3]

Two texts from the corpus generator: ``helpdesk`` (messages as tickets
hold them: one value in about ten messages, some lookalike numbers) and
``dense`` (several values and lookalikes in every message). MB is 10^6
characters of text; the best of the rounds is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sensitive_corpus import helpdesk_text  # noqa: E402

from gateway.sensitive.scanner import Scanner, builtin_detectors  # noqa: E402


def measure(text: str, rounds: int) -> tuple[float, int]:
    scanner = Scanner(builtin_detectors())
    best = float("inf")
    found = 0
    for _ in range(rounds):
        start = time.process_time()
        found = len(scanner.scan(text))
        best = min(best, time.process_time() - start)
    return len(text) / 1e6 / max(best, 1e-9), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000_000, help="characters of text per kind")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'text':<10}{'MB/s':>8}{'detections':>12}")
    for name, dense in (("helpdesk", False), ("dense", True)):
        text = helpdesk_text(args.size, seed=7, dense=dense)
        rate, found = measure(text, args.rounds)
        print(f"{name:<10}{rate:>8.1f}{found:>12}")


if __name__ == "__main__":
    main()
