"""Test-only helpers: fake back offices. Never imported by production code."""
