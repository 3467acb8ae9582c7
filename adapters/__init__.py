"""Maatwerk Hub adapters: the SDK (:mod:`adapters.sdk`) and the reference adapters."""
