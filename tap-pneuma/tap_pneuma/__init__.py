"""tap-pneuma: a Singer tap for pNEUMA drone trajectory files."""
