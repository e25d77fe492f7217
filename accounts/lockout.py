"""Lockout after repeated wrong passwords at the office sign-in and the admin, kept by django-axes."""

from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' check, for sign-ins that come with a request (the login page, the admin).

    Code that calls authenticate() without a request (a management command, a script) is not a browser guessing
    passwords; axes would refuse it outright, so it passes on to the model backend instead.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def locked_out_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The sign-in page again, saying why and until when; 429 like any other throttled request."""
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    until = timezone.localtime(timezone.now() + cool_off)
    message = _(
        "Too many wrong passwords for this user name: sign-in is locked until %(time)s. "
        "IT can lift the lockout earlier."
    ) % {"time": f"{until:%H:%M}"}
    return render(request, "accounts/login.html", {"locked_out": message, "next": ""}, status=429)
