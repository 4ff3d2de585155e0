"""Everything that talks to a model: contestants' generators and judges' comparators.

This package knows nothing of tournaments: given a prompt it returns an answer; given a
prompt and K answers it returns a ranking in tiers over the answers' indices.
"""
