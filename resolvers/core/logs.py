"""JSON log lines, each carrying the ID of the request it belongs to."""

from __future__ import annotations

import contextvars
import logging
import logging.config
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            # Which worker wrote it: with `serve --workers N` the lines of N processes interleave.
            "pid": record.process,
        }
        request_id = current_request_id()
        if request_id:
            line["requestId"] = request_id
        for key in ("method", "path", "status", "durationMs"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return orjson.dumps(line).decode()


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """JSON lines on stderr for our loggers and uvicorn's, as a `logging.config.dictConfig` dict.

    uvicorn applies it in every worker process it starts (`log_config`); a worker that inherited
    nothing would otherwise drop every line below WARNING, access lines included.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "resolvers.core.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Our middleware writes one access line per request, with its request ID.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))
