"""The compiler on the corpus: equivalent N/N and at-minimal-rounds M/N, as a table.

    .venv/bin/python bench/codegen_corpus.py [--seeds 6] [--folder tests/codegen_corpus]

Each program is compiled, verified on the stand-in runtime (normal results, empty
results, injected failures) and its rounds (max over the runs) compared with the minimum
its header declares. Programs not at the minimum are listed with what held them back.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codegen.corpus import CORPUS_SEEDS, check, corpus_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "tests" / "codegen_corpus")
    parser.add_argument("--seeds", type=int, default=CORPUS_SEEDS)
    args = parser.parse_args()
    started = time.perf_counter()
    results = [check(path, seeds=args.seeds) for path in corpus_files(args.folder)]
    print(f"{'program':32} {'shape':42} {'serial':>6} {'dist':>5} {'min':>4}  verdict")
    for r in results:
        verdict = "NOT EQUIVALENT" if not r.equivalent else "minimal" if r.at_minimum else "above"
        print(
            f"{r.name:32} {r.shape[:42]:42} {r.rounds_serial:>6} {r.rounds_distributed:>5} "
            f"{r.minimal:>4}  {verdict}"
        )
    n = len(results)
    equivalent = sum(r.equivalent for r in results)
    minimal = sum(r.at_minimum for r in results)
    share = 100 * minimal / n
    print(f"\nequivalent {equivalent}/{n}; at minimal rounds {minimal}/{n} ({share:.0f} %)")
    print(f"({args.seeds} seeds x 2 images per program; {time.perf_counter() - started:.0f} s)")
    for r in results:
        if not r.equivalent:
            print(f"  {r.name}: NOT EQUIVALENT: {r.reason}")
        elif not r.at_minimum:
            print(f"  {r.name}: {r.rounds_distributed} rounds, minimum {r.minimal}:")
            for note in r.notes or ["(no note: see the compiler's output)"]:
                print(f"      {note}")


if __name__ == "__main__":
    main()
