"""Runnable benchmarks; each script prints a table and appends to benchmarks/results/."""
