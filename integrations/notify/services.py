"""Writes for notifications: the outbox (enqueue, deliver within each robot's rate limit, retry) and channel set-up.

Delivery is at least once: a notification is marked sent in the transaction that sent it, so a crash between the
HTTP call and the commit sends it again on the next run — never zero times.
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record, model_changes
from integrations.models import Notification, NotifyChannel
from integrations.notify import aliyun_sms, dingtalk, email, wecom
from integrations.notify.errors import NotifyError, redact

logger = logging.getLogger(__name__)

DELIVER_TASK = "integrations.tasks.deliver_notifications"
MAX_ATTEMPTS = 8
RATE_WINDOW = timedelta(seconds=60)
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
CHANNEL_FIELDS = [
    "name",
    "kind",
    "audience",
    "url",
    "recipients",
    "sms_sign_name",
    "sms_template_code",
    "per_minute_limit",
    "enabled",
]


def _enqueue_delivery() -> None:
    # By name: the task lives in integrations.tasks, and the beat runs it every minute anyway.
    from config.celery import app

    app.send_task(DELIVER_TASK)


@transaction.atomic
def notify(
    *,
    audience: str,
    subject: str,
    body: str,
    mention_mobiles: list[str] = [],  # noqa: B006
    kinds: list[str] | None = None,
) -> list[Notification]:
    """Queue one notification per enabled channel of `audience` (only of `kinds` if given); sent after commit."""
    if audience not in NotifyChannel.Audience.values:
        raise ValueError(f"unknown audience {audience!r}")
    channels = NotifyChannel.objects.filter(audience=audience, enabled=True)
    if kinds is not None:
        channels = channels.filter(kind__in=kinds)
    return notify_channels(channels=channels, subject=subject, body=body, mention_mobiles=mention_mobiles)


@transaction.atomic
def notify_channels(
    *,
    channels: QuerySet[NotifyChannel],
    subject: str,
    body: str,
    mention_mobiles: list[str] = [],  # noqa: B006
) -> list[Notification]:
    """Queue one notification per enabled channel of `channels` (chosen by the caller); sent after commit."""
    now = timezone.now()
    notifications = Notification.objects.bulk_create(
        Notification(
            channel=channel,
            subject=subject[:200],
            body=body,
            mention=list(mention_mobiles),
            next_attempt_at=now,
        )
        for channel in channels.filter(enabled=True).order_by("pk")
    )
    if notifications:
        # robust: a broker hiccup must not fail the caller's write; the every-minute beat delivers them anyway.
        transaction.on_commit(_enqueue_delivery, robust=True)
    return notifications


def deliver_due_notifications(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Send due notifications within each channel's per-minute limit; returns counts of sent, deferred, failed."""
    now = now or timezone.now()
    started = time.monotonic()

    def clock() -> datetime:
        # `now` moved on by the real time this run has taken: a long run must not stamp late sends as early ones,
        # or the next run would count too few sends in the robot's last minute.
        return now + timedelta(seconds=time.monotonic() - started)

    counts = {"sent": 0, "deferred": 0, "failed": 0}
    due_ids = list(
        Notification.objects.filter(_due(now)).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]
    )
    # Channels not to call again in this run (throttled, down, or their minute is full), and until when.
    paused: dict[int, datetime] = {}
    with requests.Session() as session:
        for notification_id in due_ids:
            outcome = _deliver_one(notification_id, due_at=now, clock=clock, paused=paused, session=session)
            if outcome:
                counts[outcome] += 1
    return counts


