"""LoRA adapters (``adapter: lora``): only the adapter trains, only the adapter is saved, and
every loader gets the base model with the adapter merged (the same outputs)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from benchmark_fixtures import save_tiny_bert

from ropg.retrievers.adapters import BASE_RECORD, apply_adapter, record_base
from ropg.retrievers.encoder import load_model_and_tokenizer
from ropg.training.config import RopgTrainConfig

LORA = SimpleNamespace(adapter="lora", lora_rank=4, lora_alpha=8, lora_dropout=0.0, lora_targets=[])


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("base") / "bert")


def test_only_the_adapter_trains_and_is_saved_and_loads_merged(base: Path, tmp_path) -> None:
    model, tokenizer = load_model_and_tokenizer(str(base))
    adapted = apply_adapter(model, LORA)
    trainable = {name for name, p in adapted.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    with torch.no_grad():  # as if trained: the adapter's B matrices leave zero
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    adapted.eval()
    out = tmp_path / "trained"
    adapted.save_pretrained(out)
    tokenizer.save_pretrained(out)
    record_base(adapted, out)
    assert not (out / "model.safetensors").exists() and (out / BASE_RECORD).is_file()
    size = sum(path.stat().st_size for path in out.iterdir())
    weights = (base / "model.safetensors").stat().st_size
    assert (out / "adapter_model.safetensors").stat().st_size < weights / 4
    loaded, _ = load_model_and_tokenizer(str(out))
    batch = tokenizer(["the movie review", "a news title"], return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = adapted(**batch).last_hidden_state
        merged = loaded.eval()(**batch).last_hidden_state
        untouched, _ = load_model_and_tokenizer(str(base))
        plain = untouched.eval()(**batch).last_hidden_state
    torch.testing.assert_close(merged, expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapter changed the encoder
    assert size < (base / "model.safetensors").stat().st_size


def test_no_adapter_leaves_the_model_alone(base: Path) -> None:
    model, _ = load_model_and_tokenizer(str(base))
    assert apply_adapter(model, SimpleNamespace(adapter="none")) is model


def test_adapter_settings_are_checked() -> None:
    values = {
        "method": "kd",
        "task": "LaMP-2",
        "train_feedback": ["f"],
        "output_dir": "o",
        "model": "m",
    }
    assert RopgTrainConfig.from_dict({**values, "adapter": "lora"}).lora_rank == 8
    with pytest.raises(ValueError, match="adapter: one of"):
        RopgTrainConfig.from_dict({**values, "adapter": "prefix"})
