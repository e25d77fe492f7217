from django.urls import path

from production import views

app_name = "production"

urlpatterns = [
    path("items/", views.item_list, name="item-list"),
    path("items/<str:code>/", views.item_detail, name="item-detail"),
]
