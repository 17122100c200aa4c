"""Week 2: matmul from loops to BLAS; a vectorized Titanic pipeline; NumPy logistic regression."""
