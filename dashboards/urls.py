"""Dashboard pages, under /dashboards/."""

from django.urls import path

from dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("gantt/", views.gantt, name="gantt"),
    path("gantt/export/", views.gantt_export, name="gantt-export"),
    path("work-orders/<str:number>/", views.work_order, name="work-order"),
    path("order-progress/", views.order_progress, name="order-progress"),
    path("order-progress/export/", views.order_progress_export, name="order-progress-export"),
]
