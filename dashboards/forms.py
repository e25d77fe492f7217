"""The query strings of the dashboard pages, parsed leniently: a malformed filter is ignored, not an error page."""

from django import forms
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.selectors import user_roles
from dashboards.gantt import GROUPS, ZOOMS, GanttFilters, Window, gantt_window


class GanttForm(forms.Form):
    """Rows by, zoom, anchor day or date range, workshop, team, product category, work-order status, page."""

    group = forms.ChoiceField(required=False, choices=[(g, g) for g in GROUPS])
    zoom = forms.ChoiceField(required=False, choices=[(z, z) for z in ZOOMS])
    date = forms.DateField(required=False)
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)
    workshop = forms.CharField(required=False, max_length=32)
    team = forms.CharField(required=False, max_length=12)
    category = forms.CharField(required=False, max_length=64)
    status = forms.CharField(required=False, max_length=16)
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, data, *, user: User):
        super().__init__(data)
        self.user = user
        self.is_valid()

    def value(self, name: str, default=None):
        value = getattr(self, "cleaned_data", {}).get(name)
        return default if value in (None, "") else value

    def anchor(self) -> date:
        return self.value("date", timezone.localdate())

    def team_id(self) -> int | None:
        """The team asked for; a team leader's own team when nothing was asked; "all" for every team."""
        raw = self.data.get("team")
        if raw is None:
            if self.user.team_id and Role.TEAM_LEADER in user_roles(self.user):
                return self.user.team_id
            return None
        return int(raw) if str(raw).isdigit() else None

    def filters(self) -> GanttFilters:
        return GanttFilters(
            workshop=self.value("workshop", ""),
            team=self.team_id(),
            category=self.value("category", ""),
            status=self.value("status", "open"),
            group=self.value("group", "work_order"),
        )

    def window(self) -> Window:
        return gantt_window(
            zoom=self.value("zoom", "week"), anchor=self.anchor(), start=self.value("start"), end=self.value("end")
        )

    def page_number(self) -> int:
        return self.value("page", 1)


class OrderProgressForm(forms.Form):
    """Search by order number, buyer or SKU; which orders; page."""

    q = forms.CharField(required=False, max_length=100, strip=True)
    status = forms.CharField(required=False, max_length=16)
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, data):
        super().__init__(data)
        self.is_valid()

    def value(self, name: str, default=None):
        value = getattr(self, "cleaned_data", {}).get(name)
        return default if value in (None, "") else value
