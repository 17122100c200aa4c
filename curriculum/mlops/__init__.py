"""Curriculum part 3, MLOps: experiment tracking, distributed training, evaluation."""
