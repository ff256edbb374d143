"""People's names in free text: replaced with [name] on evidence (a cue, the writer's own name,
a known customer's name), while ordinary capitalised words, above all at the start of a
sentence, stay as written."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from cxloop.core import names, pii
from cxloop.customers.models import Customer
from cxloop.text import services
from cxloop.text.models import TextAnalysis
from factories import response_make, survey_make

KNOWN = names.name_tokens(
    ["Sarah Jones", "Marek Nowak", "Will Okafor", "Grace Lee", "Hope Walker", "Mark Price"]
)
OWN = names.name_tokens(["Priya Shah"])


def _redact(text: str, *, own=OWN, known=KNOWN) -> str:
    return pii.redact(text, own_names=own, known_names=known).text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # cues: the name need not be known
        (
            "Hi, my name is Aoife Brennan and my order #4471 never arrived.",
            "Hi, my name is [name] and my order #4471 never arrived.",
        ),
        (
            "When you call, ask for Dmitri, he actually fixed it.",
            "When you call, ask for [name], he actually fixed it.",
        ),
        (
            "I spoke to Ngozi on the phone twice and got nowhere.",
            "I spoke to [name] on the phone twice and got nowhere.",
        ),
        (
            "The driver Kwame left the parcel in the rain.",
            "The driver [name] left the parcel in the rain.",
        ),
        (
            "Mr. Haddad from billing never called back.",
            "Mr. [name] from billing never called back.",
        ),
        (
            "Refund still missing after 3 weeks.\nRegards,\nTomasz Zielinski",
            "Refund still missing after 3 weeks.\nRegards,\n[name]",
        ),
        ("Dear Lucia, the app crashes at checkout.", "Dear [name], the app crashes at checkout."),
        ("Lovely staff. Thanks, Femi!", "Lovely staff. Thanks, [name]!"),
        # the writer's own name, and known customers' names, anywhere
        ("Priya here: the router is still dead.", "[name] here: the router is still dead."),
        (
            "Sarah Jones at the Leeds store was brilliant.",
            "[name] at the Leeds store was brilliant.",
        ),
        ("Marek was rude and hung up on me.", "[name] was rude and hung up on me."),
        ("Great service from Will Okafor today!", "Great service from [name] today!"),
    ],
)
def test_names_are_found_on_evidence(text, expected):
    assert _redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # each first word is also a customer's name (Will, Grace, Hope, Mark, Price) or a word
        # people capitalise in feedback; none is a name here
        "Will you refund me or not? I have waited two weeks.",
        "Grace period ended before the card even arrived.",
        "Hope this gets fixed soon. Mark my words, I will leave.",
        "Price was too high for what you get.",
        "Delivery was late. Customer Service was rude. Great job, really.",
        "Thanks for nothing. Never again.",
        "Ordered on Monday, arrived in May. Amazing.",
        "The UPS tracking page and DHL both said delivered.",
        "Love the new app! Best update in ages.",
        "Ask for help and you get a bot. Spoke to Customer Service and nothing.",
    ],
)
def test_ordinary_capitalised_words_stay(text):
    assert _redact(text) == text
    assert "name" not in pii.redact(text, own_names=OWN, known_names=KNOWN).kinds


def test_without_lists_only_cues_count():
    text = "Sarah was great. My name is Sarah Jones."
    assert (
        _redact(text, own=frozenset(), known=frozenset()) == "Sarah was great. My name is [name]."
    )


def test_kinds_and_order_with_other_personal_data():
    found = pii.redact(
        "Email me at ana@example.com or ask for Bruno at 12 High Street.",
        own_names=OWN,
        known_names=KNOWN,
    )
    assert (
        found.text == "Email me at [email] or ask for [name] at [address]"
    )  # "Street." taken whole
    assert found.kinds == ("email", "address", "name")


def test_name_words_come_from_full_names_and_parts():
    assert names.name_tokens(["Ann-Marie O'Neill", " lee ", "J", ""]) == frozenset(
        {"ann-marie", "o'neill", "lee"}
    )


def test_hostile_text_stays_fast():
    text = "Mr " + "Abcdef " * 20_000 + "my name is " * 5_000
    started = time.perf_counter()
    pii.redact(text, known_names=KNOWN)
    assert time.perf_counter() - started < 5


def test_the_text_app_redacts_the_writers_and_known_customers_names(workspace):
    # given: two customers with names in their profiles; one writes about the other
    at = datetime(2025, 3, 10, 12, tzinfo=UTC)
    writer = Customer.objects.create(
        workspace=workspace, traits={"first_name": "Priya", "last_name": "Shah"}
    )
    Customer.objects.create(workspace=workspace, traits={"name": "Marek Nowak"})
    survey = survey_make(workspace)
    response = response_make(
        workspace, survey, at, nps=3, customer=writer,
        comment="Priya Shah again. Marek was rude on the phone. Will you call me back?",
    )  # fmt: skip
    # when
    services.text_analyse_responses(responses=[response])
    # then: both names hidden in what analysts see; the first word of a question kept
    analysis = TextAnalysis.objects.get(response=response)
    assert analysis.text == "[name] again. [name] was rude on the phone. Will you call me back?"
    assert analysis.pii == ["name"]
    assert all("Marek" not in s["text"] for s in analysis.sentences)
