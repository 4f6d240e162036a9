"""Exploration: policies that sometimes show other offers than the best, and the exact
probability of each offer at each rank that they log."""
