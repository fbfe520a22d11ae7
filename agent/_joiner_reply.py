"""The joiner's reply protocol: read a decision from whatever a chat model wrote.

The rule: what a model writes as its answer reaches the user as written (leading and trailing
whitespace aside). Repairs touch only unambiguous protocol, line by line (`is_protocol_line`):
a line starting `Thought:`, `Action:`, `Finish(` or `Replan(`, a copied plan line
`N. tool(...)` naming a tool of the graph (or `join`), and the `   -> result` lines under it.
Formulas, code, lists, Markdown, JSON, references such as `$2` and prose that merely uses
these words are answer text.

Which part of a reply is the answer, in order of preference (docs/protocol.md has examples):
1. The first line starting `Action: Finish` / `Action: Replan` (or `Finish(` / `Replan(`)
   decides. `Finish(...)`'s answer runs to the `)` that closes it (`finish_argument`), across
   lines and paragraphs; without the parenthesis the rest of the reply is the argument.
2. Else a JSON object `{"action": "finish" | "replan", "answer": ..., "reason": ...}`, bare or
   fenced, anywhere in the reply (each `{` is tried with a real JSON decoder).
3. Else the prose itself.
Protocol lines are then dropped from the answer. An answer of nothing but `Thought:` lines is
those thoughts; one of nothing but plan lines or tool calls is no answer: a Replan.

`settled_answer` is the same reading applied to a reply still arriving: the part of the
answer no continuation can change, which is what may be streamed to a user already.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

_DECOR_CHARS = " \t>*_`#-"
"""Markdown a model puts before a protocol word: quote, emphasis, code, heading, bullet."""
_DECOR = f"[{re.escape(_DECOR_CHARS)}]*"
_ACTION = re.compile(
    rf"^{_DECOR}(?:Action[ \t]*:[ \t]*[*_`]*[ \t]*(Finish|Replan)\b[*_`]*[ \t]*(\(|:)?"
    rf"|(Finish|Replan)[ \t]*(\())",
    re.I | re.M,
)
_SCAFFOLD = re.compile(
    rf"{_DECOR}(?:(Thought)|Action)[ \t]*:[ \t]*|{_DECOR}(?:Finish|Replan)[ \t]*\(", re.I
)
_SCAFFOLD_LINE = re.compile(f"^(?:{_SCAFFOLD.pattern})", re.I | re.M)
_THOUGHT = re.compile(
    rf"^{_DECOR}Thought[ \t]*:[ \t]*(.*?)(?=\n{_DECOR}(?:Action|Finish|Replan)\b|\Z)",
    re.I | re.S | re.M,
)
_INDEX = r"(?:\d+|(?-i:[A-Z]))"
"""A plan line's number, or the capital letter a model copies from the prompt's wording
(`N. join()`): a copied plan line either way."""
_NUMBER = re.compile(rf"(?:Step[ \t]+)?{_INDEX}[.):][*_`]*[ \t]*", re.I)
_CALL = re.compile(
    rf"{_DECOR}(?:(?:Step[ \t]+)?{_INDEX}[.):][*_`]*[ \t]*)?[*_`]*([A-Za-z_]\w*)\(", re.I
)
_LISTING = re.compile(r"[ \t]*->")
_PAREN = re.compile(r"[()]")
_LINE_END = " \t\r*_`"
"""What may follow a line's last `)` and still leave it the line's end (emphasis, code)."""
_KEYWORDS = {"thought": ":", "action": ":", "finish": "(", "replan": "("}
_REFERENCE_START = re.compile(r"\$\S*")
_JSON_START = re.compile(r"\{\s*\"")
_FENCE = re.compile(r"^[ \t]*```", re.M)
JOIN = "join"


@dataclass(frozen=True)
class JoinerDecision:
    """The joiner's verdict: `content` is the answer (finish) or the reason (replan)."""

    action: Literal["finish", "replan"]
    content: str
    thought: str | None = None


NOT_AN_ANSWER = "the reply was a plan or a tool call, not an answer"


