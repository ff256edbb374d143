from django.apps import AppConfig


class PredictConfig(AppConfig):
    name = "cxloop.predict"
    label = "predict"
    verbose_name = "Predictive CX"
