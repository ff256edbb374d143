"""Property-based run of the whole REST API against its own OpenAPI schema (schemathesis).

Every operation, with generated valid and invalid input, signed in as an admin of a workspace with
data, must answer no 5xx, only statuses its schema documents, bodies and content types that match
them, 4xx to invalid input, 405 to methods it lacks, and 401 without (or with a wrong) session. The seed and the budget are fixed
(``derandomize``, ``MAX_EXAMPLES``) so a run is repeatable and stays short.

The session and CSRF token are sent as a browser would (cookies and ``X-CSRFToken``): the server
keeps requiring CSRF on writes, and the test passes that check instead of switching it off.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cxloop.api.params import MAX_ID
from cxloop.customers.models import Customer
from cxloop.feedback import services as feedback_services
from cxloop.journeys import services as journey_services
from cxloop.predict import services as predict_services
from cxloop.segments import services as segment_services
from cxloop.workflows import services as workflow_services
from test_journeys_maps import SHOP, seed

MAX_EXAMPLES = 12
SESSION_KEY_VALUE = "schemathesis0session0key00000000"  # fixed: schemathesis caches the auth
CSRF_SECRET = "S" * 32  # an unmasked token: cookie and header carry the same 32 characters

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    # Query parameters the API does not know are ignored, as by most HTTP APIs (the dashboard's
    # links carry extra ones); without this, an unknown parameter counts as invalid data that
    # must be refused.
    allow_extra_parameters=False,
)
KNOWN_IDS: dict[str, int] = {}  # path parameter → an id that exists in this test's data


@schema.auth()
class SignedInAdmin:
    """The fixture's session cookie, with the CSRF cookie and header a browser would send."""

    def get(self, case, context):
        return SESSION_KEY_VALUE

    def set(self, case, data, context):
        case.cookies = {**(case.cookies or {}), "sessionid": data, "csrftoken": CSRF_SECRET}
        case.headers = {**(case.headers or {}), "X-CSRFToken": CSRF_SECRET}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, ids that exist: random ids alone would only ever reach the 404s. Only a
    valid id is swapped, so a case made invalid on purpose stays invalid."""
    known = {
        name: KNOWN_IDS[name]
        for name, value in (path_parameters or {}).items()
        if name in KNOWN_IDS and type(value) is int and 1 <= value <= MAX_ID
    }
    if not known:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}])


@pytest.fixture
def signed_in_admin(db, workspace, admin_member):
    seed(workspace)
    journey = journey_services.journey_create(workspace=workspace, definition=SHOP)
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    segment = segment_services.segment_create(
        workspace=workspace,
        name="Buyers",
        definition={"all": [{"event": "Order Completed", "within_days": 3650}]},
        created_by=admin_member,
    )
    predict_services.predictions_run(workspace=workspace, interval_draws=0)
    customer = Customer.objects.filter(workspace=workspace).first()
    template = workflow_services.template_create(
        workspace=workspace, name="Call back",
        steps=[{"key": "call", "title": "Call", "fields": [
            {"key": "note", "label": "Note", "type": "text", "required": True}]}],
    )  # fmt: skip
    run = workflow_services.run_start(template=template, customer=customer)
    KNOWN_IDS.update(
        journey_id=journey.pk, survey_id=survey.pk, segment_id=segment.pk, customer_id=customer.pk,
        run_id=run.pk, step_id=run.steps.get().pk,
    )  # fmt: skip
    signed_in = {
        SESSION_KEY: str(admin_member.pk),
        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: admin_member.get_session_auth_hash(),
    }
    Session.objects.create(
        session_key=SESSION_KEY_VALUE,
        session_data=SessionStore().encode(signed_in),
        expire_date=timezone.now() + timedelta(days=1),
    )
    # As Django's test client does: the app runs in this test's transaction, whose connection a
    # request must not close (PostgreSQL would lose the test's data).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
        KNOWN_IDS.clear()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, signed_in_admin):
    # Every built-in check but positive_data_acceptance, which wants each schema-valid request
    # accepted: a schema cannot say all a valid journey map, segment definition or survey needs
    # (a touchpoint's stage among the stages, a funnel's two steps), so those get their
    # documented 422 naming the problem.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_writes_still_need_the_csrf_token(admin_member):
    """The run above sends the token as a browser would; without it a session is not enough."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_member)
    body = {"definition": {"all": [{"event": "Order Completed"}]}}

    refused = browser.post("/api/segments/preview", body, content_type="application/json")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF check Failed"}
