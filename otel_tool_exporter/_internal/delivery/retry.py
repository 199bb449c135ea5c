"""Retry policy (SPEC §5): what is retried, how long to wait, and for how long in total."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

__all__ = ["RETRYABLE_STATUS", "THROTTLE_STATUS", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
THROTTLE_STATUS = frozenset({429, 503})


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``."""
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:  # "nan"/"inf" parse as floats but are no delay a server meant
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # '-0000' parses naive; HTTP dates are always UTC, never local time
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    initial: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 30.0
    max_elapsed: float = 300.0
    max_retry_after: float = 120.0
    jitter: float = 0.5  # each wait is drawn from [1 - jitter, 1] × the nominal backoff

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        nominal = min(self.max_backoff, self.initial * self.multiplier ** (attempt - 1))
        wait = nominal * (1.0 - self.jitter * random.random())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait
