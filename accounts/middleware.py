from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts.context import current_api_key, current_ip


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Remembers the client address (and, once the API authenticates one, the API key) so AuditEvents written
    during the request carry them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_ip.set(client_ip(request))
        key_token = current_api_key.set(None)
        try:
            return self.get_response(request)
        finally:
            current_api_key.reset(key_token)
            current_ip.reset(token)


class PermissionsPolicyMiddleware:
    """Sends the Permissions-Policy header (Django's SecurityMiddleware has no setting for it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.LOOPLINE_PERMISSIONS_POLICY)
        return response
