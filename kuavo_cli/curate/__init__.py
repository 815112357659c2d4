"""Dataset curation: per-episode quality signals and flags, and edits into new datasets (lerobot tools)."""
