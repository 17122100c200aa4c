"""Byte-level BPE with GPT-4-style pre-tokenization, trained on Shakespeare."""
