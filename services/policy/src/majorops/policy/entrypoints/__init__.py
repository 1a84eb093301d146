"""Policy's entry points: its message consumer (it serves no HTTP beyond the shared probes)."""
