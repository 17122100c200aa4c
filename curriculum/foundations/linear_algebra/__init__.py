"""Week 3: SVD image compression; singular values by the power method with deflation."""
