"""The output-token cap, enforced by the engine itself.

`Context.max_output_tokens` is sent to models built from strings, but not every server honours
the field it arrives in (llama-cpp-python's server ignores `max_completion_tokens`), and a
looping model then decodes to the end of its context while a one-request-at-a-time server
keeps every later call waiting. So the engine also stops reading (and closes the stream, which
stops the server) once a reply is past the cap, whatever the server did.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent._usage import tokens_for_chars


@dataclass
class OutputCap:
    """Counts a streamed reply against `limit` tokens (None: no cap).

    Streaming servers send about one token per chunk, while some models stream characters:
    the count is the smaller of chunks and the text's estimated tokens, so neither kind of
    stream is stopped early, and a server that honours the cap stops on its own first.
    """

    limit: int | None
    chunks: int = 0
    chars: int = 0

    def reached(self, piece: str) -> bool:
        """Count one streamed chunk; True once the reply has reached the cap."""
        if self.limit is None or not piece:
            return False
        self.chunks += 1
        self.chars += len(piece)
        return min(self.chunks, tokens_for_chars(self.chars)) >= self.limit
