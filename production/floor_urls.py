"""Routes of the operators' tablet page, included under /floor/."""

from django.urls import path

from production import floor_views

app_name = "floor"

urlpatterns = [
    path("", floor_views.page, name="page"),
    path("scan/", floor_views.scan, name="scan"),
    path("operations/<str:code>/", floor_views.card, name="card"),
    path("work-centers/<str:code>/", floor_views.work_center, name="work-center"),
    path("press/", floor_views.press, name="press"),
    path("downtime/", floor_views.downtime, name="downtime"),
]
