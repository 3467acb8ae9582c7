"""``maatwerk-hub sign|verify|schemas``: the message contract from the command line."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Filled in with sign, verify and schemas export/check."""
