"""The participant list's filters: by state, and by the expiry of active keys."""

import datetime as dt

from django.contrib import admin
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from ..models import NOT_OFFBOARDED, PARTICIPANT_STATES, KeyStatus, ParticipantKey
from .common import EXPIRY_NOTICE, EXPIRY_WARNING


class StateFilter(admin.SimpleListFilter):
    """By state, as the list's state column shows it (PARTICIPANT_STATES); current participants (not offboarded)
    by default, offboarded tombstones when asked for."""

    title = "state"
    parameter_name = "state"
    CURRENT = "current"

    def lookups(self, request, model_admin):
        states = [(state.value, state.label) for state in PARTICIPANT_STATES]
        return [(self.CURRENT, "Current (not offboarded)"), *states, ("all", "All")]

    def rule(self, lookup: str) -> Q | None:
        """The filter for a lookup: None for all, an impossible one for a lookup that is none of them."""
        if lookup == "all":
            return None
        if lookup == self.CURRENT:
            return NOT_OFFBOARDED
        return PARTICIPANT_STATES.get(lookup, Q(pk__in=[]))  # keyed by ParticipantState, a str: its value matches

    def choices(self, changelist):
        value = self.value() or self.CURRENT
        counts = self.get_facet_queryset(changelist) if changelist.add_facets else {}
        for i, (lookup, title) in enumerate(self.lookup_choices):
            count = f" ({counts[f'{i}__c']})" if f"{i}__c" in counts else ""
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": f"{title}{count}",
            }

    def get_facet_counts(self, pk_attname, filtered_qs):
        """ "Show counts": one pass over the list, a count per state."""
        return {
            f"{i}__c": Count(pk_attname, filter=rule) if (rule := self.rule(lookup)) is not None else Count(pk_attname)
            for i, (lookup, _) in enumerate(self.lookup_choices)
        }

    def queryset(self, request, queryset):
        rule = self.rule(self.value() or self.CURRENT)
        return queryset if rule is None else queryset.filter(rule)


class KeyExpiryFilter(admin.SimpleListFilter):
    """By the expiry of a participant's active keys: the ones to chase for a new key, soonest first."""

    title = "key expiry"
    parameter_name = "key_expiry"
    WINDOWS = {"30": EXPIRY_WARNING, "90": EXPIRY_NOTICE}

    def lookups(self, request, model_admin):
        return [("30", "Expiring within 30 days"), ("90", "Expiring within 90 days"), ("expired", "Already expired")]

    def rule(self, lookup: str, now) -> Q:
        if lookup == "expired":
            keys = ParticipantKey.objects.filter(status=KeyStatus.ACTIVE, valid_until__lte=now)
        else:
            keys = ParticipantKey.objects.expiring_between(now, now + self.WINDOWS.get(lookup, dt.timedelta(0)))
        return Q(Exists(keys.filter(participant=OuterRef("pk"))))

    def get_facet_counts(self, pk_attname, filtered_qs):
        now = timezone.now()
        return {
            f"{i}__c": Count(pk_attname, filter=self.rule(lookup, now))
            for i, (lookup, _) in enumerate(self.lookup_choices)
        }

    def queryset(self, request, queryset):
        return queryset.filter(self.rule(self.value(), timezone.now())) if self.value() else queryset
