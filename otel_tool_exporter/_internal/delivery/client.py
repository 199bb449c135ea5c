"""Async client for ``POST {base_url}/tools/log`` with the retry policy of SPEC §5.

Typed errors carry what the server said (status, the 422 ``detail``), never the API key and
never the request body.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import ValidationError

from otel_tool_exporter._internal.delivery.limiter import AdaptiveLimiter
from otel_tool_exporter._internal.delivery.retry import (
    RETRYABLE_STATUS,
    THROTTLE_STATUS,
    RetryPolicy,
    parse_retry_after,
)
from otel_tool_exporter._internal.delivery.transports import (
    RequestTimeoutError,
    Transport,
    TransportError,
    redirect_target,
)
from otel_tool_exporter.models import HTTPValidationError, ToolLogRequest, ToolLogResponse, ValidationErrorItem

__all__ = [
    "APIStatusError",
    "HumanloopClient",
    "HumanloopError",
    "InvalidResponseError",
    "RetriesExhausted",
    "UnprocessableEntityError",
]


class HumanloopError(Exception):
    """Base of every delivery error."""

    reason = "error"


class APIStatusError(HumanloopError):
    """A final (non-retryable) HTTP status, or the last retryable one when retries ran out."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message

    @property
    def reason(self) -> str:  # type: ignore[override]
        return f"http_{self.status}"


class UnprocessableEntityError(APIStatusError):
    """422: the server's validation ``detail`` is kept as typed items."""

    def __init__(self, detail: list[ValidationErrorItem], message: str) -> None:
        super().__init__(422, message)
        self.detail = detail


class InvalidResponseError(HumanloopError):
    reason = "invalid_response"


class RetriesExhausted(HumanloopError):
    """Retrying stopped at ``max_elapsed``; ``last`` is what the final attempt met."""

    reason = "retries_exhausted"

    def __init__(self, last: Exception, attempts: int, elapsed: float) -> None:
        super().__init__(f"gave up after {attempts} attempts in {elapsed:.1f}s: {last}")
        self.last = last
        self.attempts = attempts


def _detail_message(body: bytes) -> tuple[str, list[ValidationErrorItem]]:
    """A short, body-free summary of an error reply (FastAPI-style ``detail``)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return (body[:200].decode("utf-8", "replace").strip() or "no detail"), []
    detail = doc.get("detail") if isinstance(doc, dict) else None
    if isinstance(detail, list):
        try:
            items = HTTPValidationError.model_validate({"detail": detail}).detail
        except ValidationError:
            return "unreadable validation detail", []
        text = "; ".join(f"{'.'.join(str(p) for p in item.loc)}: {item.msg}" for item in items[:10])
        return text or "validation failed", items
    if isinstance(detail, dict):
        return str(detail.get("msg") or detail.get("message") or detail)[:500], []
    if detail is not None:
        return str(detail)[:500], []
    return "no detail", []


class HumanloopClient:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transport: Transport,
        policy: RetryPolicy | None = None,
        limiter: AdaptiveLimiter | None = None,
        extra_headers: Mapping[str, str] | None = None,
        on_retry: Callable[[str], None] | None = None,
        on_response: Callable[[float, str], None] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = base_url.rstrip("/") + "/tools/log"
        self._headers = {**(extra_headers or {}), "X-API-KEY": api_key, "Content-Type": "application/json"}
        self.transport = transport
        self.policy = policy or RetryPolicy()
        self.limiter = limiter
        self._on_retry = on_retry
        self._on_response = on_response
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"HumanloopClient(url={self._url!r}, api_key='***')"

    async def log_tool(
        self,
        request: ToolLogRequest | bytes,
        *,
        version_id: str | None = None,
        environment: str | None = None,
    ) -> ToolLogResponse:
        """Create one Log, retrying per SPEC §5; raise a :class:`HumanloopError` when it cannot."""
        content = request if isinstance(request, bytes) else request.to_json_bytes()
        params = {}
        if version_id:
            params["version_id"] = version_id
        if environment:
            params["environment"] = environment
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            pressure = False
            limiter = self.limiter
            if limiter is not None:
                await limiter.acquire()
            sent_at = self._clock()
            try:
                response = await self.transport.post(self._url, params=params, headers=self._headers, content=content)
            except TransportError as exc:
                pressure = isinstance(exc, RequestTimeoutError)
                last: Exception = exc
                reason = exc.kind
                if self._on_response is not None:
                    self._on_response(self._clock() - sent_at, exc.kind)
            else:
                status = response.status
                if self._on_response is not None:
                    self._on_response(self._clock() - sent_at, str(status))
                if 200 <= status < 300:
                    if limiter is not None:
                        limiter.release(success=True)
                        limiter = None
                    try:
                        return ToolLogResponse.model_validate_json(response.body)
                    except ValidationError as exc:
                        why = getattr(response, "problem", None) or f"{exc.error_count()} problems"
                        raise InvalidResponseError(
                            f"HTTP {status}: the Log was created but its answer is unreadable ({why}); not sent again"
                        ) from None
                if 300 <= status < 400:  # never followed: the key must not travel to another origin
                    raise APIStatusError(status, f"redirect to {redirect_target(response, self._url)} not followed")
                message, items = _detail_message(response.body)
                if status not in RETRYABLE_STATUS:
                    if status == 422:
                        raise UnprocessableEntityError(items, message)
                    raise APIStatusError(status, message)
                pressure = status in THROTTLE_STATUS
                retry_after = parse_retry_after(response.headers)
                last = APIStatusError(status, message)
                reason = f"http_{status}"
            finally:
                if limiter is not None:
                    limiter.release(pressure=pressure)
            wait = self.policy.backoff(attempt, retry_after)
            elapsed = self._clock() - started
            if elapsed + wait > self.policy.max_elapsed:
                raise RetriesExhausted(last, attempt, elapsed)
            if self._on_retry is not None:
                self._on_retry(reason)
            await self._sleep(wait)
