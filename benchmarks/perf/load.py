"""Loading a LaMP-3-scale split: ropg's validated ``load_split`` against a bare ``json.load``.

Writes a synthetic LaMP-3-shaped train split (``--questions`` questions, ``--profile`` items
each, ``--words`` words per review) to a temporary directory, then measures wall time and peak
memory of (a) the reference's ``json.load`` of the questions and outputs and (b) ropg's
``load_split`` (which also validates every record and profile item), each in a fresh process.
Run: ``python benchmarks/perf/load.py [--questions 20000 --profile 100]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """
import json, resource, sys, time
start = time.perf_counter()
if sys.argv[1] == "json":
    questions = json.load(open(sys.argv[2] + "/time/LaMP_3/train/train_questions.json"))
    outputs = json.load(open(sys.argv[2] + "/time/LaMP_3/train/train_outputs.json"))
    count = len(questions)
else:
    from ropg.lamp import load_split
    count = len(load_split(sys.argv[2], "LaMP-3", "train"))
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "peak_mb": peak, "count": count}))
"""


def write_split(root: Path, questions: int, profile: int, words: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    folder = root / "time" / "LaMP_3" / "train"
    folder.mkdir(parents=True)
    prefix = (
        "What is the score of the following review on a scale of 1 to 5? just answer with "
        "1, 2, 3, 4, or 5 without further explanation. review: "
    )
    with (folder / "train_questions.json").open("w") as stream:
        stream.write("[")
        for q in range(questions):
            items = [
                {
                    "id": f"{q}-{i}",
                    "text": " ".join(rng.choices(vocab, k=words)),
                    "score": str(rng.randint(1, 5)),
                    "date": "2020-01-01",
                }
                for i in range(profile)
            ]
            record = {
                "id": str(q),
                "input": prefix + " ".join(rng.choices(vocab, k=words)),
                "profile": items,
                "user_id": str(q),
            }
            stream.write(("," if q else "") + json.dumps(record))
        stream.write("]")
    golds = [{"id": str(q), "output": str(rng.randint(1, 5))} for q in range(questions)]
    (folder / "train_outputs.json").write_text(json.dumps({"task": "LaMP_3", "golds": golds}))
    return (folder / "train_questions.json").stat().st_size


def probe(mode: str, root: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(root)], check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=20000)
    parser.add_argument("--profile", type=int, default=100)
    parser.add_argument("--words", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        size = write_split(root, args.questions, args.profile, args.words)
        baseline, ropg = probe("json", root), probe("ropg", root)
    print(
        f"data: {args.questions} questions x {args.profile} profile items "
        f"({args.questions * args.profile:,} items), {size / 1e6:.0f} MB questions file"
    )
    print(f"hardware: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"json.load (reference): {baseline['seconds']:.2f} s, peak {baseline['peak_mb']:.0f} MB")
    print(f"ropg load_split:       {ropg['seconds']:.2f} s, peak {ropg['peak_mb']:.0f} MB")
    print(
        f"time ratio ropg/json: {ropg['seconds'] / baseline['seconds']:.2f}x, "
        f"memory ratio: {ropg['peak_mb'] / baseline['peak_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