def _due(now: datetime) -> Q:
    return Q(status=Notification.Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def _deliver_one(
    notification_id: int,
    *,
    due_at: datetime,
    clock: Callable[[], datetime],
    paused: dict[int, datetime],
    session: requests.Session,
) -> str | None:
    """Send one notification under its row lock; returns "sent", "deferred", "failed" or None if not ours.

    The locks are held during the HTTP call (at most the protocol's 10 s timeout): that is what keeps a second
    worker from sending the same row, or from squeezing a 21st message into the robot's minute.
    """
    with transaction.atomic():
        # skip_locked: a notification another worker is sending right now is its business, not ours.
        notification = (
            Notification.objects.select_for_update(skip_locked=True).filter(_due(due_at), pk=notification_id).first()
        )
        if notification is None:
            return None
        # The channel row lock serialises senders of one channel, so the count below cannot go stale mid-send.
        channel = NotifyChannel.objects.select_for_update().get(pk=notification.channel_id)
        now = clock()
        if not channel.enabled:
            _fail(notification, now=now, error="the channel was disabled before the message could be sent")
            return "failed"
        if channel.pk in paused:
            _defer(notification, until=paused[channel.pk])
            return "deferred"
        free_at = _next_free_slot(channel, now=now)
        if free_at is not None:
            paused[channel.pk] = free_at
            _defer(notification, until=free_at)
            return "deferred"
        secrets: dict[str, str] = {}
        try:
            secrets = channel.get_secrets()
            _send(channel, notification, secrets=secrets, session=session)
        except NotifyError as exc:
            error, transient, retry_after = exc.message, exc.transient, exc.retry_after
        except SoftTimeLimitExceeded:
            # The task is out of time: stop here (this row rolls back and stays due) rather than carry on.
            raise
        except Exception as exc:
            # A bug or a configuration problem (an undecryptable secret): retried with backoff, then failed.
            logger.exception("notification %s: unexpected error", notification.pk)
            error, transient, retry_after = f"{exc.__class__.__name__}: {exc}", True, None
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = clock()
            notification.attempts += 1
            notification.next_attempt_at = None
            notification.last_error = ""
            notification.save(update_fields=["status", "sent_at", "attempts", "next_attempt_at", "last_error"])
            return "sent"
        error = redact(f"{channel.get_kind_display()}: {error}", _secret_values(channel, secrets))
        notification.attempts += 1
        if not transient or notification.attempts >= MAX_ATTEMPTS:
            _fail(notification, now=now, error=error)
            return "failed"
        delay = max(retry_after or 0, _backoff_seconds(notification.attempts))
        until = now + timedelta(seconds=delay)
        paused[channel.pk] = until
        notification.next_attempt_at = until
        notification.last_error = error
        notification.save(update_fields=["attempts", "next_attempt_at", "last_error"])
        return "deferred"


def _next_free_slot(channel: NotifyChannel, *, now: datetime) -> datetime | None:
    """None if the channel may send now; otherwise when its oldest send of the last minute leaves the window."""
    limit = channel.per_minute_limit
    if not limit:  # 0 means no limit of our own
        return None
    sent_times = list(
        # No upper bound: another worker's clock may run a little ahead, and its sends count all the same.
        Notification.objects.filter(channel=channel, status=Notification.Status.SENT, sent_at__gt=now - RATE_WINDOW)
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
    )
    if len(sent_times) < limit:
        return None
    return sent_times[len(sent_times) - limit] + RATE_WINDOW


def _backoff_seconds(attempts: int) -> float:
    # 30 s, 1, 2, 4, 8, 16, 32 min: eight attempts span about an hour, longer than a robot's 10-minute penalty.
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))


def _defer(notification: Notification, *, until: datetime) -> None:
    notification.next_attempt_at = until
    notification.save(update_fields=["next_attempt_at"])


def _fail(notification: Notification, *, now: datetime, error: str) -> None:
    notification.status = Notification.Status.FAILED
    notification.next_attempt_at = None
    notification.last_error = error
    notification.save(update_fields=["status", "attempts", "next_attempt_at", "last_error"])
    logger.warning("notification %s failed at %s: %s", notification.pk, now.isoformat(), error)


