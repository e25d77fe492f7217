"""Printable pages (travellers, work-centre labels, badges), included under /print/."""

from django.urls import path

from production import print_views

app_name = "print"

urlpatterns = [
    path("work-orders/<str:number>/traveller/", print_views.traveller, name="traveller"),
    path("travellers/", print_views.travellers, name="travellers"),
    path("work-centres/labels/", print_views.work_center_labels, name="work-center-labels"),
    path("badges/", print_views.badges, name="badges"),
]
