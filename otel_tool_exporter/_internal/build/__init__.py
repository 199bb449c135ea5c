"""The build stage: recognise a tool span, map it onto a Log request, redact it. Pure, no I/O."""
