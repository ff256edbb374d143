from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "cxloop.journeys"
    label = "journeys"
    verbose_name = "Customer journeys"

    def ready(self) -> None:
        from cxloop.customers.handlers import register_customer_handlers
        from cxloop.journeys import handlers

        register_customer_handlers(
            self.label,
            merge=handlers.stages_customer_merge,
            unmerge=handlers.stages_customer_unmerge,
            export=handlers.stages_customer_export,
            erase=handlers.stages_customer_erase,
        )
