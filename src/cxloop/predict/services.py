"""Writes for predictions: fit the models on a workspace's purchases as of a date and store
every customer's scores (older runs are kept, so scores have a trend)."""

from __future__ import annotations

import logging
import time
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone
from threadpoolctl import threadpool_limits

from cxloop.core.models import Workspace
from cxloop.events import selectors as events_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.predict import churn, scoring
from cxloop.predict.models import CustomerScore, PredictionRun, PredictionSettings

MODEL_VERSION = "bgnbd-gg-1+churn-lr-1"
SECONDS_PER_DAY = 86400.0
log = logging.getLogger(__name__)


def prediction_settings_get(*, workspace: Workspace) -> PredictionSettings:
    """The workspace's settings (the defaults, stored, the first time)."""
    found, _ = PredictionSettings.objects.get_or_create(workspace=workspace)
    return found


def prediction_settings_update(
    *,
    workspace: Workspace,
    purchase_event: str | None = None,
    churn_days: int | None = None,
    cancel_event: str | None = None,
    horizon_days: int | None = None,
    annual_discount: float | None = None,
) -> PredictionSettings:
    """Change what counts as a purchase and as churn; ``ValueError`` names a bad value."""
    found = prediction_settings_get(workspace=workspace)
    if purchase_event is not None:
        if not purchase_event.strip() or len(purchase_event) > 200:
            raise ValueError("purchase_event: give an event name of 1 to 200 characters")
        found.purchase_event = purchase_event.strip()
    if churn_days is not None:
        if not 7 <= churn_days <= 730:
            raise ValueError("churn_days: must be between 7 and 730")
        found.churn_days = churn_days
    if cancel_event is not None:
        if len(cancel_event) > 200:
            raise ValueError("cancel_event: at most 200 characters")
        found.cancel_event = cancel_event.strip()
    if horizon_days is not None:
        if not 30 <= horizon_days <= 3650:
            raise ValueError("horizon_days: must be between 30 and 3650")
        found.horizon_days = horizon_days
    if annual_discount is not None:
        if not 0 <= annual_discount <= 1:
            raise ValueError("annual_discount: must be between 0 and 1 (0.1 = 10 % a year)")
        found.annual_discount = annual_discount
    found.save()
    return found


def _day(moment: datetime) -> float:
    """Whole days since 1970-01-01 UTC."""
    return float(np.floor(moment.timestamp() / SECONDS_PER_DAY))


def default_as_of(*, workspace: Workspace) -> datetime:
    """The latest event of the workspace (so imported history works), else now."""
    return events_selectors.event_latest_at(workspace=workspace) or timezone.now()


def predictions_run(
    *, workspace: Workspace, as_of: datetime | None = None, interval_draws: int = 50
) -> PredictionRun:
    """Fit and score every buyer of ``workspace`` on purchases up to ``as_of`` (default: the
    latest event). Returns the stored run; its ``warnings`` say when the data is unsuitable."""
    started = time.perf_counter()
    settings = prediction_settings_get(workspace=workspace)
    if as_of is None:
        as_of = default_as_of(workspace=workspace)
    elif timezone.is_naive(as_of):
        as_of = as_of.replace(tzinfo=UTC)
    purchases = events_selectors.purchases_by_customer(
        workspace=workspace, name=settings.purchase_event, until=as_of
    )
    customer = np.array([row[0] for row in purchases], dtype=np.int64)
    day = np.array([_day(row[1]) for row in purchases], dtype=np.float64)
    amount = np.array([row[2] for row in purchases], dtype=np.float64)
    # tiny or degenerate data make NumPy warn about NaNs the scores then replace
    # (BLAS threads only contend on these vector-sized problems)
    with np.errstate(all="ignore"), warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", RuntimeWarning)
        outcome = scoring.score_purchases(
            customer,
            day,
            amount,
            as_of_day=_day(as_of),
            horizon_days=float(settings.horizon_days),
            annual_discount=settings.annual_discount,
            interval_draws=interval_draws,
        )
        churn_outcome = _churn(workspace, as_of, customer, day, amount, settings)
    outcome.validation["churn"] = scoring.json_safe(churn_outcome.validation)
    if churn_outcome.risk is None and outcome.scores is not None:
        reason = churn_outcome.validation.get("error", "")
        outcome.warnings.append(f"Churn risk from the purchase model only: {reason}")
    if not purchases:
        outcome.warnings.insert(
            0, f"No {settings.purchase_event!r} events by {as_of:%Y-%m-%d}: nothing to predict."
        )
    with transaction.atomic():
        run = PredictionRun.objects.create(
            workspace=workspace,
            model_version=MODEL_VERSION,
            as_of=as_of,
            purchase_event=settings.purchase_event,
            churn_days=settings.churn_days,
            customers=outcome.customers,
            repeat_buyers=outcome.repeat_buyers,
            purchases=outcome.purchases,
            parameters=outcome.parameters,
            validation=outcome.validation,
            warnings=outcome.warnings,
        )
        if outcome.scores is not None:
            _store_scores(run, outcome.scores, churn_outcome)
        run.seconds = time.perf_counter() - started
        run.save(update_fields=["seconds"])
    log.info(
        "predict: workspace %s as of %s, %s customers in %.1fs",
        workspace.slug,
        as_of,
        outcome.customers,
        run.seconds,
    )
    return run


