"""Routes of the dashboards' read API, included under /api/v1/."""

from django.urls import path

from dashboards import api

urlpatterns = [
    path("dashboards/gantt/", api.GanttView.as_view(), name="api-gantt"),
    path("dashboards/order-progress/", api.OrderProgressView.as_view(), name="api-order-progress"),
]