# -- protocol lines ---------------------------------------------------------------------------
def is_call_line(line: str, tools: Collection[str]) -> bool:
    """`tool(...)` naming a tool of the graph or `join`, numbered or not, in Markdown or not,
    whose parenthesis closes at the end of the line: a copied plan line or a tool call. Not
    `cos(x)`, `print(sum(values))`, `f(x) = 2` or `search(a) + search(b)`."""
    start = _CALL.match(line)
    if start is None or (start.group(1) not in tools and start.group(1) != JOIN):
        return False
    depth = 1
    rest = line[start.end() :]
    for position, char in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return rest[position + 1 :].strip(_LINE_END) == ""
    return False


@dataclass(frozen=True)
class _Lines:
    """An answer's text with its protocol lines taken out."""

    kept: str
    dropped: list[str]
    thoughts: list[str]
    calls: bool
    """A plan line or tool call was taken out."""


@dataclass
class _LinesSoFar:
    """The complete lines of a text read so far, sorted."""

    done: str = ""
    """Those lines (through their last newline)."""
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)
    calls: bool = False
    listing: bool = False
    """The last non-blank line was a call or its result: `   -> ...` lines are copies."""

    def take(self, line: str, tools: frozenset[str]) -> None:
        kind, thought = _classify(line, tools, self.listing)
        if kind == "call":
            self.calls = self.listing = True
        elif line.strip() and kind != "listing":
            self.listing = False
        (self.kept if kind == "answer" else self.dropped).append(line)
        if thought is not None:
            self.thoughts.append(thought)


class _Splitter:
    """Drops the protocol lines of a text. Reading a reply again as it grows, it reuses the
    work done on the complete lines it has already seen."""

    def __init__(self, tools: frozenset[str]) -> None:
        self.tools = tools
        self._read = _LinesSoFar()

    def split(self, text: str, *, last_complete: bool = True) -> _Lines:
        """`text` without its protocol lines. With `last_complete` false the last line is
        still being written: it is kept only once nothing can make it a protocol line."""
        if not text.startswith(self._read.done):
            self._read = _LinesSoFar()  # another text: start over
        read = self._read
        complete = text.rfind("\n") + 1
        for line in text[len(read.done) : complete].split("\n")[:-1]:
            read.take(line, self.tools)
        read.done = text[:complete]
        last = _LinesSoFar(calls=read.calls, listing=read.listing)
        if last_complete:
            last.take(text[complete:], self.tools)
        elif not _may_become_protocol(text[complete:], self.tools, read.listing):
            last.kept.append(text[complete:])
        kept = read.kept + last.kept
        dropped = read.dropped + last.dropped
        body = "\n".join(kept).strip()
        if dropped and all(not line.strip() or _FENCE.match(line) for line in kept):
            body = ""  # only the fence around a dropped plan
        return _Lines(body, dropped, read.thoughts + last.thoughts, last.calls)


def _split(text: str, tools: Collection[str]) -> _Lines:
    return _Splitter(frozenset(tools)).split(text)


def _classify(
    line: str, tools: frozenset[str], listing: bool
) -> tuple[Literal["answer", "listing", "call", "scaffold"], str | None]:
    """What a complete line is, and a `Thought:` line's thought."""
    if listing and _LISTING.match(line):
        return "listing", None
    if is_call_line(line, tools):
        return "call", None
    scaffold = _SCAFFOLD.match(line)
    if scaffold is None:
        return "answer", None
    return "scaffold", line[scaffold.end() :].strip() if scaffold.group(1) else None


def _may_become_protocol(line: str, tools: Collection[str], listing: bool) -> bool:
    """True while the line being written could still turn out to be a protocol line (or is
    a call waiting for its line to end): such text is not streamed yet."""
    if listing and (_LISTING.match(line) or line.strip() in ("", "-")):
        return True
    text = line.lstrip(_DECOR_CHARS)
    number = _NUMBER.match(text)
    rest = text[number.end() :].lstrip("*_`") if number else text
    word = re.match(r"[A-Za-z_]\w*", rest)
    if word is None:
        # Empty so far, or a number / `Step N` still being written.
        return rest == "" or (
            number is None and re.fullmatch(r"\d+|Step[ \t]+\d*", rest, re.I) is not None
        )
    name, after = word.group(), rest[word.end() :]
    keyword = None if number else _KEYWORDS.get(name.lower())
    if not after:  # the word itself may still grow
        stems = [*tools, JOIN] + ([] if number else [*_KEYWORDS, "step"])
        return any(stem.lower().startswith(name.lower()) for stem in stems)
    if keyword is not None:
        following = after.lstrip(" \t")
        return following == "" or following[0] == keyword
    if name.lower() == "step" and number is None:
        return re.fullmatch(r"[ \t]+\d*", after) is not None
    return after[0] == "(" and (name in tools or name == JOIN)


