from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "cxloop.workflows"
    label = "workflows"
    verbose_name = "Workflows and rules"

    def ready(self) -> None:
        from cxloop.customers.handlers import register_customer_handlers
        from cxloop.feedback.hooks import register_response_listener
        from cxloop.workflows import handlers, tasks

        register_customer_handlers(
            self.label,
            merge=handlers.workflows_customer_merge,
            unmerge=handlers.workflows_customer_unmerge,
            export=handlers.workflows_customer_export,
            erase=handlers.workflows_customer_erase,
        )
        # a completed survey response reaches the rules without feedback importing workflows
        register_response_listener(self.label, tasks.response_received)
