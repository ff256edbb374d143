"""Admin actions on the customer 360 page: subject-access export, erasure, unmerge.

Admins only (``manage_customers``); the services audit every action.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.customers import privacy
from cxloop.customers import selectors as customer_selectors
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.customers import ExportFormatForm
from cxloop.web.workspace import active_workspace, capability_required


class EraseForm(forms.Form):
    confirm = forms.CharField(
        label="Type the customer number to confirm", max_length=20, strip=True
    )

    def __init__(self, *args, customer_id: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.customer_id = customer_id

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].lstrip("#")
        if value != str(self.customer_id):
            raise forms.ValidationError(
                f"Type {self.customer_id} (this customer's number) to confirm the erasure."
            )
        return value


def _live_customer(request: HttpRequest, customer_id: int):
    customer = customer_selectors.customer_get(
        workspace=active_workspace(request), customer_id=customer_id
    )
    if customer is None or customer.merged_into_id:
        raise Http404("No such customer in this workspace.")
    return customer


@capability_required(Capability.MANAGE_CUSTOMERS)
def customer_export(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Download everything held about the customer: ``?format=json`` (default) or ``csv`` (zip)."""
    customer = _live_customer(request, customer_id)
    params = ExportFormatForm(request.GET)
    if not params.is_valid():
        return bad_params(request, params)
    as_csv = params.cleaned_data["format"] == "csv"
    data = privacy.customer_export(customer=customer, actor=request.user)
    if as_csv:
        response = HttpResponse(privacy.export_csv_zip(data), content_type="application/zip")
    else:
        response = HttpResponse(privacy.export_json(data), content_type="application/json")
    name = f"customer-{customer.pk}.{'zip' if as_csv else 'json'}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@capability_required(Capability.MANAGE_CUSTOMERS)
def customer_erase(request: HttpRequest, customer_id: int) -> HttpResponse:
    """A confirmation form; on POST the customer and everything about them is erased."""
    customer = _live_customer(request, customer_id)
    form = EraseForm(request.POST or None, customer_id=customer.pk)
    if request.method == "POST" and form.is_valid():
        counts = privacy.customer_erase(customer=customer, actor=request.user)
        messages.success(
            request,
            f"Customer #{customer_id} erased: {counts['profiles']} profile(s), "
            f"{counts.get('events', 0)} event(s); identifiers suppressed.",
        )
        return redirect("customer-list")
    return render(
        request,
        "web/customer_erase.html",
        {"customer": customer, "form": form},
        status=422 if form.is_bound else 200,
    )


@capability_required(Capability.MANAGE_CUSTOMERS)
@require_POST
def merge_unmerge(request: HttpRequest, merge_id: int) -> HttpResponse:
    """Split an absorbed profile back out of the one it was merged into."""
    merge = customer_selectors.customer_merge_get(
        workspace=active_workspace(request), merge_id=merge_id
    )
    if merge is None:
        raise Http404("No such merge in this workspace.")
    try:
        restored = privacy.customer_unmerge(merge=merge, actor=request.user)
    except privacy.UnmergeError as exc:
        messages.error(request, str(exc))
        return redirect("customer-detail", customer_id=merge.survivor_id)
    messages.success(request, f"Profile #{restored.pk} split back out of #{merge.survivor_id}.")
    return redirect("customer-detail", customer_id=restored.pk)
