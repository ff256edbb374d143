"""Validation of workspace, team and write-key input, shared by the ``cxloop`` command, the web
pages and the REST API.

Each form checks everything before anything is written, so a command either does all it was
asked or nothing, and reports every problem as ``field: message``.
"""

from __future__ import annotations

import re

import phonenumbers
from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from cxloop.core.models import Role, Workspace, WriteKey, WriteKeyKind

# A write key travels as the HTTP Basic user name: no colon, no spaces, printable ASCII.
WRITE_KEY_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{8,64}$")


class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)
    slug = forms.SlugField(max_length=64, required=False)
    phone_region = forms.CharField(max_length=2, required=False)
    write_key = forms.CharField(max_length=64, required=False, strip=True)

    def clean_phone_region(self) -> str:
        region = (self.cleaned_data.get("phone_region") or "US").upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(f"{region!r} is not a country code phone numbers know (e.g. US)")
        return region

    def clean_write_key(self) -> str:
        key = self.cleaned_data.get("write_key") or ""
        if not key:
            return ""
        if not WRITE_KEY_RE.match(key):
            raise ValidationError(
                "use 8 to 64 letters, digits or . _ ~ + / = - (it is sent as an HTTP user name)"
            )
        if WriteKey.objects.filter(key=key).exists():
            raise ValidationError("this write key is already in use")
        return key

    def clean(self):
        data = super().clean()
        if self.errors.get("slug") or "name" not in data:
            return data
        slug = data.get("slug") or slugify(data["name"])[:64]
        if not slug:
            self.add_error("slug", "the name gives no usable slug: give one with letters or digits")
        elif Workspace.objects.filter(slug=slug).exists():
            field = "slug" if data.get("slug") else "name"
            self.add_error(field, f"a workspace with slug {slug!r} already exists")
        data["slug"] = slug
        return data


class AdminCreateForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    password = forms.CharField(strip=False)
    email = forms.EmailField(required=False)

    def clean(self):
        data = super().clean()
        if "username" in data and "password" in data:
            user_model = get_user_model()
            probe = user_model(username=data["username"], email=data.get("email", ""))
            try:
                password_validation.validate_password(data["password"], user=probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


def form_errors(form: forms.Form) -> str:
    """All of a form's problems on one line: ``slug: ...; password: ...``."""
    parts = []
    for field, errors in form.errors.items():
        label = field.replace("_", "-") if field != "__all__" else "input"
        parts.append(f"{label}: {' '.join(str(e) for e in errors)}")
    return "; ".join(parts)


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
