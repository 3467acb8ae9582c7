"""Benchmarks of Maatwerk Hub (see bench/README.md)."""
