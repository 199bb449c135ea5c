"""The delivery stage: ready Log requests → acknowledged Logs."""
