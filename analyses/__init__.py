"""Analyses of trained networks: activity statistics, representations, audits, plausibility."""