def _send(
    channel: NotifyChannel, notification: Notification, *, secrets: dict[str, str], session: requests.Session
) -> None:
    kind = channel.kind
    mention = [str(mobile) for mobile in notification.mention or []]
    if kind == NotifyChannel.Kind.DINGTALK:
        dingtalk.send(
            url=channel.url,
            secret=secrets.get("secret") or None,
            title=notification.subject,
            text=notification.body,
            at_mobiles=mention,
            session=session,
        )
    elif kind == NotifyChannel.Kind.WECOM:
        wecom.send(
            url=channel.url,
            title=notification.subject,
            text=notification.body,
            mentioned_mobiles=mention,
            session=session,
        )
    elif kind == NotifyChannel.Kind.SMS:
        missing = [name for name in ("access_key_id", "access_key_secret") if not secrets.get(name)]
        if missing:
            raise NotifyError(f"the channel has no {' or '.join(missing)}", code="NOT_CONFIGURED")
        aliyun_sms.send(
            endpoint=channel.url or aliyun_sms.DEFAULT_ENDPOINT,
            access_key_id=secrets["access_key_id"],
            access_key_secret=secrets["access_key_secret"],
            phone_numbers=channel.recipient_list,
            sign_name=channel.sms_sign_name,
            template_code=channel.sms_template_code,
            template_param={"subject": notification.subject, "detail": notification.body},
            session=session,
        )
    elif kind == NotifyChannel.Kind.EMAIL:
        email.send(recipients=channel.recipient_list, subject=notification.subject, body=notification.body)
    else:
        raise NotifyError(f"unknown channel kind {kind!r}", code="NOT_CONFIGURED")


def _secret_values(channel: NotifyChannel, secrets: dict[str, str]) -> list[str]:
    """Every value an error must not show: stored secrets and the credentials inside the webhook URL."""
    return [str(value) for value in secrets.values()] + [value for _, value in parse_qsl(urlsplit(channel.url).query)]


def redacted_url(url: str) -> str:
    """The URL with every query value hidden (a robot's access_token or key is its credential)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = urlencode([(name, "***") for name, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit(parts._replace(query=query))


@transaction.atomic
def notify_channel_save(*, channel: NotifyChannel, secrets: dict[str, str] | None, by: User | None) -> NotifyChannel:
    """Create or update a notification channel; `secrets` None keeps the stored ones, a dict replaces them."""
    creating = channel._state.adding
    if secrets is not None:
        channel.set_secrets({name: value for name, value in secrets.items() if value})
    _validate_channel(channel)
    channel.save()
    changes = model_changes(channel, CHANNEL_FIELDS)
    changes["url"] = redacted_url(channel.url)
    if secrets is not None:
        # Which secrets were set, never their values.
        changes["secrets_set"] = sorted(name for name, value in secrets.items() if value)
    audit_record(
        actor=by, verb="notify_channel.create" if creating else "notify_channel.update", obj=channel, changes=changes
    )
    return channel


def _validate_channel(channel: NotifyChannel) -> None:
    # Plain strings for now: marking them translatable needs zh-hans entries in the catalogue first.
    channel.full_clean()
    errors: dict[str, str] = {}
    kind = channel.kind
    if kind in (NotifyChannel.Kind.DINGTALK, NotifyChannel.Kind.WECOM) and not channel.url:
        errors["url"] = "A group robot needs its webhook URL."
    if kind in (NotifyChannel.Kind.SMS, NotifyChannel.Kind.EMAIL) and not channel.recipient_list:
        errors["recipients"] = "List at least one recipient."
    if kind == NotifyChannel.Kind.SMS:
        if not channel.sms_sign_name:
            errors["sms_sign_name"] = "An SMS needs an approved signature."
        if not channel.sms_template_code:
            errors["sms_template_code"] = "An SMS needs an approved template."
        stored = channel.get_secrets()
        if not (stored.get("access_key_id") and stored.get("access_key_secret")):
            errors[NON_FIELD_ERRORS] = "An SMS channel needs access_key_id and access_key_secret."
    if errors:
        raise ValidationError(errors)
