"""413 Payload Too Large: cut the largest fields far below what was refused, and try once more."""

from __future__ import annotations

from dataclasses import replace

from otel_tool_exporter._internal.delivery.outcomes import Failed, Outcome, Outgoing, Sender
from otel_tool_exporter._internal.limits import cap_request
from otel_tool_exporter.models import ToolLogRequest

__all__ = ["ShrinkOn413"]


class ShrinkOn413:
    def __init__(self, inner: Sender, max_field_bytes: int) -> None:
        self._inner = inner
        self.max_field_bytes = max_field_bytes

    async def send(self, log: Outgoing) -> Outcome:
        outcome = await self._inner.send(log)
        if isinstance(outcome, Failed) and outcome.status == 413:
            return await self._inner.send(replace(log, body=self.shrunk(log.body)))
        return outcome

    def shrunk(self, body: bytes) -> bytes:
        """The server's limit is unknown: each value field at most a sixteenth of the refused body."""
        request = ToolLogRequest.model_validate_json(body)
        cap_request(request, max(1024, min(len(body) // 16, self.max_field_bytes // 4)))
        return request.to_json_bytes()
