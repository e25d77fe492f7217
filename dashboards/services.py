"""Writes for alerts: evaluating the rules into alerts, notifying once per level, acknowledging and resolving,
and the production manager's changes to the rules.

Lifecycle: open → acknowledged → resolved. A person acknowledges (someone is on it) and may resolve by hand; an
alert also resolves itself when its rule finds the condition cleared (resolved_by stays empty, note "cleared").
Resolving by hand while the condition still holds lets the next evaluation open a new alert, and notify again.
"""

import logging
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.errors import ApplicationError
from accounts.models import User
from accounts.roles import Role
from accounts.services import audit_record, model_changes
from dashboards.alert_rules import Evaluation, Finding, evaluate
from dashboards.alert_selectors import alerts_actionable_by
from dashboards.models import RULE_DEFAULTS, Alert, AlertKind, AlertRule, ChannelKind

logger = logging.getLogger(__name__)

EVALUATE_LOCK = "dashboards:alerts-evaluate"
EVALUATE_LOCK_SECONDS = 240
# Alerts about the integrations go to IT; everything on the floor and in orders to production.
IT_KINDS = {AlertKind.SYNC_FAILING, AlertKind.ERP_PUSH_DEAD}
RULE_FIELDS = ["enabled", "threshold", "check_hour", "escalate_after_days", "channels"]


class AlertError(ApplicationError):
    """An alert or rule change that cannot be made."""


class AlertStateError(AlertError):
    code = "alert_state"
    status = 409
    default_message = gettext_lazy("The alert is not in a state that allows this.")


# --- Rules ---------------------------------------------------------------------------------------------------


def alert_rules_ensure() -> dict[str, AlertRule]:
    """Every kind's rule, creating a missing one with its defaults (a data migration normally has)."""
    rules = {rule.kind: rule for rule in AlertRule.objects.all()}
    for kind in AlertKind.values:
        if kind not in rules:
            rules[kind], _created = AlertRule.objects.get_or_create(kind=kind, defaults=dict(RULE_DEFAULTS[kind]))
    return rules


