"""LLM internals: attention, tokenizers, language models, built from scratch in torch ops."""
