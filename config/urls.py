from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from accounts import views as account_views
from integrations import webhooks

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("production.api_urls")),
    path("", include("integrations.api_urls")),
    path("", include("production.floor_api_urls")),
    path("", include("dashboards.api_urls")),
    path("", include("dashboards.analytics_api_urls")),
    path("", include("dashboards.alert_api_urls")),
]

urlpatterns = [
    path("", account_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("production/", include("production.urls")),
    path("floor/", include("production.floor_urls")),
    path("intake/", include("integrations.urls")),
    path("orders/", include("orders.urls")),
    path("print/", include("production.print_urls")),
    path("masterdata/", include("production.excel_urls")),
    path("dashboards/", include("dashboards.urls")),
    path("analytics/", include("dashboards.analytics_urls")),
    path("alerts/", include("dashboards.alert_urls")),
    path("webhooks/shopify/<str:account_code>/", webhooks.shopify_webhook, name="shopify-webhook"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("healthz", account_views.healthz, name="healthz"),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

admin.site.site_header = "Loopline"
admin.site.site_title = "Loopline"

# Under /api/ a route that matches nothing, a refusal outside DRF or a crash still answers in the API's error body.
handler400 = "accounts.api_errors.bad_request"
handler403 = "accounts.api_errors.permission_denied"
handler404 = "accounts.api_errors.not_found"
handler500 = "accounts.api_errors.server_error"
