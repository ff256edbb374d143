"""Writes for feedback: surveys, responses, triggers and invitations, reviews.

The public interface other apps, the web pages, the API and the CLI import. The work is done in
private modules, one per seam: ``_surveys`` (surveys and their questions), ``_responses``
(answers, bulk imports, reviews) and ``_invitations`` (triggers, invitations, e-mail).
"""

from __future__ import annotations

from cxloop.feedback._editing import question_update, questions_reorder
from cxloop.feedback._invitations import (
    SendReport,
    feedback_cycle,
    invitation_create,
    invitation_link,
    invitations_send_due,
    trigger_create,
    trigger_set_active,
    triggers_scan,
)
from cxloop.feedback._responses import (
    RESPONDENT_CLAIM,
    NewResponse,
    SubmitResult,
    response_save,
    response_submit,
    response_submit_anonymous,
    responses_bulk_add,
    responses_delete,
    responses_export_record,
    review_add,
    review_inbox,
)
from cxloop.feedback._rollup import score_days_rebuild, score_days_refresh
from cxloop.feedback._surveys import (
    HISTORY_AFTER,
    PUBLIC_PATH,
    question_add,
    question_delete,
    question_move,
    survey_check_open,
    survey_create,
    survey_create_from_template,
    survey_delete,
    survey_update,
)
from cxloop.feedback.logic import (
    AnswerInvalid,
    FeedbackError,
    FieldError,
    SurveyInvalid,
    SurveyUnavailable,
)

__all__ = [
    "HISTORY_AFTER",
    "PUBLIC_PATH",
    "RESPONDENT_CLAIM",
    "AnswerInvalid",
    "FeedbackError",
    "FieldError",
    "NewResponse",
    "SendReport",
    "SubmitResult",
    "SurveyInvalid",
    "SurveyUnavailable",
    "feedback_cycle",
    "invitation_create",
    "invitation_link",
    "invitations_send_due",
    "question_add",
    "question_delete",
    "question_move",
    "question_update",
    "questions_reorder",
    "response_save",
    "response_submit",
    "response_submit_anonymous",
    "responses_bulk_add",
    "responses_delete",
    "responses_export_record",
    "review_add",
    "review_inbox",
    "score_days_rebuild",
    "score_days_refresh",
    "survey_check_open",
    "survey_create",
    "survey_create_from_template",
    "survey_delete",
    "survey_update",
    "trigger_create",
    "trigger_set_active",
    "triggers_scan",
]
