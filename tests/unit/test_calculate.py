"""The safe evaluator and the `calculate` tool: notation, exactness, bounds and rejections."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.tools import ToolException

from tools.calculate import EvaluationError, calculate, evaluate

# --- examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("2 ^ 10", 1024),
        ("2 ^ 3 ^ 2", 512),
        ("-2 ** 2", -4),
        ("+5 - -5", 10),
        ("1e3 + 2.5E-1", 1000.25),
        ("1_000_000 / 4", 250000),
        ("0.1 + 0.2", 0.3),
        ("1 / 3 * 3", 1),
        ("8848 / 5895", 8848 / 5895),
        ("3 × 4 − 1 ÷ 2", 11.5),
    ],
)
def test_arithmetic(expression: str, expected: float) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("15%", 0.15),
        ("200 * 15%", 30),
        ("200 * 15% + 1", 31),
        ("200 * (1 + 15%)", 230),
        ("(50 + 50)%", 1),
        ("sqrt(400)%", 0.2),
        ("2 ** 50%", 2**0.5),
        ("10 % 3", 1),
        ("10 % (-3)", -2),
        ("(10) % 3", 1),
    ],
)
def test_percent_and_modulo(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1,234", 1234),
        ("1,234,567 + 1", 1234568),
        ("12,345.5 * 2", 24691),
        ("(1,000 + 1,000) / 2", 1000),
        ("max(1,234)", 234),  # inside a call commas separate arguments
        ("max(1,234, 5)", 234),
        ("max((1,234), 5)", 1234),  # ... unless grouped again
    ],
)
def test_thousands_separators(expression: str, expected: int) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize("expression", ["1,23", "1, 234", "1 ,234", "1,2345", "1,234.5,678"])
def test_ambiguous_commas_are_rejected(expression: str) -> None:
    with pytest.raises(ValueError, match=r"commas|syntax"):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("min(3, 1, 2)", 1),
        ("max(3, 1.5)", 3),
        ("abs(-3.5)", 3.5),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("sqrt(16)", 4),
        ("sqrt(2)", 2**0.5),
        ("log(e)", 1),
        ("log(8, 2)", 3),
        ("log10(1000)", 3),
        ("exp(0)", 1),
        ("floor(-2.5)", -3),
        ("ceil(2.1)", 3),
        ("2 * pi", 6.283185307179586),
    ],
)
def test_functions_and_constants(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "kind"),
    [("6 / 3", int), ("2.5 * 2", int), ("sqrt(16)", int), ("7 / 2", float), ("2 ** -1", float)],
)
def test_exact_results_are_ints(expression: str, kind: type) -> None:
    assert type(evaluate(expression)) is kind


# --- rejections -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("x + 1", "unknown name 'x'"),
        ("(1).real", "not arithmetic"),
        ("pi.real", "not arithmetic"),
        ("foo(1)", "unknown function 'foo'"),
        ("__import__('os')", "unknown function '__import__'"),
        ("().__class__", "not arithmetic"),
        ("lambda: 1", "not arithmetic"),
        ("'a' * 3", "not a number"),
        ("1 if 1 else 2", "not arithmetic"),
        ("1 < 2", "not arithmetic"),
        ("1 & 2", "not arithmetic"),
        ("[1, 2]", "not arithmetic"),
        ("True + 1", "not a number"),
        ("abs(x=1)", "positional"),
        ("max()", "takes 1 or more"),
        ("round(1, 2, 3)", "takes 1 or 2"),
        ("1 / 0", "division by zero"),
        ("5 // 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("log(0)", r"log\(0\) is undefined"),
        ("sqrt(-1)", "undefined"),
        ("(-8) ** (1/3)", "not a real number"),
        ("9**9**9", "exponent 387420489 is too large"),
        ("2 ** 1001", "too large"),
        ("10 ** 1000 * 10 ** 1000", "too large"),
        ("exp(1000)", "too large"),
        ("1e400", "too large"),
        ("round(1/3, 5000)", "too large"),
        ("2 +", "invalid syntax"),
        ("", "empty"),
        ("1" * 501, "501 characters"),
    ],
)
def test_rejections(expression: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        evaluate(expression)


def test_errors_have_their_own_type() -> None:
    with pytest.raises(EvaluationError, match=r"cannot evaluate '1 / 0': division by zero"):
        evaluate("1 / 0")


def test_huge_powers_fail_fast() -> None:
    start = time.perf_counter()
    for expression in ["9**9**9", "(10**1000)**(10**1000)", "2**1000**1000"]:
        with pytest.raises(ValueError):
            evaluate(expression)
    assert time.perf_counter() - start < 1.0


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert evaluate("-" * 499 + "1") == -1
    with pytest.raises(ValueError):
        evaluate("(" * 250 + "1" + ")" * 250)


# --- properties -------------------------------------------------------------------------------

Expr = tuple[str, Fraction | None]  # source text and its exact value (None: division by zero)

_OPS: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}


def _render(n: int) -> str:
    return f"({n})" if n < 0 else str(n)


def _power(base: int, exponent: int) -> Expr:
    try:
        return f"({_render(base)} ** {_render(exponent)})", Fraction(base) ** exponent
    except ZeroDivisionError:
        return f"({_render(base)} ** {_render(exponent)})", None


def _combine(left: Expr, op: str, right: Expr) -> Expr:
    text = f"({left[0]} {op} {right[0]})"
    if left[1] is None or right[1] is None:
        return text, None
    try:
        return text, Fraction(_OPS[op](left[1], right[1]))  # `//` of Fractions is an int
    except ZeroDivisionError:
        return text, None


_leaves = st.one_of(
    st.integers(-20, 20).map(lambda n: (_render(n), Fraction(n))),
    st.builds(_power, st.integers(-20, 20), st.integers(-2, 3)),
)


def _trees(ops: list[str]) -> st.SearchStrategy[Expr]:
    return st.recursive(
        _leaves,
        lambda kids: st.builds(_combine, kids, st.sampled_from(ops), kids),
        max_leaves=8,
    )


@given(_trees(["+", "-", "*", "//", "%"]).filter(lambda e: e[1] is None or e[1].denominator == 1))
def test_integer_arithmetic_matches_python(expr: Expr) -> None:
    text, value = expr
    if value is None:
        with pytest.raises(ValueError, match="division by zero"):
            evaluate(text)
    else:
        result = evaluate(text)
        assert result == int(value)
        assert type(result) is int


@given(_trees(list(_OPS)))
def test_arithmetic_with_division_is_exact(expr: Expr) -> None:
    text, value = expr
    if value is None:
        with pytest.raises(ValueError, match="division by zero"):
            evaluate(text)
    else:
        expected = value.numerator if value.denominator == 1 else float(value)
        result = evaluate(text)
        assert result == expected
        assert type(result) is type(expected)


@given(st.integers(0, 10**15))
def test_grouped_thousands_read_as_the_number(n: int) -> None:
    assert evaluate(f"{n:,}") == n
    assert evaluate(f"{n:_}") == n


@given(st.integers(-1000, 1000))
def test_percent_is_a_hundredth(n: int) -> None:
    assert evaluate(f"{_render(n)}%") == n / 100


# --- the tool ---------------------------------------------------------------------------------


def test_tool_returns_a_number() -> None:
    assert calculate.invoke({"expression": "(8849 - 8611) / 2"}) == 119


async def test_tool_raises_so_the_engine_records_an_error() -> None:
    with pytest.raises(ToolException, match="division by zero"):
        await calculate.ainvoke({"expression": "1 / 0"})


def test_tool_is_pure_and_raises() -> None:
    assert calculate.name == "calculate"
    assert calculate.metadata == {"pure": True}
    assert calculate.handle_tool_error is False
    assert list(calculate.args) == ["expression"]
