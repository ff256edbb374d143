from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "cxloop.events"
    label = "events"
    verbose_name = "Events and interactions"

    def ready(self) -> None:
        from cxloop.customers.handlers import register_customer_handlers
        from cxloop.events import handlers

        register_customer_handlers(
            self.label,
            merge=handlers.events_customer_merge,
            unmerge=handlers.events_customer_unmerge,
            export=handlers.events_customer_export,
            erase=handlers.events_customer_erase,
        )
