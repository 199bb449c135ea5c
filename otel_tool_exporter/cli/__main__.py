"""``python -m otel_tool_exporter.cli``: the same as the ``otel-tool-exporter`` command."""

import sys

from otel_tool_exporter.cli import main

sys.exit(main())
