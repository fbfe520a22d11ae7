"""Cross-run result cache for pure tools, kept in the LangGraph store with a TTL per tool.

A tool opts in with `metadata={"cache_ttl_s": seconds}` (it must be pure: same arguments,
same result). Results are shared across runs and threads of everything using the same store
(`langgraph dev` and LangGraph Server bring one; otherwise pass `store=` to
`create_llm_compiler`). Only successes are cached. Entries carry their own timestamp, so the
TTL works with any store. The cache is an optimization: a store that fails (a dropped
connection, say) counts as a miss and is logged, and the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import BaseStore

NAMESPACE = ("llmcompiler", "tool_results")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheHit:
    result: Any


@dataclass(frozen=True)
class ResultCache:
    store: BaseStore

    async def lookup(self, tool: str, call: str, ttl_s: float) -> CacheHit | None:
        """The cached result of `call`, or None (a miss, an expired entry or a failing store)."""
        try:
            item = await self.store.aget((*NAMESPACE, tool), _key(call))
        except Exception:
            logger.warning(
                "result cache lookup failed for %s; treated as a miss", tool, exc_info=True
            )
            return None
        if item is None or time.time() - item.value["stored_at"] > ttl_s:
            return None
        return CacheHit(item.value["result"])

    async def save(self, tool: str, call: str, result: Any) -> None:
        """Remember a success; a failing store loses the entry, never the run."""
        value = {"call": call, "result": result, "stored_at": time.time()}
        try:
            await self.store.aput((*NAMESPACE, tool), _key(call), value, index=False)
        except Exception:
            logger.warning("result cache save failed for %s; not cached", tool, exc_info=True)


def _key(call: str) -> str:
    return hashlib.sha256(call.encode()).hexdigest()
