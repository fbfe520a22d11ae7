"""The plan language: a streaming parser that turns planner text into `Task`s.

`PlanParser` reads the planner's output as it streams and hands out each task the moment its
line is complete, so the scheduler can start it while the model is still writing. It is a
character-level state machine whose decisions depend only on the characters seen so far, so
every way of cutting the text into chunks yields the same tasks as `parse_plan` on the whole
text, and its work grows linearly with the text (each character is looked at a bounded
number of times).

It never guesses in favour of running something (tools send emails and charge cards): a task
is a line that holds exactly one complete call (a trailing `# comment` aside). A string is
opaque until it closes; a line after a `#` or other comment mark is no task; a call whose `)`
never came, or that the end of the model's output cut off, is a task error, not a call; a
line with anything else beside its call is a plan note. Notes are never dropped: the joiner
sees them and can replan. docs/protocol.md states the rules with examples.

This module reads; `agent._plan_checks` checks and binds what it read into `Task`s.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum, auto

from agent._plan_checks import MAX_TASK_INDEX, PlanChecker
from agent._task import Task
from agent._toolset import JOIN, ToolLike, Toolset

_LEAD = r"[ \t]*(?:>[ \t]*)*(?:[-*+][ \t]+)?[*_`]*"
"""What may stand before a task's number: indentation, block quotes, one list bullet, Markdown
emphasis or a backtick. Not `#`, `//`, `--`, `~~` or `<!--`: a commented-out step never runs."""

_START = re.compile(
    rf"{_LEAD}(?:(?:(?i:step)[ \t]*)?([0-9]+)[*_`]*[ \t]*[.):][ \t*_`]*([A-Za-z_][\w.-]*)"
    r"|(join))[ \t]*\("
)
r"""A task line up to its `(`: `N. tool(`, `N) tool(`, `Step N: tool(`, with Markdown emphasis
or backticks around the number or the call (`**1.** \`search(`), or an unnumbered `join(`.
It holds no `(` before its last character, so it is tried once per line, at the first `(`."""

MAX_HEAD = 200
"""A line whose task head (up to the call's `(`) is longer than this is no task (a note)."""

_THOUGHT = re.compile(r"[ \t>*_`#-]*(?i:thought)[*_`]*[ \t]*:[*_`]*")
_END = "<END_OF_PLAN>"
_END_LINE = re.compile(rf"[ \t>*_`-]*{re.escape(_END)}")
_TRAIL_OK = re.compile(r"[ \t*_`]*(?:#.*)?")
"""What may follow a task's `)` on its line: spaces, closing emphasis or backticks, a comment."""

_NOT_A_NOTE = re.compile(r"[\s>*_`#=-]*|[ \t]*```.*|[ \t]*(?i:plan)[ \t]*:?[ \t]*")
"""Lines that carry nothing for the joiner: blank or decoration, Markdown fences, `Plan:`."""

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_UNQUOTED_REF = re.compile(r"\$(?:\{[0-9]+\}|[0-9]+)(?:\.[A-Za-z_]\w*|\[[0-9]+\])*")
_UNQUOTED_REF_PREFIX = re.compile(
    r"\$(?:\{[0-9]*|(?:\{[0-9]+\}|[0-9]+)(?:\.[A-Za-z_]\w*|\[[0-9]+\])*(?:\.|\[[0-9]*)?)?"
)
"""Every beginning of an unquoted reference, field path included."""
_MAX_UNQUOTED_REF = 200

CUT_OFF = "cut off by the end of the model's output: not run"
NOT_CLOSED = "the call's closing ')' is missing (the next line started something else): not run"


class _Mode(Enum):
    IDLE = auto()  # between tasks: reading a line that may become a task
    CALL = auto()  # inside a task's parentheses
    LOOKAHEAD = auto()  # a new line inside an unclosed call: does it start something else?
    TRAIL = auto()  # after a call's `)`, up to the end of its line
    ENDED = auto()  # after `join()` or `<END_OF_PLAN>`: the rest is ignored


def _task_head(line: str) -> re.Match[str] | None:
    """`line` (up to its first `(`) as a task's head, if it is one: a sane number (or
    `join`) and a tool name. A longer line is no task (`MAX_HEAD`), nor is an index beyond
    `MAX_TASK_INDEX` (except `join`'s, which is renumbered)."""
    if len(line) > MAX_HEAD:
        return None
    match = _START.fullmatch(line)
    if match is None or match[1] is None or match[2] == JOIN:
        return match
    return match if int(match[1]) <= MAX_TASK_INDEX else None


@dataclass
class _Call:
    """The call being read: its number, tool and thought, its text as written (a note, if it
    turns out to be none) and its argument text as `ast` will read it, with the lexer's state."""

    idx: int | None = None  # None: an unnumbered `join(`
    tool: str = ""
    thought: str | None = None
    raw: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    brackets: list[str] = field(default_factory=list)
    quote: str | None = None  # the open string's quote character
    triple: bool = False
    escape: bool = False
    string_start: int = 0  # where the open string's content starts in `text`
    run: int = 0  # consecutive quote characters inside a triple-quoted string
    maybe_triple: bool = False  # an empty string just closed: `""` + `"` opens `"""`
    comment: bool = False
    dollar: str | None = None  # an unquoted `$N` / `${N}` being read

    def closed_text(self) -> str:
        """The argument text with what is still open closed (to show a cut-off call's
        arguments; such a call never runs)."""
        text = "".join(self.text)
        if self.quote is not None:
            text += self.quote * (3 if self.triple else 1)
        return text + "".join(_OPENERS[b] for b in reversed(self.brackets))


class PlanParser:
    """Incremental parser of one plan; feed it chunks, then `close()` it once."""

    def __init__(
        self,
        tools: Iterable[ToolLike] | Mapping[str, ToolLike],
        *,
        known: Iterable[int] = (),
        max_tasks: int | None = None,
    ) -> None:
        self._checker = PlanChecker(Toolset.of(tools), known=known, max_tasks=max_tasks)
        self._out: list[Task] = []
        self._mode = _Mode.IDLE
        self._notes: list[str] = []
        self._notes_taken = 0
        self._skip_lf = False  # the previous character was a `\r`
        self._thought: str | None = None  # pending, for the next task
        # IDLE: the current line, and whether it may still turn out to be a task.
        self._line: list[str] = []
        self._head_open = True
        self._call = _Call()
        # LOOKAHEAD: the start of the line after a newline inside an unclosed call.
        self._look: list[str] = []
        self._look_from = 0  # where that line starts in the call's `raw`
        self._look_colon = False  # its first `:` was checked (a `Thought:`?)
        # TRAIL: what follows the call's `)` on its line.
        self._trail: list[str] = []

    def feed(self, chunk: str) -> list[Task]:
        """Consume more text; return the tasks it completed, in order."""
        for char in chunk:
            if char == "\r":
                self._skip_lf = True
                self._consume("\n")
            elif char == "\n" and self._skip_lf:
                self._skip_lf = False
            else:
                self._skip_lf = False
                self._consume(char)
        return self._take()

    def close(self, *, cut_off: bool = False) -> list[Task]:
        """End of stream: finish the last line, and add `join` if it never came.

        A call still open is cut off: a task error, never run. `cut_off=True` says the output
        stopped before the model finished (the token cap, a broken stream): then a call whose
        line had not ended is cut off too, since what followed its `)` is unknown.
        """
        if self._mode is _Mode.LOOKAHEAD:
            self._continue_call()
        if self._mode is _Mode.CALL or (self._mode is _Mode.TRAIL and cut_off):
            self._fail_call(CUT_OFF)
        elif self._mode is _Mode.TRAIL:
            self._end_task_line()
        elif self._mode is _Mode.IDLE:
            self._end_line()
        if self._mode is not _Mode.ENDED:
            self._join(None)
        return self._take()

    @property
    def ended(self) -> bool:
        """The plan has ended (`join()` or `<END_OF_PLAN>`): whatever follows is ignored."""
        return self._mode is _Mode.ENDED

    @property
    def notes(self) -> list[str]:
        """Lines that were neither a task, a `Thought:` nor the plan's end, in order (prose,
        an unreadable line, a call with other text beside it): never dropped in silence,
        the joiner sees them."""
        return list(self._notes)

    def take_notes(self) -> list[str]:
        """The notes found since the last call (for a caller that reports them as they come)."""
        new = self._notes[self._notes_taken :]
        self._notes_taken = len(self._notes)
        return new

    def _take(self) -> list[Task]:
        out, self._out = self._out, []
        return out

    def _consume(self, char: str) -> None:
        if self._mode is _Mode.CALL or self._mode is _Mode.LOOKAHEAD or self._mode is _Mode.TRAIL:
            self._call.raw.append(char)
        self._step(char)

    def _step(self, char: str) -> None:
        mode = self._mode
        if mode is _Mode.CALL:
            self._call_char(char)
        elif mode is _Mode.IDLE:
            self._idle_char(char)
        elif mode is _Mode.LOOKAHEAD:
            self._lookahead_char(char)
        elif mode is _Mode.TRAIL:
            if char == "\n":
                self._end_task_line()
            else:
                self._trail.append(char)

    # -- between tasks ---------------------------------------------------------------------

    def _idle_char(self, char: str) -> None:
        if char == "\n":
            self._end_line()
            return
        self._line.append(char)
        if not self._head_open:
            return
        if len(self._line) > MAX_HEAD:
            self._head_open = False
        elif char == "(":  # a task head holds no `(` but its last: decide here, once
            self._head_open = False
            line = "".join(self._line)
            match = _task_head(line)
            if match is not None:
                self._line, self._head_open = [], True  # for the line after the task's
                self._start(match, line)

    def _end_line(self) -> None:
        line = "".join(self._line)
        self._line, self._head_open = [], True
        thought = _THOUGHT.match(line)
        if thought is not None:
            text = line[thought.end() :].strip()
            if text:
                self._thought = f"{self._thought} {text}" if self._thought else text
        elif _END not in line and not _NOT_A_NOTE.fullmatch(line):
            self._notes.append(line.strip())
        if _END in line:
            self._join(None)

    def _start(self, match: re.Match[str], line: str) -> None:
        self._mode = _Mode.CALL
        self._call = _Call(
            idx=None if match[1] is None else int(match[1]),
            tool=JOIN if match[2] is None else match[2],
            thought=self._thought,
            raw=[line],
        )
        self._thought = None

    def _join(self, idx: int | None, text: str = "", thought: str | None = None) -> None:
        """End the plan with its `join` (see `PlanChecker.join`)."""
        if thought is None:
            thought, self._thought = self._thought, None
        self._out.append(self._checker.join(idx, text, thought))
        self._mode = _Mode.ENDED

    # -- inside a call's parentheses -------------------------------------------------------

    def _call_char(self, char: str) -> None:
        call = self._call
        if call.maybe_triple:
            call.maybe_triple = False
            if char == call.text[-1]:
                self._open_string(char, triple=True)
                return
        if call.dollar is not None:
            if len(call.dollar) < _MAX_UNQUOTED_REF and self._extends_dollar(char):
                call.dollar += char
                return
            self._flush_dollar()
        if call.quote is not None:
            self._string_char(char)
        elif char == "\n":
            call.comment = False
            self._mode, self._look, self._look_from = _Mode.LOOKAHEAD, [], len(call.raw)
            self._look_colon = False
        elif call.comment:
            return
        elif char == "#":
            call.comment = True
        elif char == "$":
            call.dollar = char
        elif char in "'\"":
            self._open_string(char, triple=False)
        elif char == ")" and not call.brackets:
            if call.tool == JOIN:
                self._join(call.idx, "".join(call.text), call.thought)
            else:
                self._mode, self._trail = _Mode.TRAIL, []
        else:
            call.text.append(char)
            if char in _OPENERS:
                call.brackets.append(char)
            elif char in ")]}" and call.brackets:
                call.brackets.pop()

    def _open_string(self, quote: str, *, triple: bool) -> None:
        call = self._call
        call.text.append(quote)
        call.quote, call.triple, call.escape, call.run = quote, triple, False, 0
        call.string_start = len(call.text)

    def _string_char(self, char: str) -> None:
        """A string is opaque until it closes: no line inside it is a task or the plan's end."""
        call = self._call
        empty = len(call.text) == call.string_start
        if char == "\n" and not call.triple and not call.escape:
            call.text.append("\\n")  # lenient: a raw newline inside a one-line literal
            call.run = 0
            return
        call.text.append(char)
        if call.escape:
            call.escape = False
        elif char == "\\":
            call.escape, call.run = True, 0
        elif char != call.quote:
            call.run = 0
        elif not call.triple:
            call.quote, call.maybe_triple = None, empty
        else:
            call.run += 1
            if call.run == 3:
                call.quote = None

    def _extends_dollar(self, char: str) -> bool:
        """Whether `char` continues an unquoted reference: `$N`, `${N}`, then a field path
        (`.name`, `[0]`), so that `$1.celsius` reads as `"$1.celsius"`."""
        return _UNQUOTED_REF_PREFIX.fullmatch((self._call.dollar or "") + char) is not None

    def _flush_dollar(self) -> None:
        """Quote an unquoted `$N` / `${N}` (lenient for models that forget the quotes)."""
        call = self._call
        token, call.dollar = call.dollar or "", None
        match = _UNQUOTED_REF.match(token)
        if match is None:
            call.text.append(token)
        else:  # a trailing `.` or `[` that led nowhere is text again
            call.text.append(f'"{match.group(0)}"{token[match.end() :]}')

    def _lookahead_char(self, char: str) -> None:
        """A newline inside brackets continues the call, unless the next line starts a task,
        a `Thought:` or the plan's end: then the call was never closed and does not run."""
        if char == "\n" or len(self._look) >= MAX_HEAD:
            self._continue_call()
            self._step(char)
            return
        self._look.append(char)
        if char == "(":  # a task head's only `(` is its last: decided here, once
            if _task_head("".join(self._look)) is not None:
                self._terminate_call()
            else:
                self._continue_call()
        elif char == ":" and not self._look_colon:
            self._look_colon = True
            if _THOUGHT.fullmatch("".join(self._look)):
                self._terminate_call()
        elif (
            char == ">"
            and "".join(self._look[-len(_END) :]) == _END
            and _END_LINE.fullmatch("".join(self._look))
        ):
            self._terminate_call()

    def _continue_call(self) -> None:
        """The line after a newline belongs to the call: take the newline, replay the line."""
        line, self._look = self._look, []
        self._call.text.append("\n")
        self._mode = _Mode.CALL
        for queued in line:
            self._step(queued)

    def _terminate_call(self) -> None:
        """The next line starts something else: the open call fails, the line is read anew."""
        line, self._look = self._look, []
        del self._call.raw[self._look_from :]
        self._fail_call(NOT_CLOSED)
        if self._mode is _Mode.ENDED:
            return
        self._mode = _Mode.IDLE
        for queued in line:
            self._step(queued)

    # -- the end of a task's line ----------------------------------------------------------

    def _end_task_line(self) -> None:
        """A task is exactly one call on its line: anything but a comment after its `)`
        makes the whole line a note (`send(...) only if $3 is late` must not run)."""
        call = self._call
        self._mode = _Mode.IDLE
        trail = "".join(self._trail)
        if _TRAIL_OK.fullmatch(trail):
            assert call.idx is not None  # only `join` may come without a number
            self._out.append(
                self._checker.task(call.idx, call.tool, "".join(call.text), call.thought)
            )
            return
        self._notes.append("".join(call.raw).strip())
        self._thought = call.thought  # the thought stays for the next task
        if _END in trail:  # (inside the call's strings it is text)
            self._join(None)

    def _fail_call(self, reason: str) -> None:
        """The call was not written whole: record it as a task error (the joiner sees it)."""
        call = self._call
        if call.dollar is not None:
            self._flush_dollar()
        if call.tool == JOIN:
            self._join(call.idx, "", call.thought)
            return
        assert call.idx is not None
        task = self._checker.task(call.idx, call.tool, call.closed_text(), call.thought)
        error = reason if task.error is None else f"{reason}; {task.error}"
        self._out.append(dataclasses.replace(task, error=error))
        self._mode = _Mode.IDLE


def parse_plan(
    text: str,
    tools: Iterable[ToolLike] | Mapping[str, ToolLike],
    *,
    known: Iterable[int] = (),
    max_tasks: int | None = None,
    cut_off: bool = False,
) -> list[Task]:
    """Parse a whole plan; the same machinery as streaming, so the results always agree."""
    return read_plan(text, tools, known=known, max_tasks=max_tasks, cut_off=cut_off)[0]


def read_plan(
    text: str,
    tools: Iterable[ToolLike] | Mapping[str, ToolLike],
    *,
    known: Iterable[int] = (),
    max_tasks: int | None = None,
    cut_off: bool = False,
) -> tuple[list[Task], list[str]]:
    """A whole plan's tasks and its notes (the lines that were none of task, `Thought:` or
    the plan's end). `cut_off`: the text stopped before the model finished (see `close`)."""
    parser = PlanParser(tools, known=known, max_tasks=max_tasks)
    tasks = parser.feed(text) + parser.close(cut_off=cut_off)
    return tasks, parser.notes
