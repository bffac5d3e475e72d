"""Commands for the HTTP API: serve (uvicorn, with credentials kept out of its logs) and token
(a bearer token for one profile)."""

from __future__ import annotations

import logging

from pantry.errors import PantryError



def cmd_serve(args) -> int:
    """The HTTP API (pantry.api) on uvicorn: one Lab and one Store for the whole process."""
    import uvicorn

    from pantry.api import create_app
    from pantry.settings import Settings

    settings = Settings.from_env()
    config = uvicorn.Config(create_app(settings), host=args.host, port=args.port, log_level="info")
    install_log_redaction(settings.redact, "uvicorn", "uvicorn.error", "")  # not uvicorn.access: its
    uvicorn.Server(config).run()  # formatter needs the record's args, and a request line holds no secret
    return 0


class RedactingFilter(logging.Filter):
    """A logging filter that takes credentials out of a record's message and traceback
    (`Settings.redact`) before any handler writes it."""

    def __init__(self, clean):
        super().__init__()
        self.clean = clean

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.clean(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction(clean, *loggers: str) -> None:
    """Put a RedactingFilter on every handler of these loggers ("" is the root logger)."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter(clean))


def cmd_token(args) -> int:
    """Print a bearer token for the HTTP API that reaches only one profile's data (derived
    from PANTRY_API_TOKEN by HMAC: every server with that admin token accepts it)."""
    from pantry.api.tokens import profile_token
    from pantry.settings import Settings

    settings = Settings.from_env()
    if not settings.api_token:
        raise PantryError("PANTRY_API_TOKEN is not set: profile tokens are derived from it (the admin token)")
    print(profile_token(settings.api_token, args.profile))
    return 0
