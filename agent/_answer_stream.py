"""Streaming the joiner's answer to chat clients while its reply arrives.

The joiner model's own run is hidden from the `messages` stream (tag `nostream`): its reply
holds `Thought:`/`Action:` scaffolding. `AnswerStream` reads the reply as it arrives and writes
the settled part of the answer (`agent._joiner_reply.ReplyReader`) to the `messages` stream with
LangGraph's `push_message`, as chunks of one AI message whose id the final answer message
reuses. It is not a model run of its own, so a joiner call is exactly one chat-model run for
tracers, callback handlers and usage.

Only text no continuation of the reply can change is shown, so an honest answer is never taken
back. When text already shown stops being the answer anyway (the model failed mid-reply, an
`Action:` line came after prose, the reply asked for a new plan), an `answer_withdrawn` event
names the message before anything replaces it (docs/protocol.md shows how a client renders it).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from langchain_core.messages import AIMessageChunk
from langgraph.graph.message import push_message

from agent import _events as events
from agent._joiner_reply import ReplyReader


class AnswerStream:
    """The answer of one joiner reply, shown to chat clients as it settles."""

    def __init__(self, tools: Collection[str], round_: int) -> None:
        self.reader = ReplyReader(tools)
        self.round = round_
        self.raw = ""
        """The reply so far."""
        self.shown = ""
        """The text of the current answer message that clients have received."""
        self.message_id = str(uuid.uuid4())
        self._decided = False

    def feed(self, text: str) -> bool:
        """Take the next piece of the reply and show what of the answer has settled; True
        when the decision is complete, so the rest of the reply would not be read."""
        self.raw += text
        settled = self.reader.settled(self.raw)
        if settled.decided and not self._decided:
            self._decided = True
            if self.shown and not settled.text.startswith(self.shown):
                self.withdraw("an Action: line after the text decides the answer")
        if settled.text.startswith(self.shown):
            self._show(settled.text[len(self.shown) :])
        return settled.complete

    def close(self, answer: str | None, reason: str) -> None:
        """End the stream with the final `answer` (None: there is none, e.g. a replan); text
        shown that is not the start of it is withdrawn first, for `reason`."""
        final = answer or ""
        if not final.startswith(self.shown):
            self.withdraw(reason)
        self._show(final[len(self.shown) :])

    def withdraw(self, reason: str) -> None:
        """Take back the text shown so far; later text starts a new message."""
        if not self.shown:
            return
        events.answer_withdrawn(self.round, self.message_id, self.shown, reason)
        self.shown = ""
        self.message_id = str(uuid.uuid4())

    def message_id_for(self, answer: str) -> str | None:
        """The id the final answer message takes: the streamed message's when they agree."""
        return self.message_id if self.shown and self.shown == answer else None

    def _show(self, piece: str) -> None:
        if piece:
            self.shown += piece
            push_message(AIMessageChunk(content=piece, id=self.message_id), state_key=None)
