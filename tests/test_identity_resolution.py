"""Identity resolution and merges, through the real ingestion service and database."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

from cxloop.customers.models import Consent, Customer, CustomerMerge, Identity
from cxloop.customers.resolution import ProfileUpdate, resolve
from cxloop.events.models import Event
from cxloop.events.services import events_ingest

T0 = "2026-03-01T09:00:00Z"


_ids = count()


def _ingest(workspace, *messages):
    numbered = [{"messageId": f"m-{next(_ids)}", "timestamp": T0, **m} for m in messages]
    return events_ingest(workspace=workspace, messages=numbered)


def _live(workspace):
    return Customer.objects.filter(workspace=workspace, merged_into__isnull=True)


def _owner(workspace, kind, value) -> int:
    return Identity.objects.get(workspace=workspace, kind=kind, value=value).customer_id


def test_anonymous_visitor_who_signs_up_keeps_their_history(workspace):
    _ingest(workspace, {"type": "page", "anonymousId": "a-1", "name": "Home"})
    _ingest(workspace, {"type": "track", "anonymousId": "a-1", "event": "Product Viewed"})

    _ingest(
        workspace,
        {"type": "identify", "anonymousId": "a-1", "userId": "u-1", "traits": {"email": "J@x.io"}},
    )

    assert _live(workspace).count() == 1
    customer = _live(workspace).get()
    assert Event.objects.filter(customer=customer).count() == 3
    assert set(customer.identities.values_list("kind", "value")) == {
        ("anonymous_id", "a-1"),
        ("user_id", "u-1"),
        ("email", "j@x.io"),
    }
    assert customer.display_name == "j@x.io"


def test_email_in_one_channel_and_phone_in_another_merge_when_linked(workspace):
    _ingest(workspace, {"type": "identify", "anonymousId": "nl-1", "traits": {"email": "a@b.co"}})
    _ingest(
        workspace,
        {
            "type": "track",
            "anonymousId": "pos-1",
            "event": "Order Completed",
            "properties": {"channel": "store"},
            "context": {"traits": {"phone": "+44 7700 900123"}},
        },
    )
    email_profile = _owner(workspace, "email", "a@b.co")
    phone_profile = _owner(workspace, "phone", "+447700900123")
    assert email_profile != phone_profile

    _ingest(
        workspace,
        {
            "type": "identify",
            "userId": "u-9",
            "traits": {"email": "a@b.co", "phone": "+447700900123", "name": "Ann Bell"},
        },
    )

    survivor = min(email_profile, phone_profile)
    absorbed = max(email_profile, phone_profile)
    assert _live(workspace).count() == 1
    assert Customer.objects.get(pk=absorbed).merged_into_id == survivor
    assert Event.objects.filter(workspace=workspace).exclude(customer_id=survivor).count() == 0
    merge = CustomerMerge.objects.get(workspace=workspace)
    assert (merge.survivor_id, merge.merged_id) == (survivor, absorbed)
    assert "email a@b.co" in merge.reason or "phone +447700900123" in merge.reason
    assert merge.rows_moved >= 2  # the absorbed profile's event and identities
    assert Customer.objects.get(pk=survivor).display_name == "Ann Bell"


def test_shared_email_never_fuses_two_different_user_ids(workspace):
    _ingest(workspace, {"type": "identify", "userId": "mum", "traits": {"email": "home@fam.ly"}})

    _ingest(workspace, {"type": "identify", "userId": "son", "traits": {"email": "home@fam.ly"}})

    mum, son = _owner(workspace, "user_id", "mum"), _owner(workspace, "user_id", "son")
    assert mum != son
    assert _owner(workspace, "email", "home@fam.ly") == mum
    assert not CustomerMerge.objects.exists()


def test_alias_joins_two_user_ids_explicitly(workspace):
    _ingest(workspace, {"type": "track", "userId": "old-id", "event": "Login"})
    _ingest(workspace, {"type": "track", "userId": "new-id", "event": "Login"})

    _ingest(workspace, {"type": "alias", "userId": "new-id", "previousId": "old-id"})

    assert _owner(workspace, "user_id", "old-id") == _owner(workspace, "user_id", "new-id")
    assert _live(workspace).count() == 1
    assert CustomerMerge.objects.get().reason == "alias call: user_id new-id is also user_id old-id"


def test_alias_of_unseen_anonymous_id_records_it(workspace):
    _ingest(workspace, {"type": "alias", "userId": "u-5", "previousId": "anon-77"})

    assert _owner(workspace, "anonymous_id", "anon-77") == _owner(workspace, "user_id", "u-5")


def test_chain_inside_one_batch_resolves_to_one_profile(workspace):
    messages = [{"type": "page", "anonymousId": f"a{i}", "name": "P"} for i in range(50)]
    # each identify links two neighbouring anonymous ids through one email per pair
    messages += [
        {"type": "identify", "anonymousId": f"a{i}", "traits": {"email": f"p{i // 2}@x.io"}}
        for i in range(50)
    ]
    messages += [
        {"type": "identify", "anonymousId": f"a{i}", "traits": {"email": f"p{(i + 1) // 2}@x.io"}}
        for i in range(1, 50, 2)
    ]

    result = _ingest(workspace, *messages)

    assert result.accepted == len(messages)
    assert _live(workspace).count() == 1


def test_merge_keeps_newest_consent_per_channel(workspace):
    def consent(granted):
        return {"consent": {"categoryPreferences": {"email": granted}}}

    _ingest(
        workspace,
        {
            "type": "identify",
            "anonymousId": "x",
            "traits": {"email": "c@d.io"},
            "context": consent(True),
        },
    )
    later = {
        "type": "identify",
        "anonymousId": "y",
        "traits": {"phone": "+14155550100"},
        "context": consent(False),
        "timestamp": "2026-04-01T00:00:00Z",
    }
    events_ingest(workspace=workspace, messages=[{**later, "messageId": "later"}])

    _ingest(
        workspace,
        {"type": "identify", "userId": "z", "traits": {"email": "c@d.io", "phone": "+14155550100"}},
    )

    survivor = _live(workspace).get()
    consent_row = Consent.objects.get(customer=survivor)
    assert (consent_row.channel, consent_row.status) == ("email", "withdrawn")


def test_seen_times_and_traits_follow_event_time_not_arrival(workspace):
    late = {"type": "identify", "userId": "u", "traits": {"tier": "gold"}, "messageId": "n1",
            "timestamp": "2026-05-01T00:00:00Z"}  # fmt: skip
    early = {"type": "identify", "userId": "u", "traits": {"tier": "bronze"}, "messageId": "n2",
             "timestamp": "2026-01-01T00:00:00Z"}  # fmt: skip

    events_ingest(workspace=workspace, messages=[late, early])

    customer = _live(workspace).get()
    assert customer.traits["tier"] == "gold"
    assert customer.first_seen_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert customer.last_seen_at == datetime(2026, 5, 1, tzinfo=UTC)


def test_workspaces_never_share_profiles(workspace, other_workspace):
    _ingest(workspace, {"type": "identify", "userId": "u1", "traits": {"email": "same@x.io"}})
    _ingest(other_workspace, {"type": "identify", "userId": "u2", "traits": {"email": "same@x.io"}})

    assert _live(workspace).count() == 1
    assert _live(other_workspace).count() == 1
    assert _owner(workspace, "email", "same@x.io") != _owner(other_workspace, "email", "same@x.io")
    assert not CustomerMerge.objects.exists()


def test_resolve_is_linear_union_find_without_database():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    n = 20000
    updates = [
        ProfileUpdate(keys=(("email", f"e{i}"), ("anonymous_id", f"a{i}")), at=at) for i in range(n)
    ]
    updates += [ProfileUpdate(keys=(("anonymous_id", f"a{i}"), ("anonymous_id", f"a{i + 1}")), at=at) for i in range(n - 1)]  # fmt: skip

    result = resolve(updates, existing={}, user_ids_of_customer={}, alias_keys=[()] * len(updates))

    assert len(set(result.component_of_update)) == 1


def test_alias_in_the_same_batch_as_the_identify_of_its_previous_id(workspace):
    _ingest(
        workspace,
        {"type": "identify", "userId": "u1", "traits": {"email": "a@x.io"}},
        {"type": "alias", "userId": "u2", "previousId": "u1"},
    )

    assert _live(workspace).count() == 1
    assert _owner(workspace, "user_id", "u1") == _owner(workspace, "user_id", "u2")
    assert not Identity.objects.filter(kind="anonymous_id", value="u1").exists()
