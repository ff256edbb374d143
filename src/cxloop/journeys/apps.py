from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "cxloop.journeys"
    label = "journeys"
    verbose_name = "Customer journeys"
