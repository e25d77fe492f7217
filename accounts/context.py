"""The request's client address, kept for the audit trail of whatever service the request calls."""

from contextvars import ContextVar

current_ip: ContextVar[str | None] = ContextVar("current_ip", default=None)
