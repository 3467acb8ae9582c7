"""Isolated environments on the real broker for tests, benchmarks and the demo."""