def _validate_rule(rule: AlertRule, values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if "enabled" in values:
        clean["enabled"] = bool(values["enabled"])
    if "threshold" in values:
        try:
            threshold = Decimal(str(values["threshold"]).strip())
        except (InvalidOperation, ValueError):
            threshold = None
        if threshold is None or not threshold.is_finite() or threshold <= 0:
            errors["threshold"] = _("Enter a number greater than 0.")
        elif rule.kind == AlertKind.LOW_DAILY_COMPLETION and threshold > 100:
            errors["threshold"] = _("A completion threshold is a percentage from 1 to 100.")
        elif rule.kind in (AlertKind.SYNC_FAILING, AlertKind.ERP_PUSH_DEAD) and threshold != threshold.to_integral():
            errors["threshold"] = _("Enter a whole number.")
        elif threshold >= Decimal("1000"):
            errors["threshold"] = _("Enter a number below 1000.")
        else:
            clean["threshold"] = threshold
    if rule.kind == AlertKind.LOW_DAILY_COMPLETION:
        for name, low, high in (("check_hour", 0, 23), ("escalate_after_days", 1, 30)):
            if name not in values:
                continue
            try:
                number = int(values[name])
            except (TypeError, ValueError):
                number = None
            if number is None or not low <= number <= high:
                errors[name] = _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
            else:
                clean[name] = number
    if "channels" in values:
        channels = list(dict.fromkeys(values["channels"] or []))
        unknown = [c for c in channels if c not in ChannelKind.values]
        if unknown:
            errors["channels"] = _("Unknown channel: %(names)s.") % {"names": ", ".join(map(str, unknown))}
        else:
            clean["channels"] = channels
    if errors:
        fields = {name: [message] for name, message in errors.items()}
        raise AlertError(_("The rule was not changed: check the fields."), code="invalid", extra={"fields": fields})
    return clean


@transaction.atomic
def alert_rule_update(*, rule: AlertRule, by: User | None, **values: Any) -> AlertRule:
    """Change a rule's thresholds, hour, escalation, channels or switch it on or off; audited."""
    clean = _validate_rule(rule, values)
    rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
    before = model_changes(rule, RULE_FIELDS)
    for name, value in clean.items():
        setattr(rule, name, value)
    rule.updated_by = by
    rule.save()
    after = model_changes(rule, RULE_FIELDS)
    audit_record(
        actor=by,
        verb="alert_rule.update",
        obj=rule,
        changes={name: [before[name], after[name]] for name in RULE_FIELDS if before[name] != after[name]},
    )
    return rule


# --- Evaluation ----------------------------------------------------------------------------------------------


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, dict[str, int]] | None:
    """Run every enabled rule and bring the alerts in line; None if another evaluation is running."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    # Two evaluations at once would race to open the same alert; the unique constraint would catch it, but the
    # loser's whole rule would roll back. One at a time is simpler: an overlapping beat run just skips.
    if not cache.add(EVALUATE_LOCK, token, timeout=EVALUATE_LOCK_SECONDS):
        return None
    try:
        summary = {}
        for kind, rule in sorted(alert_rules_ensure().items()):
            if rule.enabled:
                summary[kind] = alerts_apply(rule=rule, evaluation=evaluate(rule, now), now=now)
        return summary
    finally:
        if cache.get(EVALUATE_LOCK) == token:
            cache.delete(EVALUATE_LOCK)


@transaction.atomic
def alerts_apply(*, rule: AlertRule, evaluation: Evaluation, now: datetime) -> dict[str, int]:
    """Open, update, escalate and resolve the rule's alerts from one evaluation; notify what is new."""
    counts = {"opened": 0, "updated": 0, "escalated": 0, "resolved": 0}
    unresolved = {
        alert.dedupe_key: alert
        for alert in Alert.objects.select_for_update(of=("self",))
        .filter(kind=rule.kind)
        .exclude(state=Alert.State.RESOLVED)
        .select_related("team__leader")
    }
    seen: set[str] = set()
    to_create: list[Alert] = []
    to_update: list[Alert] = []
    for finding in evaluation.findings:
        seen.add(finding.dedupe_key)
        alert = unresolved.get(finding.dedupe_key)
        if alert is None:
            alert = _new_alert(rule, finding, now)
            to_create.append(alert)
            counts["opened"] += 1
        else:
            _refresh(alert, finding, now)
            to_update.append(alert)
            counts["updated"] += 1
        _count_breach(alert, finding)
        if rule.escalate_after_days and alert.breach_days >= rule.escalate_after_days and alert.escalation_level < 1:
            alert.escalation_level = 1
            alert.level = Alert.Level.CRITICAL
            counts["escalated"] += 1
    Alert.objects.bulk_create(to_create)
    Alert.objects.bulk_update(
        to_update,
        ["message", "data", "last_seen_at", "subject_label", "team", "workshop", "breach_days", "last_breach_date",
         "escalation_level", "level"],
    )  # fmt: skip

    cleared = evaluation.cleared_keys
    if cleared is None:
        cleared = set(unresolved) - seen
    cleared_ids = [unresolved[key].pk for key in cleared - seen if key in unresolved]
    if cleared_ids:
        counts["resolved"] = (
            Alert.objects.filter(pk__in=cleared_ids)
            .exclude(state=Alert.State.RESOLVED)
            .update(state=Alert.State.RESOLVED, resolved_at=now, resolved_by=None, note="cleared")
        )

    # Only alerts whose level has not been sent yet: a re-evaluation of an open alert notifies nobody.
    for alert in [*to_create, *to_update]:
        if alert.notified_level < alert.escalation_level:
            _notify(alert, rule)
    return counts


def _new_alert(rule: AlertRule, finding: Finding, now: datetime) -> Alert:
    return Alert(
        kind=rule.kind,
        subject_type=finding.subject_type,
        subject_id=finding.subject_id,
        subject_label=finding.subject_label[:200],
        dedupe_key=finding.dedupe_key,
        message=finding.message,
        data=finding.data,
        team_id=finding.team_id,
        workshop_id=finding.workshop_id,
        first_seen_at=now,
        last_seen_at=now,
    )


def _refresh(alert: Alert, finding: Finding, now: datetime) -> None:
    alert.message = finding.message
    alert.data = finding.data
    alert.subject_label = finding.subject_label[:200]
    alert.team_id = finding.team_id
    alert.workshop_id = finding.workshop_id
    alert.last_seen_at = now


def _count_breach(alert: Alert, finding: Finding) -> None:
    """One more day below for a day not yet counted; judging the same day again counts nothing."""
    if finding.breach_date is None:
        return
    if alert.last_breach_date is None or alert.last_breach_date < finding.breach_date:
        alert.breach_days += 1
        alert.last_breach_date = finding.breach_date


