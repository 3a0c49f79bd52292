"""Operators' format patterns (``ProfileField.pattern``), run by RE2.

A pattern is matched against customers' answers: with Python's backtracking engine a pattern
such as ``([a-z]+)+`` takes exponential time on a crafted answer and ties up a worker. RE2
(``google-re2``) matches in time linear in the answer, and refuses the constructs that need
backtracking (back-references, look-around), which the admin form reports.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2


class PatternInvalid(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is reported to the operator, not logged
    return options


@lru_cache(maxsize=256)
def pattern_compile(pattern: str) -> Any:
    """The compiled ``pattern`` (cached), or ``PatternInvalid``."""
    try:
        return re2.compile(pattern, options=_options())
    except re2.error as error:
        message = error.args[0] if error.args else error
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise PatternInvalid(str(message)) from None


def pattern_fullmatch(pattern: str, text: str) -> bool | None:
    """Whether the whole of ``text`` matches ``pattern``; None when the pattern is invalid."""
    try:
        compiled = pattern_compile(pattern)
    except PatternInvalid:
        return None
    return compiled.fullmatch(text) is not None
