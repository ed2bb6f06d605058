"""Several processes on a CPU (``torchrun``): feedback shards merge, training syncs gradients.

Real launches of two processes on the gloo backend. Feedback: the merged file equals the
one-process file. Training (KD, a tiny BERT without dropout): the weights after two processes
equal those after one process over the same effective batches, which holds only if each step
averages the gradients of both processes exactly once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import save_tiny_bert

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from ropg.cli.feedback import main as feedback_main  # noqa: E402
from ropg.lamp.synthetic import sample_path  # noqa: E402
from ropg.training import RopgTrainConfig, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_two(module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", module, *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def feedback_args(out: Path, logging_flag: str = "-q") -> list[str]:
    return [
        "candidates", "--data", str(sample_path()), "--task", "LaMP-2", "--split", "train",
        "--retriever", "bm25", "--candidates", "4", "--llm", "reader:profile",
        "--out", str(out), "--no-progress", logging_flag,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def single_feedback(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("feedback") / "single.jsonl"
    assert feedback_main(feedback_args(out)) == 0
    return out


def test_two_processes_write_the_one_process_feedback_file(single_feedback, tmp_path):
    out = tmp_path / "two.jsonl"
    done = launch_two("ropg.cli.feedback", feedback_args(out, "-v"), tmp_path)
    assert "two.jsonl.shard0of2: 34 examples" in done.stderr  # each process took half
    assert "two.jsonl.shard1of2: 34 examples" in done.stderr
    assert out.read_bytes() == single_feedback.read_bytes()
    assert not list(tmp_path.glob("two.jsonl.shard*"))  # merged and removed


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, bert_tokenizer) -> Path:
    return save_tiny_bert(
        tmp_path_factory.mktemp("tiny_bert"), bert_tokenizer, num_hidden_layers=1,
        max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip


TRAIN = {
    "method": "kd", "task": "LaMP-2", "candidates": 4, "max_length": 64, "epochs": 1,
    "limit_train": 34,  # 32 after the 2 short profiles of the sample are left out
    "per_device_batch_size": 4, "effective_batch_size": 16, "lr": 1e-3,
    "weight_decay": 0.01,  # decays only parameters with a gradient: the pooler has none
    "tokens_per_forward": 96,  # several forward calls per batch, a varying number per process
}  # fmt: skip


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_two_processes_train_the_same_weights_as_one(single_feedback, tiny_bert, tmp_path):
    settings = {**TRAIN, "data": str(sample_path()), "model": str(tiny_bert)}
    one = train(
        RopgTrainConfig.from_dict(
            {
                **settings,
                "train_feedback": [str(single_feedback)],
                "output_dir": str(tmp_path / "one"),
            }
        )
    )
    assert one.completed and one.metrics["run"]["processes"] == 1
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in settings.items()]
    two_dir = tmp_path / "two"
    launch_two(
        "ropg.cli.train",
        [*flags, f"--train-feedback={single_feedback}", f"--output-dir={two_dir}", "-q"],
        tmp_path,
    )
    metrics = json.loads((two_dir / "metrics.json").read_text())
    assert metrics["run"]["processes"] == 2
    assert metrics["run"]["gradient_accumulation_steps"] == 2  # 2 x 2 x 4 = 16 per step
    assert metrics["run"]["train_examples"] == one.metrics["run"]["train_examples"] == 32
    start, expected, found = weights(tiny_bert), weights(one.output_dir), weights(two_dir)
    assert expected.keys() == found.keys()
    assert any(not torch.equal(expected[name], start[name]) for name in expected)  # it trained
    for name, tensor in expected.items():
        assert torch.allclose(tensor, found[name], atol=1e-5), name
