"""Fake credentials built at test time, so that no token-shaped literal sits in the
repository (and no push protection or secret scanner trips over the tests)."""

from __future__ import annotations

import random
import string

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


def fake(alphabet: str, length: int, seed: int = 7) -> str:
    rng = random.Random(seed * 1000 + length)
    return "".join(rng.choice(alphabet) for _ in range(length))


def luhn_complete(prefix: str) -> str:
    """`prefix` plus the check digit that makes it pass Luhn."""
    for check in "0123456789":
        number = prefix + check
        total = 0
        for i, ch in enumerate(reversed(number)):
            d = int(ch)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def iban(country: str, bban: str) -> str:
    """An IBAN with the check digits computed for `bban`."""
    rearranged = bban + country + "00"
    remainder = int("".join(str(int(c, 36)) for c in rearranged)) % 97
    return f"{country}{98 - remainder:02d}{bban}"
