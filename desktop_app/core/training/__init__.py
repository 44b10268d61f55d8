"""Training: typed configs, folder datasets, degradations, and the trainer lifecycle that both
the shipped weights and the training dialog use."""