def protocol_lines(answer: str, tools: Collection[str]) -> list[str]:
    """The lines of `answer` a user must never see (the ones the joiner drops)."""
    return _split(answer, tools).dropped


# -- where an answer ends ---------------------------------------------------------------------
def _ends_line(text: str, position: int) -> bool | None:
    """Whether the `)` at `position` ends its line: True, False, or None (not known yet:
    only spaces follow it so far)."""
    newline = text.find("\n", position + 1)
    if text[position + 1 : newline if newline >= 0 else len(text)].strip(_LINE_END):
        return False
    return True if newline >= 0 else None


def finish_argument(body: str, *, complete: bool) -> str:
    """The argument of `Finish(` in `body` (the text after it): the whole argument when the
    reply is `complete`, else the part of it that no continuation can take away.

    The rule for where it ends (docs/protocol.md, "Joiner protocol"):
    - the first `)` that brings the count of open parentheses back to zero closes it when it
      ends its line;
    - when text follows that `)` on its line, the answer's own text may have had an extra `)`
      (a smiley `:)`, a list item `1)`): then the first later `)` without a `(` to match it
      that ends its line closes it; with none, the first `)` does (the rest is commentary);
    - when no `)` brings the count to zero (an answer that opened "(see note" and never
      closed it), a `)` at the very end of the reply closes it; else the argument is the
      rest of the reply.
    """
    return _argument(body, _scan(body, 0, 1)[0], complete=complete)


def _argument(body: str, close: int | None, *, complete: bool) -> str:
    """`finish_argument`, given the position of the `)` that balances `Finish(` (if any)."""
    if close is None:
        end = len(body.rstrip(_LINE_END + "\n"))
        return body[: end - 1] if end and body[end - 1] == ")" else body
    if not complete or _ends_line(body, close) is not False:
        return body[:close]
    depth = 0
    for paren in _PAREN.finditer(body, close + 1):
        if paren.group() == "(":
            depth += 1
        elif depth:
            depth -= 1
        elif _ends_line(body, paren.start()) is not False:
            return body[: paren.start()]
    return body[:close]


def _scan(body: str, start: int, depth: int) -> tuple[int | None, int]:
    """From `start` with `depth` parentheses open: the position of the `)` that closes the
    last of them (None if none does yet), and the count open at the end of what was read."""
    for paren in _PAREN.finditer(body, start):
        depth += 1 if paren.group() == "(" else -1
        if depth == 0:
            return paren.start(), 0
    return None, depth


# -- the decision -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Action:
    action: Literal["finish", "replan"]
    start: int
    body_start: int
    parenthesized: bool


def _find_action(text: str) -> _Action | None:
    match = _ACTION.search(text)
    if match is None:
        return None
    word = match.group(1) or match.group(3)
    paren = match.group(2) or match.group(4)
    action: Literal["finish", "replan"] = "replan" if word.lower() == "replan" else "finish"
    return _Action(action, match.start(), match.end(), paren == "(")


def _thought(text: str) -> str | None:
    match = _THOUGHT.search(text)
    return match.group(1).strip() if match else None


def _answer(text: str, tools: Collection[str], thought: str | None) -> JoinerDecision:
    """A finish decision for the answer `text`, protocol lines dropped."""
    lines = _split(text, tools)
    if lines.kept:
        return JoinerDecision("finish", lines.kept, thought)
    if lines.calls:
        return JoinerDecision("replan", NOT_AN_ANSWER, thought)
    return JoinerDecision("finish", "\n".join(lines.thoughts).strip(), thought)


