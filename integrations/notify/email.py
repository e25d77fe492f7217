"""E-mail through Django's mail framework (the EMAIL_* settings, SMTP in production). No ORM here."""

import smtplib

from django.core.mail import send_mail

from integrations.notify.errors import NotifyError

SERVICE = "E-mail"


def send(*, recipients: list[str], subject: str, body: str) -> None:
    """Send one plain-text message to every recipient; raises NotifyError."""
    if not recipients:
        raise NotifyError(f"{SERVICE}: no recipients", code="NO_RECIPIENTS")
    # A header may not hold a line break (Django raises BadHeaderError), and a subject is one line anyway.
    subject = " ".join(subject.split())
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(
            f"{SERVICE}: every recipient was refused ({len(exc.recipients)})", code="SMTP_REFUSED"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        # 4xx is "try again later" in SMTP (greylisting, a full queue); 5xx is a definite no.
        transient = 400 <= exc.smtp_code < 500
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise NotifyError(
            f"{SERVICE}: the server answered {exc.smtp_code} {detail[:200]}",
            code=f"SMTP_{exc.smtp_code}",
            transient=transient,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(
            f"{SERVICE}: could not reach the mail server ({exc.__class__.__name__})",
            code="SMTP_CONNECTION",
            transient=True,
        ) from exc
