from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("release/", views.release, name="release"),
    path("work-orders/", views.work_order_list, name="work-orders"),
]
