"""Value checks for trial settings and the sweep file: each returns the normalised value
or raises Invalid.

A check is a function of one value. It knows nothing of files or key paths: its callers
(``models.config.TrialConfig``, the sweep-file loader in ``sweep/config/sweep_file.py``)
turn its problem ("must be an integer >= 2") into an error naming the key and the value.
"""
from __future__ import annotations

import math
from typing import Any, Callable


class Invalid(Exception):
    """A value a check refuses; the message is the problem, e.g. 'must be true or false'."""


def integer(lo: int | None = None) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise Invalid("must be an integer")
        if lo is not None and v < lo:
            raise Invalid(f"must be an integer >= {lo}")
        return v
    return check


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = True) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                v = float(v)
            except ValueError:
                raise Invalid("must be a number") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise Invalid("must be a finite number")
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise Invalid(f"must be {'>' if lo_open else '>='} {lo}")
        if hi is not None and (v > hi or (hi_open and v == hi)):
            raise Invalid(f"must be {'<' if hi_open else '<='} {hi}")
        return float(v)
    return check


def boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise Invalid("must be true or false")
    return v


def one_of(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in options:
            raise Invalid(f"must be one of {', '.join(options)}")
        return v
    return check


def string(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise Invalid("must be a non-empty string")
    return v


def optional(check: Callable) -> Callable:
    return lambda v: None if v is None else check(v)


def auto_or(check: Callable) -> Callable:
    return lambda v: v if v == "auto" else check(v)


def list_of(check: Callable) -> Callable:
    def run(v: Any) -> tuple:
        if not isinstance(v, list) or not v:
            raise Invalid("must be a non-empty list")
        out = tuple(check(x) for x in v)
        if len(set(out)) != len(out):
            raise Invalid("holds a duplicate value")
        return out
    return run


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def duration(v: Any) -> float:
    """Seconds, from a number of seconds or a string such as '90s', '5m', '1.5h'."""
    if isinstance(v, str) and v.strip() and v.strip()[-1] in _UNITS:
        text, unit = v.strip()[:-1], _UNITS[v.strip()[-1]]
    else:
        text, unit = v, 1.0
    try:
        seconds = number(0.0, hi_open=False)(text) * unit
    except Invalid:
        raise Invalid("must be a duration >= 0 such as 300, '90s', '5m' or '1h'") from None
    return seconds
