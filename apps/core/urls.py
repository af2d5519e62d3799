from django.urls import path

from apps.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("api/v1/health", views.health, name="health"),
]
