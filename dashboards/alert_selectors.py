"""Reads of alerts shared by the inbox page, the API and the services: who may see which alert."""

from django.db.models import Q, QuerySet

from accounts.models import User
from dashboards.models import Alert, AlertRule


def alerts_for_user(user: User) -> QuerySet[Alert]:
    """The alerts `user` may see: all with the view permission, a team leader's own team's otherwise."""
    alerts = Alert.objects.all()
    if not user.is_authenticated or not user.is_active:
        return alerts.none()
    if user.has_perm("dashboards.view_alert"):
        return alerts
    if user.has_perm("dashboards.view_team_alerts"):
        mine = Q(team__leader=user)
        if user.team_id:
            mine |= Q(team_id=user.team_id)
        return alerts.filter(mine)
    return alerts.none()


def alerts_actionable_by(user: User) -> QuerySet[Alert]:
    """The alerts `user` may acknowledge or resolve: those they see, if they hold the acknowledge permission."""
    if not user.is_authenticated or not user.has_perm("dashboards.acknowledge_alert"):
        return Alert.objects.none()
    return alerts_for_user(user)


def alert_inbox(
    *, user: User, state: str = "", kind: str = "", team_id: int | None = None, unresolved: bool = False
) -> QuerySet[Alert]:
    """The inbox: visible alerts, filtered, newest first, with what the rows show fetched up front."""
    alerts = alerts_for_user(user).select_related("team", "workshop", "acknowledged_by", "resolved_by")
    if state:
        alerts = alerts.filter(state=state)
    elif unresolved:
        alerts = alerts.exclude(state=Alert.State.RESOLVED)
    if kind:
        alerts = alerts.filter(kind=kind)
    if team_id:
        alerts = alerts.filter(team_id=team_id)
    return alerts.order_by("-last_seen_at", "-id")


def alert_rules() -> list[AlertRule]:
    """Every rule, in a fixed order."""
    return list(AlertRule.objects.select_related("updated_by").order_by("kind"))
