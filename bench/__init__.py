"""Benchmarks of memories_magics against what users would pick instead.

Run everything with ``./dev bench`` (``.venv/bin/python bench/run.py``). Each measurement group is
a module with a ``main() -> list[Figure]`` that :mod:`bench.run` runs in a fresh process.
Nothing in this package asserts on time: it prints figures and ratios.
"""
