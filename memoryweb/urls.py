from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.core.login import LoginView

urlpatterns = [
    path("", include("apps.core.urls")),
    path("", include("apps.api.urls")),
    path("", include("apps.dashboard.urls")),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

# API clients get JSON errors; people get the HTML pages.
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
