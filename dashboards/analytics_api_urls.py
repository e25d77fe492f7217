"""Routes of the analytics API, included under /api/v1/."""

from django.urls import path

from dashboards import analytics_api as api

urlpatterns = [
    path("machine-load/", api.MachineLoadView.as_view(), name="api-machine-load"),
    path("oee/", api.OeeView.as_view(), name="api-oee"),
    path("downtime-pareto/", api.DowntimeParetoView.as_view(), name="api-downtime-pareto"),
    path("kpis/", api.KpisView.as_view(), name="api-kpis"),
]
