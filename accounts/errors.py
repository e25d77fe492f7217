"""Domain errors; every app's errors derive from ApplicationError so views and the API report them alike."""

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    """A rule of the business was broken; `message` is shown to the user, `code` is stable for programs."""

    code = "invalid"
    status = 400

    def __init__(self, message: str | None = None, *, code: str | None = None, extra: dict | None = None):
        self.message = str(message) if message is not None else str(self.default_message)
        if code:
            self.code = code
        self.extra = extra or {}
        super().__init__(self.message)

    default_message = _("The request could not be carried out.")


class LoginFailed(ApplicationError):
    code = "login_failed"
    status = 401
    default_message = _("Unknown badge, employee number or PIN.")


class LoginLockedOut(ApplicationError):
    code = "locked_out"
    status = 423
    default_message = _("Too many wrong PINs; try again later.")
