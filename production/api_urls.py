"""Routes of the production API, included under /api/v1/."""

from rest_framework.routers import SimpleRouter

from production import api

router = SimpleRouter()
router.register("items", api.ItemViewSet, basename="api-item")
router.register("bom-lines", api.BomLineViewSet, basename="api-bom-line")
router.register("warehouses", api.WarehouseViewSet, basename="api-warehouse")
router.register("stock-levels", api.StockLevelViewSet, basename="api-stock-level")
router.register("workshops", api.WorkshopViewSet, basename="api-workshop")
router.register("work-centers", api.WorkCenterViewSet, basename="api-work-center")
router.register("operations", api.OperationViewSet, basename="api-operation")
router.register("routing-steps", api.RoutingStepViewSet, basename="api-routing-step")

urlpatterns = router.urls
