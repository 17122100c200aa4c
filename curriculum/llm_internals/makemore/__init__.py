"""makemore: character-level name models from bigram counts to a WaveNet-style MLP."""
