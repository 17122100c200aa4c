"""A GPT from scratch: model, training loop, sampling with a KV cache."""
