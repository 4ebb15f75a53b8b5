"""Benchmarks: each runs this project and a baseline side by side and prints the ratio last."""
