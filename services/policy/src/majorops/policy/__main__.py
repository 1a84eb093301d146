"""``python -m majorops.policy`` — run policy alone against ``MAJOROPS_NATS_URL`` and its store.

A setting it cannot use (an unknown ``MAJOROPS_TIMEZONE`` or ``MAJOROPS_HOLIDAYS`` code, a
malformed number) stops it at once with one line on stderr and exit status 78 (``EX_CONFIG``):
deadlines computed on a calendar nobody meant would be worse than no service, and a distinct status
tells a supervisor that restarting will not help.
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import ValidationError

from majorops.policy.config import PolicySettings

EX_CONFIG = 78


def configuration_problem(exc: ValidationError) -> str:
    """Every invalid setting on one line, named by its environment variable."""
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        variable = f"MAJOROPS_{field.upper()}" if field else "settings"
        problems.append(f"{variable}={error.get('input')!r}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def checked_settings() -> PolicySettings:
    """The settings from the environment, or exit with status 78 and one line saying what is wrong."""
    try:
        settings = PolicySettings()
        settings.extra_types  # noqa: B018 - parsed here so that a malformed name also refuses at once
    except ValidationError as exc:
        problem = configuration_problem(exc)
    except ValueError as exc:
        problem = str(exc)
    else:
        return settings
    sys.stderr.write(f"majorops policy: refusing to start: {problem}\n")
    raise SystemExit(EX_CONFIG)


def main() -> None:
    settings = checked_settings()
    # Imported only now: the broker and database clients take most of the start-up time, and a
    # refusal should not wait for them.
    from majorops.policy.app import SERVICE, PolicyRuntime
    from majorops.shared.logging import configure_logging

    configure_logging(SERVICE, settings.log_level, settings.replica)
    asyncio.run(PolicyRuntime(settings).run())


if __name__ == "__main__":
    main()
