from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "cxloop.metrics"
    label = "metrics"
    verbose_name = "CX metrics"
