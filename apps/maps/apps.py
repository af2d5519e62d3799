from django.apps import AppConfig


class MapsConfig(AppConfig):
    name = "apps.maps"
    label = "maps"
