"""The delivery stage: HTTP transport, retry policy, adaptive concurrency, the API client."""
