from django.apps import AppConfig


class TextConfig(AppConfig):
    name = "cxloop.text"
    label = "text"
    verbose_name = "Text analytics"

    def ready(self) -> None:
        from cxloop.customers.handlers import register_customer_handlers
        from cxloop.feedback.hooks import register_response_listener
        from cxloop.text import handlers, tasks

        register_customer_handlers(
            self.label,
            merge=handlers.text_customer_merge,
            unmerge=handlers.text_customer_unmerge,
            export=handlers.text_customer_export,
            erase=handlers.text_customer_erase,
        )
        # a completed response's comment is analysed in the background, feedback never imports us
        register_response_listener(self.label, tasks.response_received)
