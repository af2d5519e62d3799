from django.apps import AppConfig


class HygieneConfig(AppConfig):
    name = "apps.hygiene"
    label = "hygiene"
