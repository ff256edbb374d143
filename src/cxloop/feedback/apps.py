from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "cxloop.feedback"
    label = "feedback"
    verbose_name = "Surveys and feedback"

    def ready(self) -> None:
        from cxloop.customers.handlers import register_customer_handlers
        from cxloop.feedback import handlers

        register_customer_handlers(
            self.label,
            merge=handlers.feedback_customer_merge,
            unmerge=handlers.feedback_customer_unmerge,
            export=handlers.feedback_customer_export,
            erase=handlers.feedback_customer_erase,
        )
