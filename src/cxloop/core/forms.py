"""Input for team and write-key changes (web pages and the REST API validate with these)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator

from cxloop.core.models import Role, WriteKeyKind


class MemberAddForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="An existing user's name, or a new one.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)
    email = forms.EmailField(required=False, help_text="New users only.")
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="New users only: the password they sign in with first.",
    )

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password", "")
        if password:
            validate_password(password)
        return password


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class WriteKeyForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “web shop”.")
    kind = forms.ChoiceField(
        choices=WriteKeyKind.choices,
        initial=WriteKeyKind.BROWSER,
        help_text="Browser keys ship in pages and apps (public); server keys stay secret.",
    )


def first_error(form: forms.Form) -> str:
    """The form's first problem as “field: message” (for API answers and page banners)."""
    for field, errors in form.errors.items():
        return f"{field}: {errors[0]}" if field != "__all__" else str(errors[0])
    return ""
