"""Sentence embeddings: the cache (nothing embedded twice), semantic search with the same
filters as word search, themes from embeddings, and the LSA fallback without the extra.

Tests marked by the ``model`` fixture need the optional extra ``embeddings``
(sentence-transformers, CPU torch, all-MiniLM-L6-v2's packaged weights) and are skipped, with
that reason, without it; scripts/test installs it. The nearest neighbours asserted are the ones
a person picks (the login texts for a login question, the parcel texts for a delivery one).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from django.urls import reverse
from sklearn.metrics import normalized_mutual_info_score

from cxloop.text import embeddings, selectors, services, themes
from cxloop.text.models import Embedding, TextAnalysis
from cxloop.text.selectors import TextFilters
from factories import customer_id, identify, ingest, member_make, response_make, survey_make

# the fixtures `model` and `no_extra` come from text_model_fixtures (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("fresh_text_engine")
AT = datetime(2025, 3, 10, 12, tzinfo=UTC)
LOGIN_TEXTS = [
    "The password reset email never arrived",
    "I could not sign in to my account all week",
]
DELIVERY_TEXTS = [
    "The parcel came three days late",
    "Courier left my package at the wrong house",
]
OTHER_TEXTS = ["Great coffee and friendly staff", "The new colours of the app look lovely"]


def _analyse(workspace, rows):
    survey = survey_make(workspace)
    responses = [
        response_make(workspace, survey, AT, nps=nps, channel=channel, comment=comment)
        for comment, nps, channel in rows
    ]
    services.text_analyse_responses(responses=responses)
    return responses


@pytest.fixture
def texts(workspace):
    rows = [(t, 2, "web") for t in LOGIN_TEXTS]
    rows += [(t, 3, "app") for t in DELIVERY_TEXTS]
    rows += [(t, 9, "web") for t in OTHER_TEXTS]
    return _analyse(workspace, rows)


class CountingEngine:
    """A stand-in model: each text's vector is its length and vowel count, normalised."""

    name = "counting"
    label = "counting test engine"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        rows = np.array([[len(t), sum(c in "aeiou" for c in t) + 1.0] for t in texts])
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------- the cache (no extra needed)


def test_each_distinct_text_is_embedded_once_and_cached(db):
    # given: a model that records its calls
    engine = CountingEngine()
    # when: three texts, two the same but for white space, are embedded twice
    first = embeddings.embed(["good  service", "late parcel", "good service"], model=engine)
    second = embeddings.embed(["late parcel", "good service"], model=engine)
    # then: one call, with the two distinct normalised texts; the second came from the cache
    assert engine.calls == [["good service", "late parcel"]]
    assert Embedding.objects.filter(model="counting").count() == 2
    # "good service": length 12, 5 vowels + 1 -> (12, 6) / sqrt(180)
    expected = np.array([12, 6]) / np.sqrt(180)
    np.testing.assert_allclose(first[0], expected, rtol=1e-6)
    np.testing.assert_allclose(first[2], expected, rtol=1e-6)
    np.testing.assert_allclose(second[1], expected, rtol=1e-6)
    assert first.dtype == np.float32 and first.shape == (3, 2)


def test_a_text_seen_by_this_process_is_stored_again_without_the_model(db):
    # given: a text embedded once, then its database row lost (a test rollback, a purge)
    engine = CountingEngine()
    embeddings.embed(["late parcel"], model=engine)
    Embedding.objects.all().delete()
    # when: it is embedded again
    embeddings.embed(["late parcel"], model=engine)
    # then: the process remembered it: stored again, the model called only the first time
    assert len(engine.calls) == 1
    assert Embedding.objects.filter(model="counting").count() == 1


def test_embedding_batches_large_inputs(db, monkeypatch):
    monkeypatch.setattr(embeddings, "BATCH", 2)
    engine = CountingEngine()
    embeddings.embed([f"text {i}" for i in range(5)], model=engine)
    assert [len(call) for call in engine.calls] == [2, 2, 1]


def test_digest_is_sha256_of_the_normalised_text():
    # sha256("a b"), computed independently (python3 -c "hashlib.sha256(b'a b')")
    assert embeddings.digest(" a \n b ") == (
        "c8687a08aa5d6ed2044328fa6a697ab8e96dc34291e8c2034ae8c38e6fcc6d65"
    )


