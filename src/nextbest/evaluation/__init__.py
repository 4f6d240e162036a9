"""Off-policy evaluation: what a candidate bundle would have earned on logged traffic."""
