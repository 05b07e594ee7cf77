"""Errors that mean "the user gave us something wrong": the CLI prints them as one line, exit 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: a malformed config, a broken genotype file, a missing data path, a bad run dir.

    The message is one line that names what is wrong and, where it helps, what to do about it.
    """
