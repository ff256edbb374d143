from django.apps import AppConfig


class PredictConfig(AppConfig):
    name = "cxloop.predict"
    label = "predict"
    verbose_name = "Predictive CX"

    def ready(self) -> None:
        from cxloop.customers.handlers import register_customer_handlers
        from cxloop.predict import handlers

        register_customer_handlers(
            self.label,
            merge=handlers.scores_customer_merge,
            unmerge=handlers.scores_customer_unmerge,
            export=handlers.scores_customer_export,
            erase=handlers.scores_customer_erase,
        )
