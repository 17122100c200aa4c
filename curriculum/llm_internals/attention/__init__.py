"""Scaled dot-product attention, causal masking and multi-head attention from torch ops."""
