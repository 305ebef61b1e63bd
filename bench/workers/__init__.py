"""Scripts the benchmarks run in child processes (some inside the baselines' venvs)."""
