"""How people and models write arithmetic, rewritten into Python expression syntax.

Kept apart from evaluation so the rules below are the only place notation is decided:

- `^` is a power (`2^10`), as on calculators; bitwise XOR is never what a model means.
- `×`, `÷` and the Unicode minus `−` are `*`, `/` and `-`.
- `%` right after a number or `)` is a percentage when an operand cannot follow it: at the end,
  before `)` or `,`, or before an operator (`15%` is 0.15, `200 * 15% + 1` is 31). Between two
  operands it is modulo (`10 % 3`). So `a % -b` reads as a percentage: write `a % (-b)`.
  A percentage is only a number: `200 + 15%` is 200.15; write `200 * (1 + 15%)` for 230.
- `1,234,567` is one number when the groups after the first have exactly three digits and no
  spaces, except inside a function call's parentheses, where commas always separate arguments
  (`max(1,234)` is 234; write `max(1234, 5)` or `max(1_234, 5)`).
- `1_000`, `1e-3` and `.5` are ordinary Python literals and pass through unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|//|\S))"
)
_UNICODE_OPERATORS = str.maketrans({"×": "*", "÷": "/", "−": "-"})
_LEADING_GROUP = re.compile(r"[0-9]{1,3}")
_THOUSANDS_GROUP = re.compile(r"[0-9]{3}(?:\.[0-9]*)?")
_BEFORE_OPERATOR = {")", ",", "+", "-", "*", "/", "//", "**", "^"}


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name" or "op"
    text: str
    spaced: bool  # whitespace right before it


def _lex(text: str) -> list[_Token]:
    text = text.rstrip()
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match is not None  # `\S` matches whatever follows the optional whitespace
        kind = match.lastgroup or "op"
        tokens.append(_Token(kind, match.group(kind), match.start(kind) > pos))
        pos = match.end()
    return tokens


def _is_percent(prev: _Token | None, nxt: _Token | None) -> bool:
    ends_operand = prev is not None and (prev.kind == "number" or prev.text == ")")
    return ends_operand and (nxt is None or nxt.text in _BEFORE_OPERATOR)


def _thousands(tokens: list[_Token], i: int) -> tuple[str, int]:
    """The number starting at `i` with its `,ddd` groups joined, and the index after it."""
    text, j = tokens[i].text, i + 1
    if not _LEADING_GROUP.fullmatch(text):
        return text, j
    while j + 1 < len(tokens) and "." not in text:
        comma, group = tokens[j], tokens[j + 1]
        joined = comma.text == "," and not comma.spaced and not group.spaced
        if not (joined and group.kind == "number" and _THOUSANDS_GROUP.fullmatch(group.text)):
            break
        text, j = text + group.text, j + 2
    return text, j


def _wrap_percent_group(out: list[str]) -> None:
    """Turn the parenthesised operand ending `out` (maybe a call) into `(operand / 100)`."""
    depth, k = 0, len(out) - 1
    while k >= 0:
        depth += {")": 1, "(": -1}.get(out[k], 0)
        if depth == 0:
            break
        k -= 1
    if k > 0 and out[k - 1].isidentifier():
        k -= 1
    out.insert(max(k, 0), "(")
    out.extend(["/", "100", ")"])


def to_python(text: str) -> str:
    """Rewrite `text` into Python expression syntax; validity is left to the parser."""
    tokens = _lex(text.translate(_UNICODE_OPERATORS))
    out: list[str] = []
    parens: list[bool] = []  # one entry per open parenthesis: is it a function call's?
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = tokens[i - 1] if i else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.kind == "number" and not (parens and parens[-1]):
            number, i = _thousands(tokens, i)
            out.append(number)
            continue
        if tok.text == "(":
            parens.append(prev is not None and prev.kind == "name")
        elif tok.text == ")" and parens:
            parens.pop()
        if tok.text == "%" and _is_percent(prev, nxt):
            if prev is not None and prev.kind == "number":
                out[-1:] = ["(", out[-1], "/", "100", ")"]
            else:
                _wrap_percent_group(out)
        else:
            out.append("**" if tok.text == "^" else tok.text)
        i += 1
    return " ".join(out)
