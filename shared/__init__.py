"""The domain package of CVPlus video generation: pure decisions (errors, recovery, backoff,
breaker, scoring, trends, degradation, jobs) and, around them, the provider and store seams."""
