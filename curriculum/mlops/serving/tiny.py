"""A tiny random Qwen2 with Qwen2.5's real 151,936-token vocabulary, so that the packaged
tokenizer fits it: for quick runs and tests of the export and serving pipeline."""

from __future__ import annotations

from pathlib import Path

QWEN_VOCAB = 151_936


def save_tiny_qwen2(folder: Path, *, tied: bool = True, seed: int = 0, layers: int = 2):
    """Save the model to ``folder`` (config.json + safetensors) and return it. Weights are
    drawn wide (std 0.2) so that greedy choices are rarely near-ties between f32 and f16."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=QWEN_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        tie_word_embeddings=tied, rms_norm_eps=1e-6,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
            else:
                param.normal_(0.0, 0.2)
    model.save_pretrained(folder)
    return model
