"""What the audit trail needs to know about the current request: the client address and the API key in use."""

from contextvars import ContextVar
from typing import NamedTuple


class KeyInUse(NamedTuple):
    """The API key that authenticated the current request, and the service user it acts through."""

    key_id: int
    user_id: int
    label: str


current_ip: ContextVar[str | None] = ContextVar("current_ip", default=None)
current_api_key: ContextVar[KeyInUse | None] = ContextVar("current_api_key", default=None)
