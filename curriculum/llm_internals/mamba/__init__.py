"""A simplified Mamba: the selective state-space block, its scan, and a small language model."""
