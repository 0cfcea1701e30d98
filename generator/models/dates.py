"""The date-translation task of the learned alignment: written-out dates -> ISO dates.

An input is a date written in one of :data:`FORMATS` and split into words
(``"tuesday 25 march 2021"`` -> ``tuesday · 25 · march · 2021``); its target is the ISO
date read one character at a time (``2 0 2 1 - 0 3 - 2 5``). The words keep whole
numbers whole, so the year is one input token (``2021``, or ``21`` in ``25/03/21``) and
an alignment map shows plainly which inputs each output character reads.

Dates run from 1950-01-01 to 2049-12-31; a two-digit year ``yy`` means 19yy from 50 up
and 20yy below. One day in ten (:func:`is_held_out`) never appears in training, in any
format: the held-out set is drawn from those days only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from attention_atlas.errors import AtlasError

__all__ = [
    "FIRST_DAY",
    "FORMATS",
    "LAST_DAY",
    "TARGET_VOCAB",
    "DateExample",
    "example",
    "is_held_out",
    "iso_tokens",
    "sample_dates",
    "sample_examples",
    "source_vocabulary",
    "tokenize",
    "written",
]

FIRST_DAY = dt.date(1950, 1, 1)
LAST_DAY = dt.date(2049, 12, 31)

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: The output alphabet: ISO dates are digits and dashes.
TARGET_VOCAB: tuple[str, ...] = tuple("0123456789-")

#: What a word plays in its date: the year's words are the ones the year digits should read.
Role = str


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _year(day: dt.date) -> tuple[str, Role]:
    return str(day.year), "year"


def _yy(day: dt.date) -> tuple[str, Role]:
    return f"{day.year % 100:02d}", "year"


def _month(day: dt.date) -> tuple[str, Role]:
    return MONTHS[day.month - 1], "month"


def _mon(day: dt.date) -> tuple[str, Role]:
    return MONTHS[day.month - 1][:3], "month"


def _mm(day: dt.date) -> tuple[str, Role]:
    return f"{day.month:02d}", "month"


def _d(day: dt.date) -> tuple[str, Role]:
    return str(day.day), "day"


def _dd(day: dt.date) -> tuple[str, Role]:
    return f"{day.day:02d}", "day"


def _nth(day: dt.date) -> tuple[str, Role]:
    return _ordinal(day.day), "day"


def _weekday(day: dt.date) -> tuple[str, Role]:
    return WEEKDAYS[day.weekday()], "weekday"


def _wkd(day: dt.date) -> tuple[str, Role]:
    return WEEKDAYS[day.weekday()][:3], "weekday"


def _word(text: str) -> Callable[[dt.date], tuple[str, Role]]:
    return lambda _day: (text, "other")


Part = Callable[[dt.date], tuple[str, Role]]

#: Every way an input may write a date, by name, as the parts it is made of.
FORMATS: dict[str, tuple[Part, ...]] = {
    "tuesday 25 march 2021": (_weekday, _d, _month, _year),
    "25 march 2021": (_d, _month, _year),
    "march 25, 2021": (_month, _d, _word(","), _year),
    "tuesday, march 25, 2021": (_weekday, _word(","), _month, _d, _word(","), _year),
    "25 mar 2021": (_d, _mon, _year),
    "tue, 25 mar 2021": (_wkd, _word(","), _d, _mon, _year),
    "the 25th of march 2021": (_word("the"), _nth, _word("of"), _month, _year),
    "25/03/21": (_dd, _word("/"), _mm, _word("/"), _yy),
    "25/03/2021": (_dd, _word("/"), _mm, _word("/"), _year),
    "25.03.2021": (_dd, _word("."), _mm, _word("."), _year),
}


class DateExample(NamedTuple):
    """One input and its target."""

    day: dt.date
    format: str
    words: tuple[str, ...]
    """The input's tokens, (M,)."""
    roles: tuple[Role, ...]
    """What each input token writes: ``weekday``, ``day``, ``month``, ``year`` or ``other``."""
    target: tuple[str, ...]
    """The ISO date's characters, (10,)."""


def iso_tokens(day: dt.date) -> tuple[str, ...]:
    """``2021-03-25`` as its 10 characters."""
    return tuple(day.isoformat())


def example(day: dt.date, fmt: str) -> DateExample:
    """``day`` written in the format named ``fmt``, with its roles and ISO target."""
    if fmt not in FORMATS:
        msg = f"unknown date format {fmt!r}: expected one of {', '.join(FORMATS)}"
        raise AtlasError(msg)
    words, roles = zip(*(part(day) for part in FORMATS[fmt]), strict=True)
    return DateExample(day, fmt, tuple(words), tuple(roles), iso_tokens(day))


def is_held_out(day: dt.date) -> bool:
    """True for the one day in ten that training never sees (any format)."""
    return day.toordinal() % 10 == 3


def sample_dates(rng: np.random.Generator, count: int, *, held_out: bool) -> list[dt.date]:
    """``count`` uniform dates in [FIRST_DAY, LAST_DAY], all held out or none."""
    first, span = FIRST_DAY.toordinal(), LAST_DAY.toordinal() - FIRST_DAY.toordinal() + 1
    days: list[dt.date] = []
    while len(days) < count:
        for ordinal in rng.integers(0, span, size=2 * (count - len(days)) + 16):
            day = dt.date.fromordinal(first + int(ordinal))
            if is_held_out(day) == held_out and len(days) < count:
                days.append(day)
    return days


def sample_examples(rng: np.random.Generator, count: int, *, held_out: bool) -> list[DateExample]:
    """``count`` examples: seeded dates (see :func:`sample_dates`), each in a random format."""
    names = list(FORMATS)
    days = sample_dates(rng, count, held_out=held_out)
    picks = rng.integers(0, len(names), size=count)
    return [example(day, names[int(p)]) for day, p in zip(days, picks, strict=True)]


def source_vocabulary() -> tuple[str, ...]:
    """Every word any format can write, sorted: the model's input vocabulary."""
    words = set(MONTHS) | {m[:3] for m in MONTHS} | set(WEEKDAYS) | {w[:3] for w in WEEKDAYS}
    words |= {str(n) for n in range(1, 32)} | {_ordinal(n) for n in range(1, 32)}
    words |= {f"{n:02d}" for n in range(100)}
    words |= {str(y) for y in range(FIRST_DAY.year, LAST_DAY.year + 1)}
    words |= {",", "/", ".", "the", "of"}
    return tuple(sorted(words))


_WORD = re.compile(r"\d+(?:st|nd|rd|th)|\d+|[a-z]+|[^\sa-z\d]")


def tokenize(text: str) -> tuple[str, ...]:
    """Split a written date into the model's words: ``"march 25, 2021"`` -> 4 words.

    Letters are lowered; numbers stay whole (``25th`` is one word); each punctuation
    mark is a word of its own.
    """
    return tuple(_WORD.findall(text.lower()))


def written(words: tuple[str, ...] | list[str]) -> str:
    """The words as a person writes them: ``25/03/21``, ``march 25, 2021``.

    The inverse of :func:`tokenize` for the formats here: no space before ``,``,
    ``.`` or ``/``, none after ``.`` or ``/``.
    """
    text = ""
    for i, word in enumerate(words):
        glued = word in {",", ".", "/"} or (i > 0 and words[i - 1] in {".", "/"})
        text += word if glued or i == 0 else " " + word
    return text
