"""URL routes of the customer privacy actions (views in cxloop.web.views.privacy)."""

from django.urls import path

from cxloop.web.views import privacy as views

urlpatterns: list = [
    path("customers/<int:customer_id>/export/", views.customer_export, name="customer-export"),
    path("customers/<int:customer_id>/erase/", views.customer_erase, name="customer-erase"),
    path("merges/<int:merge_id>/unmerge/", views.merge_unmerge, name="merge-unmerge"),
]
