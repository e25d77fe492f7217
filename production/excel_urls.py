"""Master data in and out of Excel; mounted by config/urls.py under masterdata/."""

from django.urls import path

from production import excel_views

app_name = "masterdata"

urlpatterns = [
    path("", excel_views.index, name="index"),
    path("<str:kind>/import/", excel_views.upload, name="import"),
    path("<str:kind>/template.xlsx", excel_views.template, name="template"),
    path("<str:kind>/export.xlsx", excel_views.export, name="export"),
]
