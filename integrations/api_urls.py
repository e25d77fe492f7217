"""Routes of the order-intake API, included under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from integrations import api, reconciliation_api

router = SimpleRouter()
router.register("sales-orders", api.SalesOrderViewSet, basename="api-sales-order")
router.register("order-issues", api.OrderIssueViewSet, basename="api-order-issue")
router.register("channel-accounts", api.ChannelAccountViewSet, basename="api-channel-account")
router.register("sync-runs", api.SyncRunViewSet, basename="api-sync-run")
router.register("sku-mappings", api.SkuMappingViewSet, basename="api-sku-mapping")
router.register("erp-pushes", api.ErpPushViewSet, basename="api-erp-push")
router.register("erp-pulls", api.ErpPullViewSet, basename="api-erp-pull")
router.register("wms-shipments", reconciliation_api.WmsShipmentViewSet, basename="api-wms-shipment")
router.register("reconciliation", reconciliation_api.ReconciliationViewSet, basename="api-reconciliation")

urlpatterns = [
    *router.urls,
    path("shipments/today/", reconciliation_api.TodayShipmentsView.as_view(), name="api-today-shipments-list"),
]
