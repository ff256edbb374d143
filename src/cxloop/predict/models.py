"""Fitted predictive models and the per-customer scores they produced (kept for trend)."""

from django.db import models

from cxloop.core.models import Workspace
from cxloop.customers.models import Customer


class PredictionSettings(models.Model):
    """What a workspace counts as a purchase and as churn (one row per workspace)."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="prediction_settings"
    )
    purchase_event = models.CharField(max_length=200, default="Order Completed")
    churn_days = models.PositiveIntegerField(
        default=90, help_text="A customer has churned after this many days without a purchase."
    )
    cancel_event = models.CharField(
        max_length=200,
        blank=True,
        help_text="An event that means the customer left (a cancellation); blank: none.",
    )
    horizon_days = models.PositiveIntegerField(default=365, help_text="CLV horizon.")
    annual_discount = models.FloatField(default=0.10, help_text="Yearly discount rate for CLV.")

    def __str__(self) -> str:
        return f"prediction settings of {self.workspace_id}"


class PredictionRun(models.Model):
    """One fit of the models on a workspace's purchases as of a date, with its validation."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    model_version = models.CharField(max_length=40)
    as_of = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    purchase_event = models.CharField(max_length=200)
    churn_days = models.PositiveIntegerField()
    customers = models.PositiveIntegerField(help_text="Customers with a purchase by as_of.")
    repeat_buyers = models.PositiveIntegerField()
    purchases = models.PositiveIntegerField(help_text="Purchase days by as_of.")
    parameters = models.JSONField(default=dict, help_text="Fitted parameters per model.")
    validation = models.JSONField(default=dict, help_text="Holdout and churn-model checks.")
    warnings = models.JSONField(default=list)
    seconds = models.FloatField(default=0.0, help_text="Time the fit and scoring took.")

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="predict_run_latest")]

    def __str__(self) -> str:
        return f"{self.model_version} as of {self.as_of:%Y-%m-%d}"


class CustomerScore(models.Model):
    """One customer's predictions from one run; older runs' rows stay for trend."""

    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="scores")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    model_version = models.CharField(max_length=40)
    as_of = models.DateTimeField()
    p_alive = models.FloatField()
    expected_30 = models.FloatField()
    expected_90 = models.FloatField()
    expected_365 = models.FloatField()
    expected_spend = models.FloatField(help_text="Expected amount per future purchase.")
    clv = models.FloatField(help_text="Discounted value of the purchases in the horizon.")
    clv_low = models.FloatField()
    clv_high = models.FloatField()
    churn_risk = models.FloatField(null=True, blank=True)
    value_at_risk = models.FloatField(default=0.0, help_text="CLV × churn risk.")
    reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="score_customer_latest"),
            models.Index(fields=["run", "-value_at_risk"], name="score_run_at_risk"),
        ]

    def __str__(self) -> str:
        return f"score of {self.customer_id} ({self.as_of:%Y-%m-%d})"
