"""Numbers and prose are written by ``attention_atlas.text`` alone, with one set of rules.

The rules every number formatter shares: a value that rounds to zero has no minus
sign, NaN is ``NaN`` and infinities ``inf``/``-inf``. The last test holds the package to
it: no module outside ``text.py`` formats a number with a precision of its own.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import attention_atlas
from attention_atlas.text import (
    MISSING,
    bytes_text,
    fixed,
    metric,
    number_word,
    ordinal,
    percent,
    plain_significant,
    plural,
    rounding_error,
    shape_text,
    significant,
    size_text,
    span_text,
    thousands,
    vector_text,
    word_list,
)

NUMBER_FORMATTERS = [fixed, significant, plain_significant, percent, metric, rounding_error]


# --------------------------------------------------------------------------- shared rules


@pytest.mark.parametrize("fmt", NUMBER_FORMATTERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("zero", [-0.0, np.float32(-0.0), np.float64(-0.0)])
def test_negative_zero_has_no_sign(fmt: object, zero: float) -> None:
    assert not fmt(zero).startswith("-")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("value", "text"),
    [(-0.001, "0.00"), (-0.004999, "0.00"), (-0.005001, "-0.01"), (-1e-300, "0.00")],
)
def test_fixed_drops_the_sign_of_what_rounds_to_zero(value: float, text: str) -> None:
    assert fixed(value) == text


@pytest.mark.parametrize(
    ("fmt", "value", "text"),
    [
        (lambda x: fixed(x, 0), -0.4, "0"),
        (lambda x: significant(x, 1), -1e-400, "0"),  # underflows to -0.0
        (lambda x: percent(x), -0.004, "0%"),
        (lambda x: percent(x, 1), -0.0004, "0.0%"),
        (lambda x: plain_significant(x), -0.0, "0"),
    ],
)
def test_every_formatter_drops_the_sign_of_zero(fmt: object, value: float, text: str) -> None:
    assert fmt(value) == text  # type: ignore[operator]


@pytest.mark.parametrize("fmt", NUMBER_FORMATTERS, ids=lambda f: f.__name__)
def test_non_finite_numbers_are_named(fmt: object) -> None:
    assert fmt(math.nan) == "NaN"  # type: ignore[operator]
    assert fmt(math.inf) == "inf"  # type: ignore[operator]
    assert fmt(-math.inf) == "-inf"  # type: ignore[operator]


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 8))
def test_fixed_reads_back_as_the_rounded_value(x: float, digits: int) -> None:
    text = fixed(x, digits)
    assert text == f"{x:.{digits}f}".removeprefix("-" if float(text) == 0 else "")
    assert not text.startswith("-0") or float(text) != 0


# --------------------------------------------------------------------------- each formatter


def test_fixed() -> None:
    assert fixed(0.256) == "0.26"
    assert fixed(3, 0) == "3"
    assert fixed(np.float32(0.1), 4) == "0.1000"
    assert fixed(1234567.891, 1) == "1234567.9"
    assert fixed(None) == MISSING == "—"


def test_significant_is_pythons_g_with_the_shared_rules() -> None:
    assert significant(1.0731e9) == "1.07e+09"
    assert significant(268.4) == "268"
    assert significant(0.5, 6) == "0.5"
    assert significant(927.0, 6) == "927"
    assert significant(0.0000123) == "1.23e-05"
    assert significant(1e16, 6) == "1e+16"
    assert significant(-2.5) == "-2.5"


def test_plain_significant_never_writes_an_exponent() -> None:
    assert plain_significant(0.0000621) == "0.000062"
    assert plain_significant(0.00147, 3) == "0.00147"
    assert plain_significant(0.5) == "0.50"
    assert plain_significant(1234.5) == "1234"
    assert plain_significant(1e-12) == "0.0000000000010"
    assert plain_significant(-0.0312) == "-0.031"


def test_percent() -> None:
    assert percent(0.256) == "26%"
    assert percent(0.256, 1) == "25.6%"
    assert percent(1) == "100%"
    assert percent(12.5) == "1250%"


def test_rounding_error() -> None:
    assert rounding_error(0.0) == "0"
    assert rounding_error(2.22e-16) == "2e-16"
    assert rounding_error(4.44e-16, 2) == "4.4e-16"
    assert rounding_error(0.03) == "3e-02"


def test_thousands_and_plural() -> None:
    assert thousands(16384) == "16,384"
    assert thousands(268_435_456) == "268,435,456"
    assert thousands(7) == "7"
    assert thousands(np.int64(-1000)) == "-1,000"
    assert plural(1, "layer") == "1 layer"
    assert plural(0, "head") == "0 heads"
    assert plural(12000, "token") == "12,000 tokens"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (512, "512"),
        (4190, "4.19 k"),
        (268_435_456, "268 M"),
        (1.0731e9, "1.07 G"),
        (3e13, "30 T"),
        (999.6, "1 k"),  # rounds up into the next unit, not "1e+03"
        (999_960, "1 M"),
        (0.5, "0.5"),
    ],
)
def test_metric(value: float, text: str) -> None:
    assert metric(value) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (96, "96 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (320 * 1024, "320 KiB"),
        (12.7 * 2**20, "12.7 MiB"),
        (2**30, "1 GiB"),
        (1023.99 * 1024, "1 MiB"),  # not "1.02e+03 KiB"
        (1000 * 1024, "0.977 MiB"),
        (5 * 2**40, "5.12e+03 GiB"),
    ],
)
def test_bytes_text(count: float, text: str) -> None:
    assert bytes_text(count) == text


def test_ranges_shapes_and_vectors() -> None:
    assert size_text((64, 64)) == "64"
    assert size_text((64, 65)) == "64–65"
    assert size_text(np.array([65, 64, 65])) == "64–65"
    assert span_text(128, 256) == "128–255"
    assert span_text(7, 8) == "7"
    assert shape_text((4, 3)) == "(4, 3)"
    assert shape_text(np.zeros((2, 6, 5, 5)).shape) == "(2, 6, 5, 5)"
    assert vector_text([0.25, -0.5, -0.0001]) == "[0.25, -0.50, 0.00]"
    assert vector_text(np.array([1.0, 2.0]), 1) == "[1.0, 2.0]"


# --------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("position", "text"),
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (12, "twelfth"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (111, "111th"),
        (112, "112th"),
        (113, "113th"),
        (121, "121st"),
        (129, "129th"),
        (1001, "1,001st"),
        (16384, "16,384th"),
    ],
)
def test_ordinal_counts_from_one(position: int, text: str) -> None:
    assert ordinal(position) == text


@pytest.mark.parametrize("position", [0, -1])
def test_ordinal_refuses_what_is_not_a_position(position: int) -> None:
    with pytest.raises(ValueError, match="counts from 1"):
        ordinal(position)


def test_number_word() -> None:
    assert number_word(0) == "zero"
    assert number_word(3) == "three"
    assert number_word(12) == "twelve"
    assert number_word(13) == "13"
    assert number_word(16384) == "16,384"


def test_word_list() -> None:
    assert word_list([]) == ""
    assert word_list(["a"]) == "a"
    assert word_list(["a", "b"]) == "a and b"
    assert word_list(str(x) for x in (1, 2, 3)) == "1, 2 and 3"


# --------------------------------------------------------------------------- one writer

PACKAGE = Path(attention_atlas.__file__).parent

#: The rooms that write what a reader sees: pages, captions, charts, reports, messages
#: about a dump. (The command line's own console lines are not held to it.)
ROOMS = ("charts", "dumps", "mkdocs", "render", "scenarios", "export.py", "readouts.py")

#: Modules in those rooms that format numbers themselves, and why: numbers written into
#: chart JSON (rounded for size, not for a reader), a command-line option value, and
#: the templates' ``fmt`` filter (a copy of ``fixed`` with 4 decimals by default that
#: no template uses; it should become ``text.fixed``).
NOT_PROSE = {
    "charts/encoding.py": "numbers in chart JSON",
    "charts/html.py": "numbers in chart JSON",
    "dumps/budget.py": "a --max-memory value rounded up, for the command line",
    "render/templating.py": "the fmt filter, to be text.fixed",
    "render/diagrams.py": "SVG coordinates, not for a reader",
}


def _format_specs(path: Path) -> list[tuple[int, str]]:
    """``(line, spec)`` of every f-string field with a number format (``:.2f``, ``:g``, ``:,``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FormattedValue) and isinstance(node.format_spec, ast.JoinedStr):
            spec = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{}"
                for v in node.format_spec.values
            )
            if any(c in spec for c in ".,%") or spec.rstrip("}{").endswith(("e", "f", "g")):
                found.append((node.lineno, spec))
    return found


def test_numbers_are_formatted_in_text_py_only() -> None:
    modules = [p for room in ROOMS for p in sorted(PACKAGE.glob(f"{room}/**/*.py"))]
    modules += [PACKAGE / room for room in ROOMS if room.endswith(".py")]
    assert len(modules) > 30  # the rooms were found
    stray = [
        f"{rel}:{line}: {{...:{spec}}}"
        for path in modules
        if (rel := path.relative_to(PACKAGE).as_posix()) not in NOT_PROSE
        for line, spec in _format_specs(path)
    ]
    assert not stray, "format numbers with attention_atlas.text:\n" + "\n".join(stray)
