"""Routes of the accounts API, included under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import api

router = SimpleRouter()
router.register("teams", api.TeamViewSet, basename="api-team")

urlpatterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    *router.urls,
]