# ---------------------------------------------------------------- fallback without the extra


def test_without_the_extra_the_lsa_fallback_is_used_and_named(db, no_extra):
    cached = Embedding.objects.count()  # vectors left by module-wide demos (test_demo*)
    assert embeddings.engine() is None
    assert selectors.embedding_engine().startswith("LSA fallback")
    vectors = services.texts_embed(texts=["password reset", "parcel late", "password"])
    assert vectors.shape[0] == 3
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert Embedding.objects.count() == cached  # corpus-dependent vectors are not cached


def test_lsa_semantic_search_ranks_a_login_text_without_the_word(workspace, no_extra):
    # given: login texts that share "password", "log in" and "account"; one lacks "password"
    rows = [(t, 2, "web") for t in [
        "Password reset broken, cannot log in to my account",
        "Cannot log in after the password change",
        "Account locked, password rejected",
        "I cannot log in to my account",
    ]]  # fmt: skip
    rows += [(t, 3, "app") for t in [
        "Parcel delivery late, courier rude",
        "The courier lost my parcel",
        "Delivery late again, parcel damaged",
    ]]  # fmt: skip
    _analyse(workspace, rows)
    # when: searching by meaning for "password"
    found = selectors.texts_semantic(workspace=workspace, filters=TextFilters(query="password"))
    texts = dict(TextAnalysis.objects.values_list("pk", "text"))
    ranked = [texts[pk] for pk, _ in found.hits]
    # then: the login text without the word ranks above every delivery text
    assert "I cannot log in to my account" in ranked
    assert not any("arcel" in t for t in ranked[: ranked.index("I cannot log in to my account")])
    assert found.engine.startswith("LSA fallback")


def test_themes_fall_back_to_nmf_without_the_extra(workspace, no_extra):
    login = [
        "Password reset email never arrived so I cannot log in",
        "Cannot log in, the password reset link is broken",
        "Login fails after password reset, account locked",
        "I forgot my password and the reset email did not come, cannot log in",
        "Account locked after login attempts, password reset broken",
        "Log in keeps failing even with the new password",
    ]
    delivery = [
        "Delivery was late again and the parcel arrived damaged",
        "My parcel delivery took two weeks, courier lost the parcel",
        "Late delivery, the courier never came and the parcel is lost",
        "Parcel delivery delayed, courier left the parcel outside",
        "The courier delivery was late and the parcel was wet",
        "Delivery slow, parcel arrived late, courier rude",
    ]
    _analyse(workspace, [(t, 5, "web") for t in login + delivery])
    found = services.themes_discover(workspace=workspace, k=2).created
    expected = [t.name for t in found]
    nmf = themes.discover(
        list(TextAnalysis.objects.order_by("pk").values_list("text", flat=True)), k=2
    )
    assert expected == [d.name for d in nmf]


def test_pages_name_the_fallback_engine(client, workspace, no_extra):
    _analyse(workspace, [(t, 2, "web") for t in LOGIN_TEXTS + DELIVERY_TEXTS])
    client.force_login(member_make(workspace=workspace, username="analyst", role="analyst"))
    html = client.get(
        reverse("text-search"), {"q": "password", "mode": "semantic"}
    ).content.decode()
    assert "Engine: LSA fallback" in html and LOGIN_TEXTS[0] in html
    # the count is of the closest texts shown, not of texts that match
    assert '<span class="stat-label">Closest texts</span>' in html
    themes_page = client.get(reverse("text-themes")).content.decode()
    assert (
        "Installing cxloop's <code>embeddings</code> extra groups texts by meaning" in themes_page
    )


# ---------------------------------------------------------------- clustering on given vectors


