"""Helpers for the GGUF export (curriculum/finetuning/gguf_export.py)."""
