"""The exporter's machinery. Nothing here is public: import from ``otel_tool_exporter`` or
``otel_tool_exporter.extend`` instead; names and modules here change without notice."""
