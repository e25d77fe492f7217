"""One error body for the whole API: {"code": ..., "detail": ..., "fields": {...}}."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.errors import ApplicationError

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    # Django's own errors, raised by get_object_or_404, permission helpers or a service's full_clean().
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(serializers.as_serializer_error(exc))
    elif isinstance(exc, DataError):
        # The database refused a value the request carried (a time-zone offset or a number beyond what it
        # stores): the request's fault, and nothing was written.
        logger.warning("API request refused by the database: %s", exc)
        exc = exceptions.ValidationError(
            {"non_field_errors": [_("A value is out of the range this system can store.")]}
        )
    if isinstance(exc, ApplicationError):
        return Response({"code": exc.code, "detail": exc.message, **exc.extra}, status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data
        if not isinstance(fields, dict):
            # Raised with bare messages (e.g. by DRF's search filter) rather than per field: DRF's key for those.
            fields = {api_settings.NON_FIELD_ERRORS_KEY: fields if isinstance(fields, list) else [fields]}
        response.data = {"code": "invalid", "detail": "Invalid input.", "fields": fields}
        response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.APIException):
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"code": getattr(detail, "code", exc.default_code), "detail": str(detail)}
    return response


API_PREFIX = "/api/"


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (a suspicious request, e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE); under /api/ in the API's
    error body rather than an HTML page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"code": "parse_error", "detail": str(exceptions.ParseError.default_detail)}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 403 raised outside DRF; under /api/ in the API's error body rather than an HTML page."""
    if request.path.startswith(API_PREFIX):
        detail = str(exceptions.PermissionDenied.default_detail)
        return JsonResponse({"code": "permission_denied", "detail": detail}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 (no route matched); under /api/ in the API's error body rather than an HTML page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"code": "not_found", "detail": str(exceptions.NotFound.default_detail)}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500; under /api/ in the API's error body rather than an HTML page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"code": "server_error", "detail": _("Something went wrong on the server.")}, status=500)
    return defaults.server_error(request)


# Answers any operation may give, documented on each by `document_error_responses` unless the operation already
# describes them in its own words.
COMMON_ERRORS = {
    400: "The query parameters or the body were refused: code `invalid`, with the messages per field in `fields`.",
    401: "The API key is unknown or has been revoked (`Authorization: Api-Key <key>`).",
    403: "Not signed in and no API key, or the caller lacks the permission this operation needs.",
    404: "No such object, or not visible to the caller; for a list, a page or cursor that does not exist.",
    429: "Too many requests from this key, person or address; the Retry-After header says when to try again.",
}


ERROR_REF = "#/components/schemas/Error"  # accounts.api.ErrorSerializer


def document_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: every operation documents the common error answers, in the common
    error body, so a client knows every status it may receive."""
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status_code, description in COMMON_ERRORS.items():
                entry = responses.setdefault(
                    str(status_code),
                    {"description": description, "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}},
                )
                if status_code == 429:
                    entry.setdefault("headers", {}).setdefault(
                        "Retry-After",
                        {"schema": {"type": "integer"}, "description": "Seconds to wait before the next request."},
                    )
    return result
