"""MeltanoLabs target-postgres with two accelerations for pNEUMA's large number arrays."""
