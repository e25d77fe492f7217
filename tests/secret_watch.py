"""Watches the whole test suite for secrets in what Loopline answers or logs.

Every channel, ERP and robot secret a test stores (through the models' set_credentials / set_secrets) and every
API key created becomes a known secret. Each response of the test clients (Django's and DRF's) and each log
record emitted while a test runs is searched for them when the test ends; a hit fails that test, naming the
request or logger where the secret appeared.
"""

import hashlib
import logging
import re
from dataclasses import dataclass, field

from django.test import client as test_client

# Values shorter than this are too common to mean anything ("s", "token"); real secrets are longer.
MIN_SECRET_LENGTH = 8
API_KEY_SHAPE = re.compile(r"ll_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")
# The one answer that shows a secret on purpose: the admin page right after IT creates an API key.
SHOWS_KEY_ONCE = ("POST", "/admin/accounts/apikey/add/")


@dataclass
class Watch:
    secrets: dict[str, str] = field(default_factory=dict)  # value → where it was stored
    key_hashes: set[str] = field(default_factory=set)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (where, text) during the current test

    def leaks(self) -> list[str]:
        found = []
        for where, text in self.seen:
            for value, origin in self.secrets.items():
                if value in text:
                    found.append(f"{origin} appeared in {where}")
            for token in API_KEY_SHAPE.findall(text):
                if hashlib.sha256(token.encode()).hexdigest() in self.key_hashes:
                    found.append(f"an API key appeared in {where}")
        return found


WATCH = Watch()


def _remember(origin: str, values: dict) -> None:
    for name, value in (values or {}).items():
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            WATCH.secrets.setdefault(value, f"the {name} of {origin}")


def _wrap_setter(model, method_name: str) -> None:
    original = getattr(model, method_name)

    def setter(self, values: dict) -> None:
        _remember(f"{model.__name__} {getattr(self, 'name', '') or getattr(self, 'code', '')}".strip(), values)
        return original(self, values)

    setattr(model, method_name, setter)


class _LogRecorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is no reason to break the suite
            text = str(record.msg)
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        WATCH.seen.append((f"a log line of {record.name}", text))


def install() -> None:
    """Start watching: wrap the secret setters and the test clients, and listen to every log record."""
    from django.db.models.signals import post_save

    from accounts.models import ApiKey
    from integrations.models import ChannelAccount, ErpConnection, NotifyChannel

    _wrap_setter(ChannelAccount, "set_credentials")
    _wrap_setter(ErpConnection, "set_credentials")
    _wrap_setter(NotifyChannel, "set_secrets")
    post_save.connect(
        lambda sender, instance, **kwargs: WATCH.key_hashes.add(instance.key_hash),
        sender=ApiKey,
        weak=False,
        dispatch_uid="secret-watch-api-keys",
    )

    original_request = test_client.Client.request

    def request(self, **environ):
        response = original_request(self, **environ)
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if (method, path) != SHOWS_KEY_ONCE and not getattr(response, "streaming", False):
            text = response.content.decode("utf-8", "replace")
            headers = "\n".join(f"{name}: {value}" for name, value in response.items())
            WATCH.seen.append((f"the answer to {method} {path}", headers + "\n" + text))
        return response

    test_client.Client.request = request
    _listen_to_logs()


_RECORDER = _LogRecorder(level=logging.DEBUG)


def _listen_to_logs() -> None:
    # Re-attached before each test: a test that configures logging again (django.setup(), dictConfig) replaces
    # the root logger's handlers.
    root = logging.getLogger()
    if _RECORDER not in root.handlers:
        root.addHandler(_RECORDER)


def start_test() -> None:
    _listen_to_logs()
    WATCH.seen.clear()


def finish_test() -> list[str]:
    leaks = WATCH.leaks()
    WATCH.seen.clear()
    return leaks
