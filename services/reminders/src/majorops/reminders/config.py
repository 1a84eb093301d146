"""Reminders settings (env prefix ``MAJOROPS_``)."""

from __future__ import annotations

from majorops.shared.settings import CommonSettings


class RemindersSettings(CommonSettings):
    """Everything reminders reads from the environment beyond the settings every service shares."""
