"""Committed data files of the evaluation sets (a package so that wheels include them)."""
