from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import is_operator


def operator(request: HttpRequest) -> dict:
    """`is_operator` for the top bar, evaluated only when a template asks."""
    return {"is_operator": SimpleLazyObject(lambda: is_operator(request.user))}
