"""Curriculum: teach-by-implementing modules (see curriculum/README.md)."""
