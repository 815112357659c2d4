"""Data: the Kuavo schema, the synthetic dataset, splits and loading helpers."""
