from django.urls import path

app_name = "integrations"

urlpatterns: list = [
    path("", lambda request: None, name="review-queue"),  # replaced by the review queue view
]
