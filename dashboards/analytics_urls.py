"""Routes of the analytics pages, under /analytics/."""

from django.urls import path

from dashboards import analytics_views as views

app_name = "analytics"

urlpatterns = [
    path("load/", views.load, name="load"),
    path("load/export/<str:table>.xlsx", views.load_export, name="load-export"),
    path("kpis/", views.kpis, name="kpis"),
    path("kpis/export.xlsx", views.kpis_export, name="kpis-export"),
    path("capacity/", views.capacity, name="capacity"),
    path("capacity/<str:job_id>/status/", views.capacity_status, name="capacity-status"),
    path("capacity/<str:job_id>/download/", views.capacity_download, name="capacity-download"),
]
