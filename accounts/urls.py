from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tablet/", views.tablet_login, name="tablet-login"),
    path("tablet/switch/", views.switch_operator, name="switch-operator"),
    path("language/", views.switch_language, name="language"),
    path("audit/", views.audit_trail, name="audit"),
    path("audit/export.xlsx", views.audit_export, name="audit-export"),
]
