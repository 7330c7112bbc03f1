"""``cpd``, the operator's command line: run the platform, seed, republish, dead letters."""
