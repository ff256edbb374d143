from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "cxloop.analytics"
    label = "analytics"
    verbose_name = "Analytics engine"