def test_clusters_follow_the_vectors_and_are_named_by_c_tf_idf():
    # given: ten texts whose vectors point two ways (hand-made, unit length)
    texts = [f"parcel late courier day {i}" for i in range(5)]
    texts += [f"password reset login try {i}" for i in range(5)]
    vectors = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    # when
    found = themes.discover(texts, k=2, vectors=vectors)
    # then: one theme per direction, each named by its own words (the counter "i" is in one
    # text each, under min_df 2, so only the shared words name a cluster)
    by_first = {d.members[0][0] // 5: d for d in found}
    assert sorted(i for i, _ in by_first[0].members) == [0, 1, 2, 3, 4]
    assert sorted(i for i, _ in by_first[1].members) == [5, 6, 7, 8, 9]
    assert set(by_first[0].phrases) >= {"parcel", "courier"}
    assert set(by_first[1].phrases) >= {"password", "reset", "login"}
    assert all(w == pytest.approx(1.0) for _, w in by_first[0].members)


def test_c_tf_idf_weights_match_the_formula():
    # two clusters; min_df=2 keeps "apple" (2 texts) and "dog" (3 texts)
    texts = ["apple pie", "apple tart", "dog walk", "dog park", "dog apple"]
    labels = np.array([0, 0, 1, 1, 1])
    phrases = themes.key_phrases(texts, labels, 2)
    # cluster 0: apple 2 of 2 words -> tf 1, dog 0; cluster 1: dog 3/4, apple 1/4.
    # A = 6/2 = 3; idf(apple) = log(1 + 3/3), idf(dog) = log(1 + 3/3): same, so tf decides
    assert phrases[0] == ("apple",)
    assert phrases[1] == ("dog", "apple")


# ---------------------------------------------------------------- with the model (the extra)


def test_semantic_search_finds_texts_by_meaning(workspace, model, texts):
    # when: a question sharing no word with the texts it should find
    found = selectors.texts_semantic(
        workspace=workspace, filters=TextFilters(query="people who could not log in")
    )
    by_id = dict(TextAnalysis.objects.values_list("pk", "text"))
    ranked = [by_id[pk] for pk, _ in found.hits]
    # then: the two login texts come first; the word search finds nothing
    assert set(ranked[:2]) == set(LOGIN_TEXTS)
    assert (
        selectors.texts_search(
            workspace=workspace, filters=TextFilters(query="people who could not log in")
        ).count()
        == 0
    )
    delivery = selectors.texts_semantic(
        workspace=workspace, filters=TextFilters(query="my order was not delivered on time")
    )
    assert {by_id[pk] for pk, _ in delivery.hits[:2]} == set(DELIVERY_TEXTS)
    assert found.engine.startswith("all-MiniLM-L6-v2")
    assert found.missing == 0 and found.searched == 6
    sims = [s for _, s in found.hits]
    assert sims == sorted(sims, reverse=True) and all(-1.0 <= s <= 1.0 for s in sims)


def test_semantic_search_applies_the_same_filters(workspace, model, texts):
    found = selectors.texts_semantic(
        workspace=workspace,
        filters=TextFilters(query="people who could not log in", channel="app", nps="detractor"),
    )
    by_id = dict(TextAnalysis.objects.values_list("pk", "text"))
    assert {by_id[pk] for pk, _ in found.hits} <= set(DELIVERY_TEXTS)
    assert found.searched == 2


def test_new_texts_are_embedded_as_they_are_analysed_and_never_twice(workspace, model, texts):
    # analysing the six texts cached six vectors (the background analysis path); other tests'
    # module-wide demos (test_demo*) leave vectors of other texts, so count these texts' digests
    digests = [embeddings.digest(t) for t in (*LOGIN_TEXTS, *DELIVERY_TEXTS, *OTHER_TEXTS)]
    assert len(set(digests)) == 6
    assert Embedding.objects.filter(model=model.name, digest__in=digests).count() == 6
    calls = model.calls
    services.texts_embed(texts=[*LOGIN_TEXTS, LOGIN_TEXTS[0]])
    assert model.calls == calls  # all cached
    services.texts_embed(texts=["A brand new sentence", "A brand new sentence"])
    assert model.calls == calls + 1
    services.texts_embed(texts=["A brand new sentence"])
    assert model.calls == calls + 1


def test_history_is_embedded_with_progress(workspace, model, texts):
    Embedding.objects.all().delete()
    embeddings.memory_clear()
    seen = []
    done = services.texts_embed_workspace(
        workspace=workspace, on_progress=lambda d, t: seen.append((d, t))
    )
    assert done == 6 and seen == [(0, 6), (6, 6)]
    found = selectors.texts_semantic(workspace=workspace, filters=TextFilters(query="login"))
    assert found.missing == 0
    assert services.texts_embed_workspace(workspace=workspace) == 0


def test_themes_from_embeddings_separate_login_from_delivery(workspace, model):
    login = [
        "Password reset email never arrived so I cannot log in",
        "Cannot log in, the password reset link is broken",
        "Login fails after password reset, account locked",
        "I forgot my password and the reset email did not come",
        "Account locked after login attempts",
        "Sign in keeps failing even with the new password",
    ]
    delivery = [
        "Delivery was late again and the parcel arrived damaged",
        "My parcel took two weeks, courier lost it",
        "The courier never came and the parcel is lost",
        "Parcel delayed, courier left the box outside",
        "The courier was late and the parcel was wet",
        "Package arrived late, driver rude",
    ]
    _analyse(workspace, [(t, 5, "web") for t in login + delivery])
    found = services.themes_discover(workspace=workspace, k=2).created
    truth, predicted = [], []
    for theme_index, theme in enumerate(found):
        for text in theme.texts.values_list("analysis__text", flat=True):
            truth.append(text in login)
            predicted.append(theme_index)
    assert normalized_mutual_info_score(truth, predicted) == pytest.approx(1.0)
    names = " | ".join(t.name for t in found)
    assert "password" in names and ("parcel" in names or "courier" in names)


def test_erasure_forgets_the_persons_embeddings(workspace, model):
    ingest(workspace, [identify("u-1", {"email": "ann@example.com"}, AT)])
    customer = workspace.customer_set.get(pk=customer_id(workspace, "u-1"))
    survey = survey_make(workspace)
    response = response_make(
        workspace, survey, AT, nps=1, customer=customer, comment="My cat hates the new app icon"
    )
    services.text_analyse_responses(responses=[response])
    key = TextAnalysis.objects.get(response=response).digest
    assert Embedding.objects.filter(digest=key).exists()
    from cxloop.text import handlers

    shared = embeddings.digest(LOGIN_TEXTS[0])
    other = response_make(workspace, survey, AT, nps=1, customer=customer, comment=LOGIN_TEXTS[0])
    somebody = response_make(workspace, survey, AT, nps=1, comment=LOGIN_TEXTS[0])
    services.text_analyse_responses(responses=[other, somebody])
    handlers.text_customer_erase(customer_ids=[customer.pk])
    assert not Embedding.objects.filter(digest=key).exists()
    # the same words written by somebody else keep their vector
    assert Embedding.objects.filter(digest=shared).exists()


def test_page_and_api_search_by_meaning(client, workspace, model, texts):
    client.force_login(member_make(workspace=workspace, username="analyst", role="analyst"))
    page = client.get(
        reverse("text-search"), {"q": "people who could not log in", "mode": "semantic"}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="semantic-engine"' in html and "all-MiniLM-L6-v2" in html
    assert LOGIN_TEXTS[0] in html and "similarity" in html
    assert "cosine similarity, at least 0.25 to count as a match" in html
    # words close to no text: said so, with the floor, not "no texts in this period"
    far = client.get(
        reverse("text-search"), {"q": "quantum chromodynamics of gluons", "mode": "semantic"}
    ).content.decode()
    assert "No text is close enough in meaning to your words (similarity at least 0.25)" in far
    api = client.get(
        "/api/text/search", {"q": "people who could not log in", "mode": "semantic"}
    ).json()
    assert {row["text"] for row in api[:2]} == set(LOGIN_TEXTS)
    assert api[0]["similarity"] >= api[1]["similarity"]
    assert (
        "k-means clustering of the texts' sentence embeddings"
        in client.get(reverse("text-themes")).content.decode()
    )
    assert client.get("/api/text/search", {"mode": "vibes"}).status_code == 422
    assert client.get(reverse("text-search"), {"mode": "vibes"}).status_code == 400


def test_page_links_a_semantic_hit_to_the_customer(client, workspace, model):
    ingest(workspace, [identify("u-1", {"email": "ann@example.com", "name": "Ann Lee"}, AT)])
    customer = workspace.customer_set.get(pk=customer_id(workspace, "u-1"))
    survey = survey_make(workspace)
    response = response_make(
        workspace, survey, AT, nps=1, customer=customer, comment="I could not sign in at all"
    )
    services.text_analyse_responses(responses=[response])
    client.force_login(member_make(workspace=workspace, username="analyst", role="analyst"))
    html = client.get(
        reverse("text-search"), {"q": "login problems", "mode": "semantic"}
    ).content.decode()
    assert reverse("customer-detail", args=[customer.pk]) in html
