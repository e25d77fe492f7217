"""Routes of the shop-floor API, included under /api/v1/.

/operations/ is the master-data catalogue of standard operations (production.api_urls), so one step of a work
order, found by its scan code, lives at /work-order-operations/{code}/.
"""

from rest_framework.routers import SimpleRouter

from production import floor_api

router = SimpleRouter()
router.register("work-orders", floor_api.WorkOrderViewSet, basename="api-work-order")
router.register("work-order-operations", floor_api.WorkOrderOperationViewSet, basename="api-work-order-operation")
router.register("report-events", floor_api.ReportEventViewSet, basename="api-report-event")
router.register("downtimes", floor_api.DowntimeViewSet, basename="api-downtime")

urlpatterns = router.urls
