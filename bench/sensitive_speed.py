"""MB/s of the sensitive-data scanner with every detector, on one core.

    python bench/sensitive_speed.py [--size 20000000] [--rounds 3]

Three texts from the corpus generator: ``helpdesk`` (short messages as
tickets hold them: one value in about ten messages, some lookalike
numbers), ``dense`` (several values and lookalikes in every message) and
``tickets`` (whole tickets: a few sentences, a signature with a phone
number or an address now and then, often the quoted reply with the
support team's signature; a value with its label in one ticket in five).
MB is 10^6 characters of text; the best of the rounds is printed.

Speed depends on how much there is to look at, so each row also says how
dense its text is: the prefilter's triggers and the detections found per
100 000 characters, and the time per trigger. Text with no trigger at all
is scanned at the prefilter's own speed (``nothing``: the ``tickets``
prose without its numbers and addresses).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sensitive_corpus import helpdesk_text, ticket_text  # noqa: E402

from gateway.sensitive.scanner import Scanner, builtin_detectors  # noqa: E402


def measure(scanner: Scanner, text: str, rounds: int) -> tuple[float, int]:
    """(best seconds of CPU time for one scan, detections found)."""
    best = float("inf")
    found = 0
    for _ in range(rounds):
        start = time.process_time()
        found = len(scanner.scan(text))
        best = min(best, time.process_time() - start)
    return max(best, 1e-9), found


def texts(size: int) -> list[tuple[str, str]]:
    tickets = ticket_text(size, seed=7)
    return [
        ("helpdesk", helpdesk_text(size, seed=7)),
        ("dense", helpdesk_text(size, seed=7, dense=True)),
        ("tickets", tickets),
        ("nothing", re.sub(r"[0-9@]", "x", tickets)),  # no digit and no address: no trigger
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000_000, help="characters of text per kind")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scanner = Scanner(builtin_detectors())
    print(f"{'text':<10}{'MB/s':>8}{'detections':>12}{'triggers/100K':>15}{'found/100K':>12}{'us/trigger':>12}")
    for name, text in texts(args.size):
        seconds, found = measure(scanner, text, args.rounds)
        triggers = len(scanner.triggers(text))
        per = 100_000 / len(text)
        cost = f"{seconds / triggers * 1e6:.1f}" if triggers else "-"
        print(f"{name:<10}{len(text) / 1e6 / seconds:>8.1f}{found:>12}{triggers * per:>15.1f}{found * per:>12.1f}"
              f"{cost:>12}")


if __name__ == "__main__":
    main()
