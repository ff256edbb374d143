from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "cxloop.feedback"
    label = "feedback"
    verbose_name = "Surveys and feedback"
