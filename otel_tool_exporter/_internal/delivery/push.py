"""The innermost delivery layer: one ``POST {base_url}/tools/log`` over a transport, its answer
read into a typed outcome. What the server said is kept (status, the 422 ``detail``); the API
key and the request body never are."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

from pydantic import ValidationError

from otel_tool_exporter._internal.delivery.outcomes import Failed, Logged, Outcome, Outgoing, Retry
from otel_tool_exporter._internal.delivery.reach import Reachability, describe
from otel_tool_exporter._internal.delivery.retry import RETRYABLE_STATUS, THROTTLE_STATUS, parse_retry_after
from otel_tool_exporter._internal.delivery.transports import (
    RequestTimeoutError,
    Transport,
    TransportError,
    redirect_target,
)
from otel_tool_exporter.models import HTTPValidationError, ToolLogResponse

__all__ = ["HttpPush", "detail_message"]


def detail_message(body: bytes) -> str:
    """A short, body-free summary of an error reply (FastAPI-style ``detail``)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:200].decode("utf-8", "replace").strip() or "no detail"
    detail = doc.get("detail") if isinstance(doc, dict) else None
    if isinstance(detail, list):
        try:
            items = HTTPValidationError.model_validate({"detail": detail}).detail
        except ValidationError:
            return "unreadable validation detail"
        text = "; ".join(f"{'.'.join(str(p) for p in item.loc)}: {item.msg}" for item in items[:10])
        return text or "validation failed"
    if isinstance(detail, dict):
        return str(detail.get("msg") or detail.get("message") or detail)[:500]
    if detail is not None:
        return str(detail)[:500]
    return "no detail"


class HttpPush:
    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str,
        api_key: str,
        headers: Mapping[str, str] | None = None,
        observe: Callable[[float, str], None] | None = None,
        reach: Reachability | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self._url = base_url.rstrip("/") + "/tools/log"
        self._headers = {**(headers or {}), "X-API-KEY": api_key, "Content-Type": "application/json"}
        self._observe = observe
        self.reach = reach
        self._clock = clock

    def __repr__(self) -> str:
        return f"HttpPush(url={self._url!r}, api_key='***')"

    async def send(self, log: Outgoing) -> Outcome:
        params = {}
        if log.version_id:
            params["version_id"] = log.version_id
        if log.environment:
            params["environment"] = log.environment
        sent_at = self._clock()
        try:
            response = await self.transport.post(self._url, params=params, headers=self._headers, content=log.body)
        except TransportError as exc:
            self._record(sent_at, exc.kind)
            cause = describe(exc)
            if self.reach is not None:
                self.reach.failed(cause)
            return Retry(exc.kind, f"{exc} ({cause})", pressure=isinstance(exc, RequestTimeoutError))
        status = response.status
        self._record(sent_at, str(status))
        if self.reach is not None:
            self.reach.answered()
        if 200 <= status < 300:
            try:
                answer = ToolLogResponse.model_validate_json(response.body)
            except ValidationError as exc:
                why = getattr(response, "problem", None) or f"{exc.error_count()} problems"
                return Failed(
                    "invalid_response",
                    f"HTTP {status}: the Log was created but its answer is unreadable ({why}); not sent again",
                )
            return Logged(answer.id, answer.tool_id)
        if 300 <= status < 400:  # never followed: the key must not travel to another origin
            return Failed(
                f"http_{status}",
                f"HTTP {status}: redirect to {redirect_target(response, self._url)} not followed",
                status=status,
            )
        message = f"HTTP {status}: {detail_message(response.body)}"
        if status in RETRYABLE_STATUS:
            return Retry(
                f"http_{status}", message, parse_retry_after(response.headers), pressure=status in THROTTLE_STATUS
            )
        return Failed(f"http_{status}", message, status=status)

    def _record(self, sent_at: float, label: str) -> None:
        if self._observe is not None:
            self._observe(self._clock() - sent_at, label)

    async def aclose(self) -> None:
        await self.transport.aclose()