def _from_json(text: str, tools: Collection[str]) -> JoinerDecision | None:
    """The first JSON object in `text` that is a decision (`"action": "finish" | "replan"`)."""
    decoder = json.JSONDecoder()
    for start in _JSON_START.finditer(text):
        try:
            data, _ = decoder.raw_decode(text, start.start())
        except ValueError:
            continue
        action = data.get("action") if isinstance(data, dict) else None
        if not isinstance(action, str) or action.strip().lower() not in ("finish", "replan"):
            continue
        thought = data.get("thought") if isinstance(data.get("thought"), str) else None
        if action.strip().lower() == "replan":
            reason = data.get("reason") or data.get("answer") or ""
            return JoinerDecision("replan", _text(reason), thought)
        answer = data["answer"] if "answer" in data else data.get("final")
        return _answer(_text(answer), tools, thought)
    return None


def _text(value: object) -> str:
    """A JSON value as answer text: a string as is, `null` as nothing, the rest as JSON."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_joiner_output(text: str, tools: Collection[str] = ()) -> JoinerDecision:
    """Read the joiner's decision (the rules are in the module docstring). `tools` are the
    names of the graph's tools: lines calling them are plan lines, not answer."""
    thought = _thought(text)
    action = _find_action(text)
    if action is not None:
        body = text[action.body_start :]
        argument = finish_argument(body, complete=True) if action.parenthesized else body
        if action.action == "replan":
            return JoinerDecision("replan", argument.strip(), thought)
        return _answer(argument, tools, thought)
    decision = _from_json(text, tools)
    if decision is not None:
        return decision
    return _answer(text, tools, thought)


@dataclass(frozen=True)
class Settled:
    """What of an arriving reply's answer is settled, and which reading it came from."""

    text: str
    decided: bool
    """An `Action:` line was seen: later text cannot make this reading change."""
    complete: bool = False
    """The decision's whole argument has arrived (`Finish(...)` or `Replan(...)` closed at the
    end of its line): nothing later in the reply is read, so the caller may stop reading."""


class ReplyReader:
    """Reads a reply that is still arriving, again at every chunk, without redoing the work
    on what it has already read (a long answer arrives in thousands of chunks)."""

    def __init__(self, tools: Collection[str]) -> None:
        self._splitter = _Splitter(frozenset(tools))
        self._scanned = ("", 1)
        """A start of `Finish(`'s argument with no closing `)` in it, and the count of open
        parentheses after it."""

    def settled(self, text: str) -> Settled:
        """The part of the answer that the rest of the reply cannot change, as far as the
        reply `text` has arrived (what may be streamed to a user now).

        After `Finish(`: the argument as far as it surely runs, without lines that are or may
        become protocol lines. Before any `Action:` line, the prose so far is shown (a reply
        without an action is its own answer), up to the first `Thought:`/`Action:` line, JSON
        object or code fence, any of which makes what follows undecided; a later `Action:`
        line can still take the prose back. An answer that may be one reference (`$3`) waits.
        """
        action = _find_action(text)
        if action is None:
            undecided = (_JSON_START.search(text), _FENCE.search(text), _SCAFFOLD_LINE.search(text))
            cut = min([len(text)] + [match.start() for match in undecided if match])
            return Settled(self._visible(text[:cut], complete=False), decided=False)
        body = text[action.body_start :]
        if not action.parenthesized:
            shown = "" if action.action == "replan" else self._visible(body, complete=False)
            return Settled(shown, decided=True)
        close = self._close(body)
        closed = close is not None and _ends_line(body, close) is True
        if action.action == "replan":
            return Settled("", decided=True, complete=closed)
        argument = _argument(body, close, complete=closed)
        return Settled(self._visible(argument, complete=closed), decided=True, complete=closed)

    def _close(self, body: str) -> int | None:
        prefix, depth = self._scanned
        start = len(prefix) if body.startswith(prefix) else 0
        close, depth = _scan(body, start, depth if start else 1)
        if close is None:
            self._scanned = (body, depth)
        return close

    def _visible(self, text: str, *, complete: bool) -> str:
        kept = self._splitter.split(text, last_complete=complete).kept
        if _REFERENCE_START.fullmatch(kept):
            return ""  # may be a reference (`$3`), which the answer shows resolved
        return kept


def settled_answer(text: str, tools: Collection[str]) -> Settled:
    """`ReplyReader.settled` for one reading."""
    return ReplyReader(tools).settled(text)
