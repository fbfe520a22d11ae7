"""Safe arithmetic: the expression is parsed with `ast` and walked, never `eval`-ed.

Numbers stay exact (`fractions.Fraction`) until a function or a fractional power needs a
float, so `0.1 + 0.2` is 0.3 and `200 * 15%` is the int 30; notation is in `tools.notation`.

Bounds keep a hostile or confused expression cheap: at most 500 characters, exponents within
±1000, and no intermediate value beyond 4096 bits (about 1,233 digits). A power's size is
estimated before it is computed, so `9**9**9` fails at once instead of hanging the worker.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from fractions import Fraction

from tools.notation import to_python

MAX_CHARS = 500
MAX_EXPONENT = 1000
MAX_BITS = 4096
_MAX_EXACT_FLOAT = 2**53

Number = Fraction | float


class EvaluationError(ValueError):
    """The expression is not arithmetic, or has no finite real value within the bounds."""


_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e}


def _round(x: Number, ndigits: Number | None = None) -> Fraction:
    exact = Fraction(x)  # a float's exact binary value, which is what `round` rounds anyway
    if ndigits is None:
        return Fraction(round(exact))
    return round(exact, _small_int(ndigits, "round()'s digits"))


def _log(x: Number, base: Number | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


_FUNCTIONS: dict[str, tuple[Callable[..., Number | int], int, int | None]] = {
    # name: (implementation, fewest arguments, most arguments or None for any)
    "min": (min, 1, None),
    "max": (max, 1, None),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "sqrt": (math.sqrt, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
}


def _small_int(value: Number, what: str) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise EvaluationError(f"{what} must be a whole number")
        value = Fraction(int(value))
    if value.denominator != 1:
        raise EvaluationError(f"{what} must be a whole number")
    if abs(value.numerator) > MAX_EXPONENT:
        raise EvaluationError(f"{what} {value.numerator} is too large (limit ±{MAX_EXPONENT})")
    return value.numerator


def _checked(value: Number | int) -> Number:
    """Normalise ints to Fractions and refuse values too large to keep computing with."""
    if isinstance(value, int):
        value = Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EvaluationError("the result is not a finite number")
        return value
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
        raise EvaluationError(f"an intermediate result is too large (over {MAX_BITS} bits)")
    return value


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        n = _small_int(exponent, "exponent")
        if isinstance(base, float):
            return math.pow(base, n)
        size = max(base.numerator.bit_length(), base.denominator.bit_length())
        if size * abs(n) > MAX_BITS:
            raise EvaluationError(f"the result is too large (over {MAX_BITS} bits)")
        return base**n
    if abs(float(exponent)) > MAX_EXPONENT:
        raise EvaluationError(f"exponent {float(exponent)} is too large (limit ±{MAX_EXPONENT})")
    try:
        return math.pow(base, exponent)  # unlike `**`, never a complex number
    except ValueError as exc:
        shown = f"{_to_result(base)} ** {_to_result(exponent)}"
        raise EvaluationError(f"{shown} is not a real number") from exc


def _call(node: ast.Call) -> Number:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in _FUNCTIONS:
        known = ", ".join(_FUNCTIONS)
        raise EvaluationError(
            f"unknown function {name or ast.unparse(node.func)!r} (known: {known})"
        )
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise EvaluationError(f"{name}() takes plain positional arguments only")
    function, fewest, most = _FUNCTIONS[name]
    if len(node.args) < fewest or (most is not None and len(node.args) > most):
        count = f"{fewest} or more" if most is None else f"{fewest} or {most}"
        count = str(fewest) if most == fewest else count
        raise EvaluationError(f"{name}() takes {count} argument(s), not {len(node.args)}")
    args = [_eval(arg) for arg in node.args]
    try:
        return _checked(function(*args))
    except EvaluationError:
        raise
    except ValueError as exc:  # the math module's domain errors
        shown = ", ".join(str(_to_result(arg)) for arg in args)
        raise EvaluationError(f"{name}({shown}) is undefined") from exc


def _eval(node: ast.AST) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise EvaluationError(f"{node.value!r} is not a number")
        if isinstance(node.value, float):
            if not math.isfinite(node.value):
                raise EvaluationError("a number is too large")
            return Fraction(repr(node.value))  # the decimal as written, not its binary float
        return _checked(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _eval(node.operand)
        return operand if isinstance(node.op, ast.UAdd) else -operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        if type(node.op) in _BINARY:
            return _checked(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise EvaluationError(f"unknown name {node.id!r}: only numbers, pi and e (no variables)")
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Tuple):
        raise EvaluationError("commas only separate function arguments or thousands (1,234)")
    raise EvaluationError(f"{ast.unparse(node)!r} is not arithmetic")


def _to_result(value: Number) -> int | float:
    """An int when the value is a whole number (exactly), else a float."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return value.numerator
        return float(value)
    if value.is_integer() and abs(value) <= _MAX_EXACT_FLOAT:
        return int(value)
    return value


def evaluate(expression: str) -> int | float:
    """Evaluate an arithmetic expression; every failure is an `EvaluationError` saying why."""
    if len(expression) > MAX_CHARS:
        raise EvaluationError(f"the expression is {len(expression)} characters (limit {MAX_CHARS})")
    if not expression.strip():
        raise EvaluationError("the expression is empty")
    try:
        tree = ast.parse(to_python(expression), mode="eval")
        return _to_result(_eval(tree.body))
    except SyntaxError as exc:
        raise EvaluationError(f"cannot evaluate {expression!r}: invalid syntax") from exc
    except ZeroDivisionError as exc:
        raise EvaluationError(f"cannot evaluate {expression!r}: division by zero") from exc
    except OverflowError as exc:
        raise EvaluationError(f"cannot evaluate {expression!r}: the result is too large") from exc
    except RecursionError as exc:
        raise EvaluationError(f"cannot evaluate {expression!r}: nested too deeply") from exc
    except ValueError as exc:
        raise EvaluationError(f"cannot evaluate {expression!r}: {exc}") from exc
