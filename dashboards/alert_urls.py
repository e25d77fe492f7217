"""Alert pages under /alerts/."""

from django.urls import path

from dashboards import alert_views

app_name = "alerts"

urlpatterns = [
    path("", alert_views.inbox, name="inbox"),
    path("<int:pk>/acknowledge/", alert_views.acknowledge, name="acknowledge"),
    path("<int:pk>/resolve/", alert_views.resolve, name="resolve"),
    path("rules/", alert_views.rules, name="rules"),
    path("rules/<str:kind>/", alert_views.rule_save, name="rule-save"),
]