def _churn(
    workspace: Workspace,
    as_of: datetime,
    customer: np.ndarray,
    day: np.ndarray,
    amount: np.ndarray,
    settings: PredictionSettings,
) -> churn.ChurnOutcome:
    """Churn risk from purchases, all other events and NPS answers up to ``as_of``."""
    events = events_selectors.event_activity(workspace=workspace, until=as_of)
    answers = feedback_selectors.nps_answers(workspace=workspace, until=as_of)
    activity = churn.activity_from(
        (customer, day, amount),
        (
            [row[0] for row in events],
            [_day(row[1]) for row in events],
            [churn.is_support_event(row[2]) for row in events],
        ),
        (
            [row[0] for row in answers],
            [_day(row[1]) for row in answers],
            [row[2] for row in answers],
        ),
        (
            [row[0] for row in events if row[2] == settings.cancel_event],
            [_day(row[1]) for row in events if row[2] == settings.cancel_event],
        )
        if settings.cancel_event
        else None,
    )
    return churn.churn_scores(
        activity,
        as_of_day=_day(as_of),
        horizon=float(settings.churn_days),
        cancel_event=settings.cancel_event,
    )


def _store_scores(
    run: PredictionRun, scores: scoring.Scores, churn_outcome: churn.ChurnOutcome
) -> None:
    def value(array: np.ndarray, i: int) -> float:
        number = float(array[i])
        return number if np.isfinite(number) else 0.0

    if churn_outcome.risk is not None:
        if not np.array_equal(churn_outcome.customers, scores.customer):
            raise RuntimeError("churn and CLV scored different customers")
        risk = churn_outcome.risk
        reasons = churn_outcome.reasons
    else:
        risk = 1.0 - scores.p_alive
        reasons = [
            [
                {
                    "feature": "p_alive",
                    "text": f"{p:.0%} chance they still buy, from their purchase pattern",
                    "weight": 1.0,
                }
            ]
            for p in scores.p_alive.tolist()
        ]
    rows = [
        CustomerScore(
            run=run,
            workspace_id=run.workspace_id,
            customer_id=int(scores.customer[i]),
            model_version=run.model_version,
            as_of=run.as_of,
            p_alive=value(scores.p_alive, i),
            expected_30=value(scores.expected_30, i),
            expected_90=value(scores.expected_90, i),
            expected_365=value(scores.expected_365, i),
            expected_spend=value(scores.expected_spend, i),
            clv=value(scores.clv, i),
            clv_low=value(scores.clv_low, i),
            clv_high=value(scores.clv_high, i),
            churn_risk=value(risk, i),
            value_at_risk=value(scores.clv, i) * value(risk, i),
            reasons=reasons[i],
        )
        for i in range(scores.customer.size)
    ]
    CustomerScore.objects.bulk_create(rows, batch_size=2000)


def predictions_refresh_request(*, workspace: Workspace) -> None:
    """Refit and rescore ``workspace`` on the background worker, once this transaction commits."""
    from cxloop.predict.tasks import predictions_refresh

    transaction.on_commit(lambda: predictions_refresh.enqueue(workspace_id=workspace.pk))


KEEP_ALL_DAYS = 35


def prediction_runs_prune(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Keep every run of the last ``KEEP_ALL_DAYS`` days and, before that, the first run of each
    month (a daily refresh would otherwise store a row per buyer per day forever). Returns how
    many runs were deleted, with their scores."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=KEEP_ALL_DAYS)
    old = PredictionRun.objects.filter(workspace=workspace, created_at__lt=cutoff).order_by(
        "created_at", "pk"
    )
    kept_months: set[tuple[int, int]] = set()
    doomed = []
    for run_id, created_at in old.values_list("pk", "created_at"):
        month = (created_at.year, created_at.month)
        if month in kept_months:
            doomed.append(run_id)
        else:
            kept_months.add(month)
    for start in range(0, len(doomed), 500):
        chunk = doomed[start : start + 500]
        CustomerScore.objects.filter(run_id__in=chunk).delete()
        PredictionRun.objects.filter(pk__in=chunk).delete()
    return len(doomed)
