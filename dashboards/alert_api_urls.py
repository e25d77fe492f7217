"""Routes of the alerts API, included under /api/v1/."""

from rest_framework.routers import SimpleRouter

from dashboards import alert_api

router = SimpleRouter()
router.register("alerts", alert_api.AlertViewSet, basename="api-alert")
router.register("alert-rules", alert_api.AlertRuleViewSet, basename="api-alert-rule")

urlpatterns = router.urls
