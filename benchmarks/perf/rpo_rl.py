"""RPO RL throughput: optimizer steps/s of ``rpo-train --stage rl`` (rollouts + rewards + update).

One step = ``--prompts`` prompts x ``--generations`` samples generated, scored (task + format
reward) and one RLOO update (reference log-probs for the KL included), through the real
stage (:func:`ropg.reflection.rl.train_rl`, trl's ``RLOOTrainer``). Data: the shipped synthetic
sample's LaMP-2 train split, g = "comedy" for every input, items in profile order (speed does
not depend on their quality), the 2 -> 6 curriculum, the default reflection prompt.

Models (random weights, built on the fly; nothing is downloaded):

- ``tiny``: a 2-layer Llama (hidden 64) with a word-level tokenizer over the prompts' words;
- ``qwen0.5b``: a Qwen2 with Qwen2.5-0.5B's shape (24 layers, hidden 896, 14/2 heads, vocab
  151,936; 494M parameters) and a word-level tokenizer padded to that vocabulary.

Rollouts: ``--rollout hf`` (transformers ``generate``; CPU or GPU) or ``--rollout vllm`` (trl's
vLLM colocate mode: a GPU and ``pip install 'ropg[vllm]'``; launch with
``accelerate launch --num_processes 1 benchmarks/perf/rpo_rl.py ...``). ``--compare`` runs hf
and vllm one after the other in fresh processes and prints them side by side. Run::

    python benchmarks/perf/rpo_rl.py --model tiny --steps 12            # CPU, ~1 minute
    python benchmarks/perf/rpo_rl.py --model qwen0.5b --compare --steps 20   # one GPU

Printed: hardware, model size, prompts/generations per step, completion length, steps/s
(wall clock of the training loop), median seconds per step and completions/s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SPECIALS = ["<pad>", "</s>", "<unk>"]
TAGS = ["<reasoning>", "</reasoning>", "<answer>", "</answer>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} "
    "{% if m['role'] == 'assistant' %}{{ eos_token }} {% endif %}{% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)
QWEN_05B = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
}


def tokenizer_for(words: set[str], size: int | None) -> Any:
    """A word-level tokenizer over ``words`` (padded with filler words to ``size``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = SPECIALS + sorted(words - set(SPECIALS) - set(TAGS))
    if size is not None:
        vocabulary += [f"w{i}" for i in range(size - len(vocabulary) - len(TAGS))]
    backend = Tokenizer(
        models.WordLevel(vocab={w: i for i, w in enumerate(vocabulary)}, unk_token="<unk>")
    )
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.add_tokens(TAGS)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(kind: str, directory: Path, texts: list[str]) -> int:
    """Write a random-init model and its tokenizer; its parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    words = {w for text in texts for w in text.split()} | {"user", "assistant", ":"}
    torch.manual_seed(0)
    if kind == "tiny":
        tokenizer = tokenizer_for(words, None)
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=2048, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
        )  # fmt: skip
        model = LlamaForCausalLM(config)
    else:
        tokenizer = tokenizer_for(words, QWEN_05B["vocab_size"])
        config = Qwen2Config(
            **QWEN_05B, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
        )
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return sum(p.numel() for p in model.parameters())


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the RL stage for ``args.steps`` steps; its throughput figures."""
    import torch

    from ropg.lamp import load_split
    from ropg.lamp.synthetic import sample_path
    from ropg.reflection import ReflectionFormat, RpoRlSettings, train_rl

    torch.set_num_threads(args.threads or torch.get_num_threads())
    split = load_split(sample_path(), "LaMP-2", "train")
    split = split.head(args.prompts * args.steps)
    if len(split) < args.prompts * args.steps:
        split.examples[:] = (split.examples * (args.prompts * args.steps // len(split) + 1))[
            : args.prompts * args.steps
        ]
    generics = {e.id: "comedy" for e in split}
    rankings = {e.id: list(range(len(e.profile))) for e in split}
    fmt = ReflectionFormat()
    texts = [fmt.prompt(split.task, e.input, "comedy", e.profile[:6]) for e in split]
    texts.append("Evidence: Edits: change keep to the generic answer no item shows a preference")
    with tempfile.TemporaryDirectory(prefix="rpo-rl-perf-") as tmp:
        root = Path(tmp)
        parameters = build_model(args.model, root / "model", texts)
        settings = RpoRlSettings.load(
            None,
            {
                "task": "LaMP-2", "data": "sample", "output_dir": str(root / "run"),
                "model": str(root / "model"), "lora": "false", "lr": 1e-5,
                "num_generations": args.generations, "prompts_per_step": args.prompts,
                "per_device_batch_size": args.generations * args.prompts,
                "max_completion_length": args.completion_length, "save_steps": 10_000,
                "logging_steps": 1, "use_vllm": args.rollout == "vllm",
                "vllm_gpu_memory_utilization": 0.3, "mixed_precision": "auto",
            },
        )  # fmt: skip
        facts = train_rl(settings, split, generics, rankings)
        history = json.loads((root / "run" / "rl" / "metrics.json").read_text())["log_history"]
    steps = [h for h in history if "step_time" in h]
    runtime = next(h["train_runtime"] for h in history if "train_runtime" in h)
    lengths = [h["completions/mean_length"] for h in steps if "completions/mean_length" in h]
    return {
        "model": args.model,
        "parameters": parameters,
        "rollout": args.rollout,
        "steps": facts["steps"],
        "prompts_per_step": args.prompts,
        "generations": args.generations,
        "max_completion_length": args.completion_length,
        "mean_completion_length": round(statistics.mean(lengths), 1) if lengths else None,
        "steps_per_s": round(facts["steps"] / runtime, 3),
        "median_step_s": round(statistics.median(h["step_time"] for h in steps), 3),
        "completions_per_s": round(facts["steps"] * args.prompts * args.generations / runtime, 1),
    }


def compare(args: argparse.Namespace) -> list[dict[str, Any]]:
    """hf and vllm rollouts, each in a fresh process (vLLM keeps GPU memory until exit)."""
    rows = []
    for rollout in ("hf", "vllm"):
        command = [sys.executable, __file__, "--json", "--rollout", rollout]
        if rollout == "vllm":  # trl's colocated vLLM expects a launched (distributed) process
            launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1"]
            command = [*launch, *command[1:]]
        command += ["--model", args.model, "--steps", str(args.steps)]
        command += ["--prompts", str(args.prompts), "--generations", str(args.generations)]
        command += ["--completion-length", str(args.completion_length)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            rows.append({"rollout": rollout, "error": result.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("tiny", "qwen0.5b"), default="tiny")
    parser.add_argument("--rollout", choices=("hf", "vllm"), default="hf")
    parser.add_argument("--compare", action="store_true", help="hf and vllm side by side")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--prompts", type=int, default=4, help="prompts per step")
    parser.add_argument("--generations", type=int, default=8, help="samples per prompt")
    parser.add_argument("--completion-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from ropg.utils.environment import describe_hardware

    rows = compare(args) if args.compare else [measure(args)]
    if args.json:
        print(json.dumps(rows[-1]))
        return
    print(f"hardware: {describe_hardware()}")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