def _production_manager_mobiles() -> list[str]:
    return list(
        User.objects.filter(groups__name=Role.PRODUCTION_MANAGER.value, is_active=True)
        .exclude(phone="")
        .order_by("pk")
        .values_list("phone", flat=True)
    )


def _notify(alert: Alert, rule: AlertRule) -> None:
    """Send the alert at its current level; marks the level sent in the same transaction, so it is sent once.

    Floor alerts go to the team's own channels when IT bound some to the team (the leader's SMS, the team's group),
    else to the production channels no team owns, the team leader @-mentioned; on escalation (or without a team)
    the production channels no team owns carry it to the production manager. Sync and ERP alerts go to IT.
    """
    from integrations.models import NotifyChannel
    from integrations.notify.services import notify, notify_channels

    kinds = list(rule.channels)
    with translation.override(settings.LANGUAGE_CODE):
        prefix = _("[Escalated]") if alert.escalation_level >= 1 else _("[Alert]")
        subject = f"{prefix} {alert.get_kind_display()} · {alert.subject_label}"
        body = alert.message
    if alert.kind in IT_KINDS:
        sent = notify(audience=NotifyChannel.Audience.IT, subject=subject, body=body, kinds=kinds)
    else:
        leader = alert.team.leader if alert.team_id and alert.team and alert.team.leader_id else None
        leader_mobiles = [leader.phone] if leader is not None and leader.phone else []
        shared = NotifyChannel.objects.filter(
            audience=NotifyChannel.Audience.PRODUCTION, kind__in=kinds, team_bindings__isnull=True
        )
        own = NotifyChannel.objects.filter(team_bindings__team_id=alert.team_id, kind__in=kinds)
        sent = []
        if alert.team_id and own.exists():
            sent += notify_channels(channels=own, subject=subject, body=body, mention_mobiles=leader_mobiles)
            to_shared = alert.escalation_level >= 1
            mobiles = _production_manager_mobiles()
        else:
            to_shared = True
            mobiles = list(leader_mobiles)
            if alert.escalation_level >= 1 or leader is None:
                mobiles += [mobile for mobile in _production_manager_mobiles() if mobile not in mobiles]
        if to_shared:
            sent += notify_channels(channels=shared, subject=subject, body=body, mention_mobiles=mobiles)
    Alert.objects.filter(pk=alert.pk).update(
        notified_level=alert.escalation_level, notifications_sent=alert.notifications_sent + len(sent)
    )
    alert.notified_level = alert.escalation_level
    alert.notifications_sent += len(sent)


# --- People acting on alerts --------------------------------------------------------------------------------


class AlertNotFound(AlertError):
    code = "not_found"
    status = 404
    default_message = gettext_lazy("No such alert.")


@transaction.atomic
def alert_acknowledge(*, alert_id: int, by: User, note: str = "") -> Alert:
    """Someone is on it: open → acknowledged, with who and when; audited."""
    alert = _get_for_action(alert_id, by)
    if alert.state != Alert.State.OPEN:
        raise AlertStateError(
            _("Only an open alert can be acknowledged; this one is %(state)s.") % {"state": alert.get_state_display()}
        )
    alert.state = Alert.State.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = by
    if note:
        alert.note = note[:500]
    alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "note"])
    audit_record(actor=by, verb="alert.acknowledge", obj=alert, changes={"note": note[:500]})
    return alert


@transaction.atomic
def alert_resolve(*, alert_id: int, by: User, note: str = "") -> Alert:
    """Done: open or acknowledged → resolved, with who and when; audited."""
    alert = _get_for_action(alert_id, by)
    if alert.state == Alert.State.RESOLVED:
        raise AlertStateError(_("The alert is already resolved."))
    alert.state = Alert.State.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = by
    if note:
        alert.note = note[:500]
    alert.save(update_fields=["state", "resolved_at", "resolved_by", "note"])
    audit_record(actor=by, verb="alert.resolve", obj=alert, changes={"note": note[:500]})
    return alert


def _get_for_action(alert_id: int, by: User) -> Alert:
    alert = alerts_actionable_by(by).select_for_update(of=("self",)).filter(pk=alert_id).first()
    if alert is None:
        raise AlertNotFound()
    return alert
