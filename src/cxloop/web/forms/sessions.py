"""The session settings form (``core.services.workspace_sessions_set`` validates again)."""

from __future__ import annotations

from django import forms

from cxloop.core.services import MAX_SESSION_MINUTES, SESSION_PROPERTY
from cxloop.web.forms import WholeNumberField


class SessionSettingsForm(forms.Form):
    timeout_minutes = WholeNumberField(1, MAX_SESSION_MINUTES, required=True)
    session_property = forms.RegexField(
        regex=SESSION_PROPERTY,
        max_length=100,
        required=False,
        error_messages={"invalid": "letters, digits, _ and $, with dots for nested properties"},
    )

    labels = {"timeout_minutes": "inactivity timeout", "session_property": "session id property"}
