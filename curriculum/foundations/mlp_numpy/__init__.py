"""Weeks 5-6: a multi-layer perceptron in NumPy, every gradient checked, trained on MNIST."""
