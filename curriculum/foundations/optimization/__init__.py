"""Week 4: gradient descent and its descendants from scratch; a 2-layer net's gradients by hand."""
