"""API keys on the REST API (`Authorization: Api-Key <key>`) and the request throttles per key, user and address."""

from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling
from rest_framework.request import Request

from accounts.context import KeyInUse, current_api_key
from accounts.middleware import client_ip
from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from config.cache import RedisCache

KEYWORD = "Api-Key"


class ApiKeyInvalid(exceptions.APIException):
    """401 whatever authentication class comes first (DRF would turn AuthenticationFailed into a 403 when the
    first class, the session, names no WWW-Authenticate scheme)."""

    status_code = 401
    default_code = "api_key_invalid"
    default_detail = _("The API key is unknown or has been revoked.")
    auth_header = KEYWORD


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """A key made by IT in the admin or with `manage.py create_api_key`; it acts with its role's permissions."""

    def authenticate(self, request: Request) -> tuple | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, raw_key = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None
        if not raw_key.strip():
            raise ApiKeyInvalid(_("The Authorization header names no API key."))
        key = api_key_authenticate(raw_key=raw_key)
        if key is None:
            raise ApiKeyInvalid()
        current_api_key.set(KeyInUse(key_id=key.pk, user_id=key.user_id, label=f"API key {key.name}"[:150]))
        # Not an attack on the session: a key request carries no cookies, so CSRF does not apply.
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: a key created by IT in the admin or with `manage.py create_api_key`.",
        }


# DRF's sliding window (the times of the requests within the last `duration` seconds, oldest last), kept in a
# Redis list and checked and counted by one script: one round trip per request instead of a read and a write, no
# list pickled back and forth, and two requests at once cannot both take the last place. Answers
# [1, 0] when the request is allowed, [0, time of the oldest counted request] when it is not.
SLIDING_WINDOW_SCRIPT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
while true do
    local oldest = redis.call('LINDEX', KEYS[1], -1)
    if oldest and tonumber(oldest) <= now - window then redis.call('RPOP', KEYS[1]) else break end
end
if redis.call('LLEN', KEYS[1]) >= limit then
    return {0, redis.call('LINDEX', KEYS[1], -1)}
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return {1, 0}
"""


class _RateFromSettings(throttling.SimpleRateThrottle):
    """Rates read from settings.LOOPLINE_API_RATES at each request, so they follow the environment."""

    _scripts: dict[int, Any] = {}

    def __init__(self) -> None:
        # SimpleRateThrottle reads its rates at import; ours are looked up when the throttle is built.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str | None:
        return settings.LOOPLINE_API_RATES.get(self.scope)

    def allow_request(self, request: Request, view) -> bool:
        backend = caches["default"]
        if not isinstance(backend, RedisCache):  # the embedded defaults' file cache: DRF's read and write
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        client = backend._cache.get_client(write=True)
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(SLIDING_WINDOW_SCRIPT)
        self.now = self.timer()
        allowed, oldest = script(
            keys=[backend.make_and_validate_key(self.key)], args=[repr(self.now), self.duration, self.num_requests]
        )
        # wait() reads the oldest counted request from the history, as DRF's own allow_request leaves it.
        self.history = [] if allowed else [float(oldest)]
        return bool(allowed)

    def wait(self) -> float | None:
        if not isinstance(caches["default"], RedisCache):
            return super().wait()
        if not self.history:
            return None
        # Another request may have counted itself a moment after this one read the clock.
        return min(float(self.duration), max(0.0, self.duration - (self.now - self.history[-1])))


class ApiKeyThrottle(_RateFromSettings):
    """Requests per API key."""

    scope = "key"

    def get_cache_key(self, request: Request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class UserThrottle(_RateFromSettings):
    """Requests per signed-in person (session)."""

    scope = "user"

    def get_cache_key(self, request: Request, view) -> str | None:
        if isinstance(request.auth, ApiKey) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AnonymousThrottle(_RateFromSettings):
    """Requests per client address without any credentials."""

    scope = "anonymous"

    def get_cache_key(self, request: Request, view) -> str | None:
        if request.user.is_authenticated:
            return None
        # REMOTE_ADDR, not DRF's default that trusts a client-sent X-Forwarded-For.
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}
