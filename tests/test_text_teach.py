"""Teaching cxloop a workspace's text: people's sentiment labels override the model, uploads of
labelled texts, and the workspace's own model (``text.tuning``), adopted only when
cross-validation says it reads the labelled texts better than the shipped head."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest
from django.db import connection
from django.urls import reverse
from sklearn.metrics import f1_score

from cxloop.text import scoring, selectors, services, tuning
from cxloop.text.models import SentimentLabel, SentimentTuning, TextAnalysis
from factories import member_make, response_make, survey_make

pytestmark = pytest.mark.usefixtures("fresh_text_engine")
AT = datetime(2025, 3, 1, 12, tzinfo=UTC)
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# polite complaints a lexicon (and the shipped head) read as praise: "thanks a lot for losing…"
BAD = ["losing my", "cancelling my", "delaying my", "ignoring my", "overcharging me for my"]
THINGS = ["bag", "flight", "order", "refund request", "booking", "parcel", "seat"]
NEGATIVE = [f"Thanks a lot for {b} {t}." for b in BAD for t in THINGS]
NEUTRAL = [f"My {t} reference is {n}, where can I check it?" for t in THINGS for n in (17, 42, 88)]
NEUTRAL += [f"Which terminal does the {t} desk use?" for t in THINGS]
POSITIVE = [
    f"The {t} was handled {how}, great work by the team!"
    for t in THINGS
    for how in ("quickly", "perfectly", "kindly", "brilliantly", "smoothly")
]


# ------------------------------------------------------------------ the model, by hand


def test_perfectly_separable_labels_are_learned_and_beat_a_one_class_reader():
    # given: three classes that one feature separates, 20 each; a "shipped" reader that
    # calls everything neutral
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 20)
    x = np.column_stack([y * 10.0 + rng.normal(0, 0.1, 60), rng.normal(0, 1, 60)])
    shipped = np.ones(60, dtype=int)
    # when
    found = tuning.check(x, y, shipped, resamples=200)
    # then: every held-out text right (F1 1); the one-class reader: neutral F1 2·(1/3)/(1/3+1)
    # = 0.5, the others 0, macro (0.5)/3
    assert found.tuned_f1 == 1.0
    assert found.shipped_f1 == pytest.approx(0.5 / 3)
    assert found.better and found.low > 0.5
    assert found.labels == 60


def test_scores_carry_the_most_likely_class_under_the_cutoff():
    probabilities = np.array(
        [
            [0.5, 0.3, 0.2],  # negative, but P(pos) − P(neg) = −0.3: kept
            [0.40, 0.35, 0.25],  # negative by a little: −0.15
            [0.2, 0.45, 0.35],  # neutral though P(pos) − P(neg) = 0.15: held inside ±0.05
            [0.3, 0.31, 0.39],  # positive by a little: 0.09
            [0.34, 0.32, 0.34 - 1e-9],  # negative by a hair: pushed to −0.05
        ]
    )
    scores = tuning.scores_of(probabilities)
    assert scores == pytest.approx([-0.3, -0.15, 0.0499, 0.09, -0.05])
    assert [scoring.sentiment.label_of(s) for s in scores] == [
        "negative", "negative", "neutral", "positive", "negative",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("score", "label", "expected"),
    [(0.6, "negative", -0.05), (-0.6, "negative", -0.6), (0.6, "neutral", 0.0499),
     (-0.01, "neutral", -0.01), (-0.3, "positive", 0.05), (0.7, "positive", 0.7)],
)  # fmt: skip
def test_a_persons_label_moves_the_score_into_its_band(score, label, expected):
    assert scoring.fit_to_label(score, label) == pytest.approx(expected)


def test_too_few_labels_are_refused_by_name():
    with pytest.raises(tuning.TuningError, match="59 labelled texts: at least 60"):
        tuning.refuse_few(np.repeat([0, 1, 2], [20, 20, 19]))
    with pytest.raises(tuning.TuningError, match="too few labelled neutral 9"):
        tuning.refuse_few(np.repeat([0, 1, 2], [40, 9, 40]))


def test_a_model_survives_its_bytes():
    fitted = tuning.Tuned(np.arange(12.0).reshape(3, 4), np.array([0.1, 0.2, 0.3]), "m")
    back = tuning.from_bytes(tuning.to_bytes(fitted))
    assert back.model == "m" and back.dims == 4
    assert np.array_equal(back.coef, fitted.coef) and np.array_equal(
        back.intercept, [0.1, 0.2, 0.3]
    )


# ------------------------------------------------------------------ labels


@pytest.fixture
def lexicon_only(settings):
    settings.TEXT_EMBEDDINGS = "lsa"
    scoring.embeddings.engine.cache_clear()
    yield
    scoring.embeddings.engine.cache_clear()


def _comments(workspace, texts):
    survey = survey_make(workspace)
    responses = [response_make(workspace, survey, AT, comment=t) for t in texts]
    services.text_analyse_responses(responses=responses)
    return [TextAnalysis.objects.get(response=r) for r in responses]


def test_a_persons_label_overrides_the_model_for_every_copy_and_clearing_restores_it(
    workspace, lexicon_only
):
    # given: the same words twice, and another text; the lexicon reads "thanks" as praise
    first, copy, other = _comments(
        workspace,
        ["Thanks a lot for losing my bag.", "Thanks a lot  for losing\nmy bag.", "It came."],
    )
    assert first.label == copy.label == "positive"
    # when
    changed = services.sentiment_label_set(analysis=first, label="negative")
    # then: both copies (the same words, white space aside), not the other text
    assert changed == 2
    for row in (first, copy):
        row.refresh_from_db()
        assert row.label == "negative" and row.score <= -0.05
    other.refresh_from_db()
    assert other.label == "neutral"
    # and a new response with those words arrives labelled by the person
    (later,) = _comments(workspace, ["Thanks a lot for losing my bag!"])
    assert later.label == "positive"  # "!" differs: other words, the model decides
    (again,) = _comments(workspace, ["Thanks a lot for losing my bag."])
    assert again.label == "negative"
    # when the label is cleared, the model decides again (three copies change back)
    assert services.sentiment_label_clear(analysis=first) == 3
    assert services.sentiment_label_clear(analysis=first) == 0
    first.refresh_from_db()
    assert first.label == "positive"
    assert not SentimentLabel.objects.filter(workspace=workspace).exists()


def test_an_upload_keeps_good_lines_names_bad_ones_and_is_idempotent(workspace, lexicon_only):
    (analysis,) = _comments(workspace, ["Thanks a lot for losing my bag."])
    data = (
        b"Text,Label\n"
        b'"Thanks a lot for losing my bag.",negative\n'
        b"Mail me at ann@example.com about it,neutral\n"
        b"Loved it,meh\n"
        b",positive\n"
        b"Great service,1\n"
        b"Slow refund,NEG\n"
        b"\xe2\x80\x8b\xe2\x80\x8b,neutral\n"  # zero-width spaces only
        b"ann@example.com,negative\n"
    )
    report = services.sentiment_labels_upload(workspace=workspace, data=data)
    assert report.saved == 4 and report.unchanged == 0 and report.relabelled == 1
    assert report.errors == [
        "line 4: label 'meh' is not negative, neutral or positive (or neg, neu, pos; -1, 0, 1)",
        "line 5: text is empty",
        "line 8: text has no words",
        "line 9: text has no words once personal data is redacted",
    ]
    stored = dict(SentimentLabel.objects.values_list("text", "label"))
    assert stored["Great service"] == "positive" and stored["Slow refund"] == "negative"
    assert "ann@example.com" not in " ".join(stored) and "Mail me at" in " ".join(stored)
    analysis.refresh_from_db()
    assert analysis.label == "negative"
    again = services.sentiment_labels_upload(workspace=workspace, data=data)
    assert (again.saved, again.unchanged, again.relabelled) == (0, 4, 0)
    assert SentimentLabel.objects.count() == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"words,sentiment\nhi,positive\n", "no column 'text' or 'label'"),
        (b"text,label\n\xff\xfe,positive\n", "not UTF-8"),
        (b"", "no column"),
        (b"text,label\n", "no rows under the header"),
        (b"\xef\xbb\xbftext,label\r\n\r\n", "no rows under the header"),
    ],
)
def test_an_unreadable_upload_is_refused_as_a_whole(workspace, data, message):
    with pytest.raises(ValueError, match=message):
        services.sentiment_labels_upload(workspace=workspace, data=data)


# ------------------------------------------------------------------ the workspace's own model


def _labels(workspace, rows):
    SentimentLabel.objects.bulk_create(
        SentimentLabel(
            workspace=workspace,
            digest=scoring.embeddings.digest(t),
            text=t,
            label=label,
            source="upload",
        )
        for t, label in rows
    )


def _enough(workspace):
    """98 labelled texts: 35 negative, 28 neutral, 35 positive."""
    _labels(
        workspace,
        [(t, "negative") for t in NEGATIVE]
        + [(t, "neutral") for t in NEUTRAL]
        + [(t, "positive") for t in POSITIVE],
    )


def test_training_is_refused_with_too_few_labels(workspace, settings, model):
    settings.TASKS = IMMEDIATE
    _labels(workspace, [(t, "negative") for t in NEGATIVE[:5]])
    with pytest.raises(tuning.TuningError) as refused:
        services.sentiment_tuning_request(workspace=workspace)
    assert str(refused.value) == "5 labelled texts: at least 60 are needed to learn from"
    _labels(workspace, [(t, "neutral") for t in NEUTRAL] + [(t, "positive") for t in POSITIVE])
    with pytest.raises(tuning.TuningError) as refused:
        services.sentiment_tuning_request(workspace=workspace)
    assert str(refused.value) == "too few labelled negative 5: at least 10 of each class"
    assert not SentimentTuning.objects.exists()
    assert services.teaching_for(workspace_id=workspace.pk).tuned is None


def test_training_without_the_embedding_model_says_so(workspace, lexicon_only):
    _enough(workspace)
    run = services.sentiment_tuning_request(workspace=workspace)
    row = services.sentiment_tuning_run(tuning_id=run.pk)
    assert row.state == "failed" and "sentence-embedding model is not installed" in row.error


def test_the_workspace_model_learns_its_polite_complaints_and_rescores_history(
    workspace, model, django_capture_on_commit_callbacks, settings
):
    settings.TASKS = IMMEDIATE
    # given: history the shipped head reads as praise, and labelled texts of that kind
    unseen = [
        "Thanks a lot for losing my suitcase.",
        "Thanks a lot for cancelling my train.",
        "Thanks a lot for delaying my luggage.",
    ]
    history = _comments(workspace, unseen)
    assert [a.label for a in history].count("positive") >= 2
    rows = [(t, "negative") for t in NEGATIVE]
    rows += [(t, "neutral") for t in NEUTRAL] + [(t, "positive") for t in POSITIVE]
    _labels(workspace, rows)
    head_labels = [a.label for a in scoring.analyse_many([t for t, _ in rows])]
    y = [label for _, label in rows]
    expected_shipped = f1_score(y, head_labels, average="macro")
    # when: training is requested (the task runs when the transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.sentiment_tuning_request(workspace=workspace)
    run.refresh_from_db()
    # then: the shipped head's cross-validated F1 is its plain F1 (it never trains), the
    # tuned model's is higher, so it is adopted
    assert run.state == "done", run.error
    assert run.labels == len(rows)
    assert run.counts == {"negative": 35, "neutral": 28, "positive": 35}
    assert run.shipped_f1 == pytest.approx(expected_shipped)
    assert run.tuned_f1 > 0.9 > run.shipped_f1
    assert run.adopted and run.gain_low > 0
    # and the history was rescored by it, its version naming the training
    for analysis in history:
        analysis.refresh_from_db()
        assert analysis.version == scoring.tuned_version(run.pk)
        assert analysis.label == "negative"
    teaching = selectors.sentiment_teaching(workspace=workspace)
    assert teaching.in_use == run and teaching.current == teaching.texts == 3
    assert "this workspace's own model" in selectors.sentiment_model(version=history[0].version)


def _adopted(workspace, django_capture_on_commit_callbacks):
    rows = [(t, "negative") for t in NEGATIVE]
    rows += [(t, "neutral") for t in NEUTRAL] + [(t, "positive") for t in POSITIVE]
    _labels(workspace, rows)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.sentiment_tuning_request(workspace=workspace)
    run.refresh_from_db()
    assert run.adopted
    return run


def test_a_later_training_that_is_not_better_puts_the_shipped_head_back(
    workspace, model, settings, django_capture_on_commit_callbacks, monkeypatch
):
    # given: an adopted model that scores the workspace's texts
    settings.TASKS = IMMEDIATE
    (analysis,) = _comments(workspace, ["Thanks a lot for losing my suitcase."])
    first = _adopted(workspace, django_capture_on_commit_callbacks)
    analysis.refresh_from_db()
    assert analysis.version == scoring.tuned_version(first.pk)
    # when: a new training's cross-validation finds no gain it can be sure of
    monkeypatch.setattr(
        tuning, "check", lambda x, y, shipped: tuning.Check(len(y), 0.70, 0.68, -0.01, 0.05)
    )
    with django_capture_on_commit_callbacks(execute=True):
        second = services.sentiment_tuning_request(workspace=workspace)
    second.refresh_from_db()
    # then: it is not adopted, the head scores again and the texts are rescored by it
    assert second.state == "done" and not second.adopted and second.weights is None
    assert services.teaching_for(workspace_id=workspace.pk).tuned is None
    analysis.refresh_from_db()
    assert analysis.version == scoring.HEAD_VERSION
    teaching = selectors.sentiment_teaching(workspace=workspace)
    assert teaching.in_use is None and teaching.current == teaching.texts == 1


def test_a_model_from_before_an_upgrade_is_not_used(
    workspace, model, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    run = _adopted(workspace, django_capture_on_commit_callbacks)
    assert services.teaching_for(workspace_id=workspace.pk).tuned is not None
    # when: the shipped head changed since (another version)
    SentimentTuning.objects.filter(pk=run.pk).update(base_version="head1+vader-3.3.2+cx2")
    # then: the model is not used and the page asks for a new training
    assert services.teaching_for(workspace_id=workspace.pk).tuned is None
    teaching = selectors.sentiment_teaching(workspace=workspace)
    assert teaching.in_use is None and teaching.retrain
    assert teaching.version == scoring.HEAD_VERSION


def test_adoption_needs_the_whole_interval_above_zero():
    assert not tuning.Check(100, 0.70, 0.60, -0.001, 0.2).better
    assert tuning.Check(100, 0.70, 0.60, 0.001, 0.2).better


def test_a_training_stuck_for_over_an_hour_does_not_block_the_next(workspace):
    from datetime import timedelta

    from django.utils import timezone

    _enough(workspace)
    stuck = services.sentiment_tuning_request(workspace=workspace)
    SentimentTuning.objects.filter(pk=stuck.pk).update(
        state="running", requested_at=timezone.now() - timedelta(hours=2)
    )
    fresh = services.sentiment_tuning_request(workspace=workspace)
    stuck.refresh_from_db()
    assert fresh.pk != stuck.pk and fresh.state == "queued"
    assert stuck.state == "failed" and "did not finish within an hour" in stuck.error


def test_a_job_delivered_twice_trains_once(workspace, monkeypatch):
    # given: a training another delivery of the job has claimed already
    _enough(workspace)
    run = services.sentiment_tuning_request(workspace=workspace)
    SentimentTuning.objects.filter(pk=run.pk).update(state="running")
    monkeypatch.setattr(
        "cxloop.text._teaching._learn", lambda workspace_id: pytest.fail("trained twice")
    )
    # when: this delivery runs
    row = services.sentiment_tuning_run(tuning_id=run.pk)
    # then: it leaves the training to the other
    assert row.state == "running" and row.finished_at is None


def test_a_training_marked_stale_while_it_ran_stays_failed(workspace, monkeypatch, lexicon_only):
    from datetime import timedelta

    from django.utils import timezone

    (analysis,) = _comments(workspace, ["Thanks a lot for losing my bag."])
    _enough(workspace)
    run = services.sentiment_tuning_request(workspace=workspace)

    def slow(workspace_id):
        # meanwhile, an hour later, someone asks again: this one is marked failed
        SentimentTuning.objects.filter(pk=run.pk).update(
            started_at=timezone.now() - timedelta(hours=2)
        )
        services.sentiment_tuning_request(workspace=workspace)
        fitted = tuning.Tuned(np.zeros((3, 4)), np.zeros(3), "m")
        return fitted, tuning.Check(90, 0.9, 0.5, 0.3, 0.5), {"negative": 30}

    monkeypatch.setattr("cxloop.text._teaching._learn", slow)
    row = services.sentiment_tuning_run(tuning_id=run.pk)
    assert row.state == "failed" and not row.adopted and "within an hour" in row.error
    assert services.teaching_for(workspace_id=workspace.pk).tuned is None
    analysis.refresh_from_db()
    assert not analysis.version.startswith("t")


def test_the_page_offers_training_again_when_one_lost_its_worker(client, workspace):
    from datetime import timedelta

    from django.utils import timezone

    _labels(workspace, [(t, "negative") for t in NEGATIVE] + [(t, "neutral") for t in NEUTRAL]
            + [(t, "positive") for t in POSITIVE])  # fmt: skip
    run = services.sentiment_tuning_request(workspace=workspace)
    _login(client, workspace, "analyst")
    assert "Train on 98 labelled texts" not in client.get(reverse("text-teach")).content.decode()
    SentimentTuning.objects.filter(pk=run.pk).update(
        state="running", started_at=timezone.now() - timedelta(hours=2)
    )
    assert "Train on 98 labelled texts" in client.get(reverse("text-teach")).content.decode()


def test_one_busy_training_per_workspace_is_a_database_rule(workspace):
    from django.db import IntegrityError, transaction

    SentimentTuning.objects.create(workspace=workspace)
    with pytest.raises(IntegrityError), transaction.atomic():
        SentimentTuning.objects.create(workspace=workspace, state="running")
    SentimentTuning.objects.create(workspace=workspace, state="done")  # finished ones: any


def test_labels_stay_in_their_workspace(workspace, other_workspace, lexicon_only):
    (mine,) = _comments(workspace, ["Thanks a lot for losing my bag."])
    (theirs,) = _comments(other_workspace, ["Thanks a lot for losing my bag."])
    services.sentiment_label_set(analysis=mine, label="negative")
    theirs.refresh_from_db()
    assert theirs.label == "positive"
    assert selectors.sentiment_label_of(analysis=theirs) is None
    assert selectors.sentiment_teaching(workspace=other_workspace).labels == 0


def test_versions_fit_their_column():
    field = TextAnalysis._meta.get_field("version")
    assert len(scoring.tuned_version(10**12)) <= field.max_length


def test_a_second_request_while_one_is_queued_is_the_same_training(workspace):
    _enough(workspace)
    first = services.sentiment_tuning_request(workspace=workspace)
    assert services.sentiment_tuning_request(workspace=workspace) == first
    assert SentimentTuning.objects.count() == 1


# ------------------------------------------------------------------ pages


def _login(client, workspace, role):
    client.force_login(member_make(workspace=workspace, username=role, role=role))


def test_an_analyst_corrects_a_label_on_the_text_page(client, workspace, lexicon_only):
    (analysis,) = _comments(workspace, ["Thanks a lot for losing my bag."])
    _login(client, workspace, "analyst")
    url = reverse("text-detail", args=[analysis.pk])
    refused = client.post(url, {"label": "awful"})
    assert refused.status_code == 422
    assert "label: choose negative, neutral, positive or clear" in refused.content.decode()
    done = client.post(url, {"label": "negative"})
    assert done.status_code == 302
    page = client.get(url).content.decode()
    assert "Labelled <strong>negative</strong> by analyst" in page
    analysis.refresh_from_db()
    assert analysis.label == "negative"


def test_the_teach_page_reports_an_upload_line_by_line(client, workspace, lexicon_only):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _login(client, workspace, "analyst")
    upload = SimpleUploadedFile("l.csv", b"text,label\nGreat,positive\nBad,worse\n", "text/csv")
    page = client.post(reverse("text-teach"), {"op": "upload", "file": upload})
    assert page.status_code == 422
    body = page.content.decode()
    assert "1 labelled texts saved" in body and "line 3: label &#x27;worse&#x27;" in body
    assert "1 labelled: 0 negative, 0 neutral, 1 positive" in " ".join(
        client.get(reverse("text-teach"))
        .content.decode()
        .replace("<strong>", "")
        .replace("</strong>", "")
        .split()
    )
    missing = client.post(reverse("text-teach"), {"op": "upload"})
    assert "file: choose a CSV file" in missing.content.decode()


# ------------------------------------------------------------------ API


def test_api_labels_a_text_imports_labels_and_trains(client, workspace, lexicon_only):
    from django.core.files.uploadedfile import SimpleUploadedFile

    analysis, _copy = _comments(
        workspace, ["Thanks a lot for losing my bag.", "Thanks a lot for  losing my bag."]
    )
    _login(client, workspace, "analyst")
    url = f"/api/text/{analysis.pk}/label"
    bad = client.put(url, {"label": "awful"}, content_type="application/json")
    assert bad.status_code == 422 and "label" in bad.content.decode()
    done = client.put(url, {"label": "negative"}, content_type="application/json").json()
    assert done == {
        "id": analysis.pk, "label": "negative", "score": -0.05,
        "labelled_by_person": True, "changed": 2,
    }  # fmt: skip
    cleared = client.put(url, {"label": None}, content_type="application/json").json()
    assert cleared["label"] == "positive" and not cleared["labelled_by_person"]
    assert cleared["changed"] == 2
    assert client.put("/api/text/99999999/label", {"label": "neutral"},
                      content_type="application/json").status_code == 404  # fmt: skip
    upload = SimpleUploadedFile("l.csv", b"words,label\nGreat,positive\n", "text/csv")
    refused = client.post("/api/text/labels/import", {"file": upload})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "file: the header has no column 'text' (it has 'words', 'label')"
    )
    upload = SimpleUploadedFile("l.csv", b"words,label\nGreat,positive\nBad,x\n", "text/csv")
    report = client.post("/api/text/labels/import", {"file": upload, "text_column": "Words"})
    assert report.json() == {
        "saved": 1, "unchanged": 0, "relabelled": 0,
        "errors": ["line 3: label 'x' is not negative, neutral or positive (or neg, neu, pos; -1, 0, 1)"],
    }  # fmt: skip
    status = client.get("/api/text/teaching").json()
    assert status["labels"] == 1 and status["counts"]["positive"] == 1
    assert not status["enough"] and status["latest"] is None and status["in_use"] is None
    refused = client.post("/api/text/teaching/train")
    assert refused.status_code == 422
    assert refused.json()["detail"] == "1 labelled texts: at least 60 are needed to learn from"
    _enough(workspace)
    queued = client.post("/api/text/teaching/train")
    assert queued.status_code == 202 and queued.json()["state"] == "queued"


@pytest.mark.parametrize(
    "data",
    [
        b"text,label\n\x00hi\x00,positive\n",
        b"text,label\n" + b"x" * 200_000 + b",positive\n",
        b'text,label\n"unclosed,positive\n',
        b"\xef\xbb\xbftext,label\n" + "\U0001f600\u202e,1\n".encode() * 3,
        b"text,label\n" + b"a,1,extra,fields\n",
        b"text,label,text\nx,1,y\n",
        b"\n\n\n",
    ],
)
def test_hostile_uploads_never_fail_the_server(client, workspace, data, lexicon_only):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _login(client, workspace, "analyst")
    page = client.post(
        reverse("text-teach"), {"op": "upload", "file": SimpleUploadedFile("h.csv", data)}
    )
    assert page.status_code in (302, 422)
    api = client.post("/api/text/labels/import", {"file": SimpleUploadedFile("h.csv", data)})
    assert api.status_code in (200, 422)


def test_labels_are_applied_as_a_batch_is_stored(workspace, lexicon_only):
    # given: a label of a text (labels are read inside the transaction that stores a batch,
    # not when it is scored, so one given or cleared meanwhile counts)
    _labels(workspace, [("Thanks a lot for losing my bag.", "negative")])
    # when
    (analysis,) = _comments(workspace, ["Thanks a lot for losing my bag."])
    # then: the person's label, applied inside the write
    assert analysis.label == "negative"


@pytest.mark.django_db(transaction=True)
def test_a_label_saved_while_a_batch_is_stored_reaches_the_batchs_rows(
    workspace, lexicon_only, monkeypatch
):
    # given: an analysed text, and a second copy of it being stored by a batch that is held
    # right after it read people's labels (none yet), before it commits
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writing transaction at a time anyway")
    words = "Lovely staff and a great flight."
    (first,) = _comments(workspace, [words])
    assert first.label == "positive"
    survey = survey_make(workspace)
    second = response_make(workspace, survey, AT, comment=words)
    batch_read, label_done = threading.Event(), threading.Event()
    read_labels = services.people_reapply

    def read_then_hold(**kwargs):
        changed = read_labels(**kwargs)
        batch_read.set()
        label_done.wait(timeout=1.5)  # the label waits for this commit, or it would finish
        return changed

    monkeypatch.setattr(services, "people_reapply", read_then_hold)

    def label_it():
        try:
            batch_read.wait(timeout=10)
            services.sentiment_label_set(analysis=first, label="negative")
            label_done.set()
        finally:
            connection.close()

    def store():
        try:
            services.text_analyse_responses(responses=[second])
        finally:
            connection.close()

    # when a person labels the first copy negative meanwhile
    with ThreadPoolExecutor(2) as pool:
        for job in [pool.submit(store), pool.submit(label_it)]:
            job.result(timeout=30)

    # then: the batch's copy carries the label too
    assert TextAnalysis.objects.get(response=second).label == "negative"


# ------------------------------------------------------------------ what to label next


def test_texts_are_taken_in_turn_from_each_label_in_key_order():
    labels = ["positive", "negative", "positive", "neutral", "negative", "positive", "negative"]
    keys = [0.9, 0.2, 0.1, 0.0, 0.6, 0.3, 0.05]
    # by hand: negative by key 6 (0.05), 1 (0.2), 4 (0.6); neutral 3; positive 2, 5, 0
    assert tuning.in_turn(labels, keys, 9) == [6, 3, 2, 1, 5, 4, 0]
    assert tuning.in_turn(labels, keys, 4) == [6, 3, 2, 1]
    assert tuning.in_turn(labels, ["b", "a", "c", "z", "b", "a", "c"], 3) == [1, 3, 5]
    assert tuning.in_turn([], [], 5) == []


def _stored(workspace, text, label, score, when=AT):
    return TextAnalysis.objects.create(
        workspace=workspace, source="import", written_at=when, text=text, label=label,
        score=score, version="t", digest=scoring.embeddings.digest(text),
    )  # fmt: skip


def test_suggestions_skip_labelled_texts_and_copies(workspace, other_workspace, monkeypatch):
    # given: a copy of a text, a labelled text, and another workspace's unsure text
    sure_no = _stored(workspace, "Awful.", "negative", -0.9)
    unsure_no = _stored(workspace, "Not great.", "negative", -0.3)
    _stored(workspace, "Not great.", "negative", -0.3, when=AT.replace(day=2))  # a copy
    labelled = _stored(workspace, "Meh.", "negative", -0.06)
    neutral = _stored(workspace, "It came.", "neutral", 0.0)
    unsure_yes = _stored(workspace, "Fine I guess.", "positive", 0.2)
    _stored(other_workspace, "Hmm.", "negative", -0.05)
    services.sentiment_label_set(analysis=labelled, label="neutral")
    # when the workspace's own model is in use
    monkeypatch.setattr("cxloop.text._teaching_reads.usable_model", lambda row: object())
    found = selectors.texts_to_label(workspace=workspace, limit=5)
    # then: in turn from each label, the least sure first; one of the copies; no labelled text
    assert [(a.text, a.label) for a in found] == [
        (unsure_no.text, "negative"), (neutral.text, "neutral"), (unsure_yes.text, "positive"),
        (sure_no.text, "negative"),
    ]  # fmt: skip
    # before it, the negatives in the order of their digests
    monkeypatch.setattr("cxloop.text._teaching_reads.usable_model", lambda row: None)
    found = selectors.texts_to_label(workspace=workspace, limit=5)
    negatives = sorted([sure_no, unsure_no], key=lambda a: a.digest)
    assert [a.text for a in found] == [
        negatives[0].text, neutral.text, unsure_yes.text, negatives[1].text,
    ]  # fmt: skip


def test_labelling_a_suggestion_returns_to_the_teach_page(client, workspace):
    unsure = _stored(workspace, "Not great.", "negative", -0.3)
    _login(client, workspace, "analyst")
    page = client.get(reverse("text-teach")).content.decode()
    assert "Label these next" in page and "Not great." in page
    # when
    done = client.post(
        reverse("text-detail", args=[unsure.pk]), {"label": "neutral", "next": "teach"}
    )
    # then: labelled, back on the Teach page, and no longer suggested
    assert done.status_code == 302 and done.url == reverse("text-teach") + "#suggested"
    unsure.refresh_from_db()
    assert unsure.label == "neutral"
    assert "Label these next" not in client.get(reverse("text-teach")).content.decode()
    bad = client.post(
        reverse("text-detail", args=[unsure.pk]), {"label": "neutral", "next": "//evil"}
    )
    assert bad.status_code == 422
    # clearing a text with no label says so
    other = _stored(workspace, "Fine I guess.", "positive", 0.2)
    cleared = client.post(reverse("text-detail", args=[other.pk]), {"label": "clear"}, follow=True)
    assert "This text had no label" in cleared.content.decode()
