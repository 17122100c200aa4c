"""A model transformers loads from a GGUF must be trainable and savable like any other: the
LoRA run trains on such a model, then merges in float32 and saves it."""

from __future__ import annotations

import torch

from curriculum.finetuning.gguf_export import export_gguf, load_dequantized
from curriculum.finetuning.lora.lora import inject_lora
from curriculum.finetuning.lora.train import save_merged


def test_a_gguf_loaded_model_merges_in_float32_and_saves(tiny, packaged_home, tmp_path):
    _, folder = tiny
    gguf_path = export_gguf(folder, tmp_path / "tiny" / "model.gguf", "f16")

    loaded = load_dequantized(gguf_path, torch.bfloat16)
    assert not getattr(loaded, "is_quantized", False)
    assert getattr(loaded, "hf_quantizer", None) is None
    assert next(loaded.parameters()).dtype == torch.bfloat16

    # The full LoRA run's path after training: adapters on, a float32 merge, a stock save.
    q_proj = "model.layers.0.self_attn.q_proj"
    base = loaded.get_submodule(q_proj).weight.detach().float().clone()
    inject_lora(loaded, r=4, alpha=8)
    adapted = loaded.get_submodule(q_proj)
    torch.nn.init.normal_(adapted.lora_B, std=0.02)  # a trained adapter is not zero
    b, a = adapted.lora_B.detach().float(), adapted.lora_A.detach().float()
    expected = base + b @ a * adapted.scaling

    saved = save_merged(loaded, _tokenizer(gguf_path), tmp_path / "merged")

    assert (saved / "config.json").is_file() and list(saved.glob("*.safetensors"))
    merged = loaded.get_submodule(q_proj).weight
    assert merged.dtype == torch.float32
    assert not torch.equal(merged, base)
    torch.testing.assert_close(merged.detach(), expected, rtol=0, atol=1e-6)


def _tokenizer(gguf_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
