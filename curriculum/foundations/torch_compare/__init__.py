"""Weeks 7-8: the NumPy MLP rebuilt in PyTorch, shown to compute the same numbers."""
