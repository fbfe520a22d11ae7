"""`wikipedia_search`: the intro of the best-matching English Wikipedia page, over HTTP.

One request per search: the MediaWiki action API's `generator=search` feeds the top hit
straight into `prop=extracts`, so the planner's parallel searches each cost one round trip.
Transient failures (connection errors, timeouts, 429, 5xx) are retried with exponential
backoff; what still fails raises, so the engine records it as the task's error.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from agent.models import is_transient

DEFAULT_URL = "https://en.wikipedia.org/w/api.php"
URL_ENV = "LLMCOMPILER_WIKIPEDIA_URL"
USER_AGENT = "llmcompiler-langgraph/0.1 (LLMCompiler research template; python-httpx)"
MAX_CHARS = 1500


class WikipediaArgs(BaseModel):
    query: str = Field(description="A short entity or topic name, e.g. 'Mount Everest'.")


def _trim(text: str, limit: int = MAX_CHARS) -> str:
    """Cut at a word boundary so the planner never sees half a word or number."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(maxsplit=1)[0] + " …"


def _params(query: str) -> dict[str, str | int]:
    return {
        "action": "query",
        "format": "json",
        "formatversion": 2,
        "generator": "search",
        "gsrsearch": query,
        "gsrlimit": 1,
        "prop": "extracts",
        "exintro": 1,
        "explaintext": 1,
        "redirects": 1,
    }


def _answer(query: str, payload: Any) -> str:
    if not isinstance(payload, dict):
        raise ToolException("Wikipedia returned an unexpected response")
    if "error" in payload:
        raise ToolException(f"Wikipedia API error: {payload['error']}")
    pages = (payload.get("query") or {}).get("pages") or []
    if not pages:
        return f"No Wikipedia page found for {query!r}"
    page = pages[0]  # `gsrlimit=1`: the top hit only
    extract = (page.get("extract") or "").strip() or "(no introduction available)"
    return _trim(f"{page.get('title', query)}: {extract}")


def build_wikipedia_tool(
    base_url: str | None = None,
    timeout_s: float = 10.0,
    retries: int = 2,
    backoff_s: float = 0.5,
) -> BaseTool:
    """A `wikipedia_search` tool; `base_url` (else env LLMCOMPILER_WIKIPEDIA_URL) is api.php."""

    async def _fetch(url: str, query: str) -> Any:
        async with httpx.AsyncClient(
            timeout=timeout_s, headers={"User-Agent": USER_AGENT}
        ) as client:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_transient),
                stop=stop_after_attempt(retries + 1),
                wait=wait_exponential(multiplier=backoff_s, max=8.0) + wait_random(0, backoff_s),
                reraise=True,
            ):
                with attempt:
                    response = await client.get(url, params=_params(query))
                    response.raise_for_status()
            return response.json()

    async def _search(query: str) -> str:
        url = base_url or os.environ.get(URL_ENV) or DEFAULT_URL
        try:
            payload = await _fetch(url, query)
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ToolException(
                f"Wikipedia is unreachable ({detail}): check the network or set {URL_ENV}"
            ) from exc
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            raise ToolException(f"Wikipedia answered HTTP {status} for {query!r}") from exc
        except ValueError as exc:
            raise ToolException("Wikipedia returned invalid JSON") from exc
        return _answer(query, payload)

    return StructuredTool.from_function(
        coroutine=_search,
        name="wikipedia_search",
        description=(
            "Search English Wikipedia and return the introduction of the best-matching page "
            "as 'Title: text' (at most 1,500 characters), or a 'No Wikipedia page found' note."
        ),
        args_schema=WikipediaArgs,
        metadata={"pure": True, "cache_ttl_s": 3600},
        handle_tool_error=False,
    )


wikipedia_search: BaseTool = build_wikipedia_tool()
