"""File fields on workflow steps and intake forms: kept in the workflow_files storage (the
test's own folder), refused at the field when empty, too big or not what they claim, recorded
in the run's history, and sent only to members who may read the run, as attachments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cxloop.workflows import services
from cxloop.workflows._files import safe_name
from cxloop.workflows._runs import run_facts
from cxloop.workflows.models import HistoryEntry, WorkflowRun
from factories import member_make

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
STEPS = [
    {"key": "collect", "title": "Collect the receipt",
     "fields": [{"key": "note", "label": "Note", "type": "text", "required": True},
                {"key": "receipt", "label": "Receipt", "type": "file", "required": True}]},
    {"key": "close", "title": "Close"},
]  # fmt: skip


@pytest.fixture
def template(workspace):
    return services.template_create(
        workspace=workspace, name="Refund", steps=STEPS, intake_public=True,
        intake_fields=[{"key": "issue", "label": "What went wrong?", "type": "text",
                        "required": True},
                       {"key": "photo", "label": "A photo", "type": "file"}],
    )  # fmt: skip


@pytest.fixture
def run(template):
    return services.run_start(template=template, at=T0)


@pytest.fixture
def agent(client, workspace):
    user = member_make(workspace=workspace, username="al", role="agent")
    client.force_login(user)
    return user


def _upload(name: str, content: bytes, kind: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, kind)


def test_a_file_answer_is_kept_recorded_and_downloaded_as_an_attachment(
    client, agent, run, workflow_files_in_tmp
):
    posted = client.post(
        f"/workflows/runs/{run.pk}/", {"note": "paid", "receipt": _upload("receipt.pdf", PDF)}
    )

    assert posted.status_code == 302
    step = run.steps.get(key="collect")
    record = step.answers["receipt"]
    assert (record["name"], record["size"], record["type"]) == (
        "receipt.pdf",
        50,
        "application/pdf",
    )
    assert (workflow_files_in_tmp / record["file"]).read_bytes() == PDF
    uploaded = HistoryEntry.objects.get(run=run, action="file_uploaded")
    assert uploaded.detail == {"field": "receipt", "name": "receipt.pdf", "size": 50}
    assert uploaded.actor_label == "al" and uploaded.step == step
    page = client.get(f"/workflows/runs/{run.pk}/")
    url = f"/workflows/runs/{run.pk}/steps/{step.pk}/files/receipt/"
    assert url.encode() in page.content
    assert b"file uploaded" in page.content and b"receipt.pdf (50\xc2\xa0bytes)" in page.content

    download = client.get(url)

    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Disposition"] == 'attachment; filename="receipt.pdf"'
    assert download["Content-Type"] == "application/octet-stream"
    assert download["X-Content-Type-Options"] == "nosniff"


def test_a_file_over_the_limit_is_refused_at_its_field_keeping_the_other_answers(
    client, agent, run, settings, workflow_files_in_tmp
):
    settings.WORKFLOW_FILE_MAX_BYTES = 49  # the PDF is 50 bytes

    posted = client.post(
        f"/workflows/runs/{run.pk}/", {"note": "paid", "receipt": _upload("receipt.pdf", PDF)}
    )

    assert posted.status_code == 422
    assert posted.context["work"][0]["errors"] == ["Receipt: The file is 0.0 MB; at most 0.0 MB."]
    assert b'id="id_receipt-error"' in posted.content
    assert b'id="id_note">\npaid</textarea>' in posted.content
    assert run.steps.get(key="collect").status == "open"
    assert not workflow_files_in_tmp.exists() or not any(workflow_files_in_tmp.rglob("*.pdf"))


def test_the_size_limit_is_written_in_megabytes(run, settings):
    settings.WORKFLOW_FILE_MAX_BYTES = 10 * 1024 * 1024
    big = _upload("scan.pdf", b"%PDF-" + b"0" * (12 * 1024 * 1024))

    with pytest.raises(services.RunError) as caught:
        services.step_complete(step=run.steps.get(key="collect"), answers={"note": "x"},
                               files={"receipt": big})  # fmt: skip

    assert caught.value.errors == ["Receipt: The file is 12.0 MB; at most 10.0 MB."]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("tool.exe", b"MZ\x90\x00", "Receipt: .exe files are not accepted here (accepted: pdf, "
         "png, jpg, jpeg, gif, webp, txt, csv, docx, xlsx, pptx, odt, ods)."),
        ("page.html", b"<html><script>alert(1)</script>", "Receipt: .html files are not accepted "
         "here (accepted: pdf, png, jpg, jpeg, gif, webp, txt, csv, docx, xlsx, pptx, odt, ods)."),
        ("receipt", PDF, "Receipt: A file without an extension is not accepted here (accepted: "
         "pdf, png, jpg, jpeg, gif, webp, txt, csv, docx, xlsx, pptx, odt, ods)."),
        ("receipt.pdf", PNG, "Receipt: The content is not a PDF, as the name .pdf says."),
        ("photo.png", b"<svg onload=alert(1)>", "Receipt: The content is not a PNG image, as the "
         "name .png says."),
        ("notes.txt", b"\x00\x01binary", "Receipt: The content is not a text file, as the name "
         ".txt says."),
        ("empty.pdf", b"", "Receipt: The file is empty."),
    ],
)  # fmt: skip
def test_a_wrong_kind_or_an_empty_file_is_refused_naming_the_field(run, name, content, error):
    with pytest.raises(services.RunError) as caught:
        services.step_complete(step=run.steps.get(key="collect"), answers={"note": "x"},
                               files={"receipt": _upload(name, content)})  # fmt: skip

    assert caught.value.errors == [error]


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("<script>alert(1)</script>.pdf", "script.pdf"),
        ("\u202egnp.exe", "gnp.exe"),  # a right-to-left override would show it as exe.png
        ("a\x00b\r\n.pdf", "ab.pdf"),
        (".htaccess", "htaccess"),
        ("...", "file"),
        ("report..pdf", "report.pdf"),
        ('a "quoted"; name.pdf', "a__quoted___name.pdf"),
        ("résumé.pdf", "résumé.pdf"),
        ("ﬁle.pdf", "file.pdf"),  # NFKC: the ligature is two letters
        ("x" * 300 + ".pdf", "x" * 96 + ".pdf"),
    ],
)
def test_hostile_file_names_are_cleaned(raw, cleaned):
    assert safe_name(raw) == cleaned


def test_a_hostile_name_is_stored_and_sent_cleaned(client, agent, run, workflow_files_in_tmp):
    client.post(f"/workflows/runs/{run.pk}/", {
        "note": "x", "receipt": _upload('../../"evil"; x=1.pdf', PDF)})  # fmt: skip

    step = run.steps.get(key="collect")
    record = step.answers["receipt"]
    assert record["name"] == "evil___x_1.pdf"
    assert (workflow_files_in_tmp / record["file"]).resolve().is_relative_to(workflow_files_in_tmp)
    download = client.get(f"/workflows/runs/{run.pk}/steps/{step.pk}/files/receipt/")
    assert download["Content-Disposition"] == 'attachment; filename="evil___x_1.pdf"'


def test_a_role_without_access_to_runs_gets_no_file(client, workspace, run):
    services.step_complete(step=run.steps.get(key="collect"), answers={"note": "x"},
                           files={"receipt": _upload("r.pdf", PDF)})  # fmt: skip
    step = run.steps.get(key="collect")
    url = f"/workflows/runs/{run.pk}/steps/{step.pk}/files/receipt/"
    client.force_login(member_make(workspace=workspace, username="vi", role="viewer"))

    assert client.get(url).status_code == 403


def test_a_member_of_another_workspace_gets_no_file(client, other_workspace, run):
    services.step_complete(step=run.steps.get(key="collect"), answers={"note": "x"},
                           files={"receipt": _upload("r.pdf", PDF)})  # fmt: skip
    step = run.steps.get(key="collect")
    client.force_login(member_make(workspace=other_workspace, username="ot", role="admin"))

    assert client.get(f"/workflows/runs/{run.pk}/steps/{step.pk}/files/receipt/").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, run):
    response = client.get(f"/workflows/runs/{run.pk}/files/photo/")

    assert response.status_code == 302 and "/login" in response["Location"]


def test_a_field_that_is_not_a_file_is_not_sent(client, agent, run):
    services.step_complete(step=run.steps.get(key="collect"), answers={"note": "x"},
                           files={"receipt": _upload("r.pdf", PDF)})  # fmt: skip
    step = run.steps.get(key="collect")

    assert client.get(f"/workflows/runs/{run.pk}/steps/{step.pk}/files/note/").status_code == 404
    assert client.get(f"/workflows/runs/{run.pk}/files/receipt/").status_code == 404


def test_the_public_intake_form_takes_a_file(client, agent, template, workflow_files_in_tmp):
    client.logout()
    posted = client.post(f"/w/{template.intake_token}/", {
        "email": "dan@example.com", "issue": "Broken", "photo": _upload("IMG 1.png", PNG)})  # fmt: skip

    assert posted.status_code == 200
    run = WorkflowRun.objects.get()
    record = run.intake["photo"]
    assert (record["name"], record["size"], record["type"]) == ("IMG_1.png", 48, "image/png")
    assert run.intake["issue"] == "Broken"
    uploaded = HistoryEntry.objects.get(run=run, action="file_uploaded")
    assert uploaded.detail == {"field": "photo", "name": "IMG_1.png", "size": 48}
    assert uploaded.actor_label == "intake form" and uploaded.step is None
    client.force_login(agent)
    download = client.get(f"/workflows/runs/{run.pk}/files/photo/")
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Disposition"] == 'attachment; filename="IMG_1.png"'


def test_a_bad_intake_file_is_named_at_its_field_and_the_answers_stay(client, template):
    posted = client.post(f"/w/{template.intake_token}/", {
        "email": "dan@example.com", "issue": "Broken", "photo": _upload("x.png", PDF)})  # fmt: skip

    assert posted.status_code == 422
    assert posted.context["errors"] == [
        "A photo: The content is not a PNG image, as the name .png says."
    ]
    assert b'id="id_photo-error"' in posted.content and b"Choose the file again" in posted.content
    assert (
        b'value="dan@example.com"' in posted.content and b">\nBroken</textarea>" in posted.content
    )
    assert WorkflowRun.objects.count() == 0


def test_file_facts_are_their_names_in_emails_and_rules(run):
    services.step_complete(step=run.steps.get(key="collect"), answers={"note": "x"},
                           files={"receipt": _upload("r.pdf", PDF)})  # fmt: skip
    run.refresh_from_db()

    assert run_facts(run)["answer.receipt"] == "r.pdf"


def test_erasing_the_customer_deletes_the_files_of_their_runs(
    client, template, workflow_files_in_tmp, django_capture_on_commit_callbacks
):
    from cxloop.customers.privacy import customer_erase

    client.post(f"/w/{template.intake_token}/", {
        "email": "dan@example.com", "issue": "Broken", "photo": _upload("p.png", PNG)})  # fmt: skip
    run = WorkflowRun.objects.get()
    services.step_complete(step=run.steps.get(key="collect"), answers={"note": "x"},
                           files={"receipt": _upload("r.pdf", PDF)})  # fmt: skip
    assert len([p for p in workflow_files_in_tmp.rglob("*") if p.is_file()]) == 2

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(customer=run.customer, actor="test")

    assert [p for p in workflow_files_in_tmp.rglob("*") if p.is_file()] == []
