"""Reminders' entry points: its message consumers (it serves no HTTP beyond the shared probes)."""
