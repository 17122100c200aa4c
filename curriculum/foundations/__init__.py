"""Part 1, foundations (weeks 1-8): Python, NumPy, linear algebra, calculus, MLPs, PyTorch."""
