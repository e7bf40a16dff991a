"""Restricted parties: list loaders and snapshots, name normalisation (Chinese included), the match
index and scoring, reviewer decisions, and ownership (the 50 % rules)."""
