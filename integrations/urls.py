from django.urls import path

from integrations import erp_views, reconciliation_views, views

app_name = "integrations"

urlpatterns = [
    path("", views.review_queue, name="review-queue"),
    path("bulk/", views.review_bulk, name="review-bulk"),
    path("items/search/", views.item_search, name="item-search"),
    path("orders/export.xlsx", views.orders_export, name="orders-export"),
    path("orders/<str:number>/", views.order_review, name="order-review"),
    path("orders/<str:number>/map-sku/", views.order_map_sku, name="order-map-sku"),
    path("orders/<str:number>/receiver/", views.order_receiver, name="order-receiver"),
    path("orders/<str:number>/acknowledge/", views.order_acknowledge, name="order-acknowledge"),
    path("orders/<str:number>/resolve-change/", views.order_resolve_change, name="order-resolve-change"),
    path("orders/<str:number>/approve/", views.order_approve, name="order-approve"),
    path("orders/<str:number>/force-approve/", views.order_force_approve, name="order-force-approve"),
    path("orders/<str:number>/reject/", views.order_reject, name="order-reject"),
    path("sync/", views.sync_health, name="sync-health"),
    path("sync/export.xlsx", views.sync_export, name="sync-export"),
    path("sync/accounts/<int:pk>/test/", views.account_test, name="account-test"),
    path("sync/accounts/<int:pk>/poll/", views.account_poll, name="account-poll"),
    path("sync/erp/<int:pk>/pull/", views.erp_pull, name="erp-pull"),
    path("reconciliation/", reconciliation_views.reconciliation_page, name="reconciliation"),
    path("reconciliation/item-day/", reconciliation_views.reconciliation_item_day, name="reconciliation-item-day"),
    path("reconciliation/export.xlsx", reconciliation_views.reconciliation_export, name="reconciliation-export"),
    path("reconciliation/upload/", reconciliation_views.reconciliation_upload, name="reconciliation-upload"),
    path("erp/outbox/", erp_views.erp_outbox, name="erp-outbox"),
    path("erp/outbox/<int:pk>/retry/", erp_views.erp_outbox_retry, name="erp-outbox-retry"),
    path("shipments/today/", reconciliation_views.today_shipments, name="today-shipments"),
]
