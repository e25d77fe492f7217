from django.urls import path

from production import views

app_name = "production"

urlpatterns = [
    path("items/", views.item_list, name="item-list"),
    path("items/<str:code>/", views.item_detail, name="item-detail"),
    path("stock/", views.stock_list, name="stock-list"),
    path("stock/<int:pk>/count/", views.stock_count_view, name="stock-count"),
    path("reports/", views.report_list, name="report-list"),
    path("reports/<int:pk>/correct/", views.report_correct, name="report-correct"),
]
