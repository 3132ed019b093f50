"""The participant list for incremental sync (contract §5.2): pages, and cursor walks that cannot skip a row."""

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, replace

from django.db import connection
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions

from participants.models import (
    OperationalStatus,
    Participant,
    Role,
)

from .. import schemas
from ..representations import (
    fresh_until,
    participant_document,
)
from .base import RegistryView

MAX_PAGE_SIZE = 200
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class SyncCursor:
    """Where a walk of the participant list stands: just after the row (updated_at, id) — or at its start
    — with the walk's filters. Opaque to participants (base64url of JSON). A walk keyed on (updated_at, id)
    sees every row changed after it started, however the rows change meanwhile, where page numbers skip."""

    after: tuple[dt.datetime, uuid.UUID] | None
    role: str | None
    status: str | None
    since: dt.datetime | None
    page: int

    def encode(self) -> str:
        after = [self.after[0].isoformat(), str(self.after[1])] if self.after else None
        document = {
            "after": after,
            "role": self.role,
            "status": self.status,
            "since": self.since.isoformat() if self.since else None,
            "page": self.page,
        }
        return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str) -> "SyncCursor":
        try:
            document = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            after, since, page = document["after"], document["since"], document["page"]
            cursor = cls(
                after=(_aware(after[0]), uuid.UUID(after[1])) if after is not None else None,
                role=document["role"],
                status=document["status"],
                since=_aware(since) if since else None,
                page=page,
            )
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError):
            cursor = None
        if (
            cursor is None
            or type(cursor.page) is not int
            or not 0 <= cursor.page <= MAX_PAGE
            or cursor.role not in (None, *Role.values)
            or cursor.status not in (None, *OperationalStatus.values)
        ):
            raise exceptions.ValidationError({"cursor": "is not a cursor this registry issued (use nextCursor as is)."})
        return cursor

    def matching(self, queryset):
        """The walk's rows: those of its role, status and updatedSince."""
        if self.role:
            queryset = queryset.filter(role=self.role)
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.since:
            queryset = queryset.filter(updated_at__gte=self.since)
        return queryset

    def window(self, queryset, size: int, *, by_page: bool):
        """The next `size` rows and one more (to tell whether more follow): by page number when
        `by_page`, else just after the walk's position (updated_at, id)."""
        if by_page:
            return queryset[self.page * size : (self.page + 1) * size + 1]
        if self.after is None:
            return queryset[: size + 1]
        moment, pk = self.after
        return queryset.filter(Q(updated_at__gt=moment) | Q(updated_at=moment, id__gt=pk))[: size + 1]


def _aware(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a cursor's times carry their zone")
    return moment


SETTLE = dt.timedelta(seconds=1)  # clock skew between the application servers and the database


def settled_before() -> dt.datetime | None:
    """The latest updatedOn a walk may pass, or None when it may pass any. A change is stamped when it is
    made but visible only once it commits, so while another transaction is open a walk stops short of
    its start (less a second for clock skew): that transaction may still commit an earlier stamp. With
    none open, every stamp there is, is visible. The SQLite quickstart (one writer at a time) has none."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        (oldest,) = cursor.fetchone()
    return oldest - SETTLE if oldest else None


def settled(positions: list, size: int, *, walking: bool) -> tuple[list, bool]:
    """Of a window's positions, the page a walk may pass (see settled_before), and whether more follow."""
    horizon = settled_before() if positions and walking else None
    passable = [p for p in positions if horizon is None or p[0] < horizon]
    return passable[:size], len(positions) > size or len(passable) < len(positions)


class ParticipantListView(RegistryView):
    """Paged participant list for incremental sync, in stable (updatedOn, id) order; `nextCursor`
    continues a walk that cannot skip a row, `page` is kept for browsing."""

    @extend_schema(
        operation_id="ListParticipants",
        tags=["registry"],
        parameters=[
            OpenApiParameter("role", str, enum=Role.accepted_names(), description="Only this role (either spelling)."),
            OpenApiParameter("status", str, enum=OperationalStatus.values, description="Only this status."),
            OpenApiParameter(
                "updatedSince",
                {"type": "string", "format": "date-time"},
                description="RFC 3339 time: only records updated at or after it.",
            ),
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
                description="Zero-based page (default 0). Pages can skip a row that changes during a walk: "
                "to sync, follow nextCursor instead.",
            ),
            OpenApiParameter(
                "size",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                description=f"Page size, 1 to {MAX_PAGE_SIZE} (default 20).",
            ),
            OpenApiParameter(
                "cursor",
                str,
                description="The previous page's nextCursor: the next page of the same walk (it carries the "
                "walk's filters; send it alone, or with size).",
            ),
        ],
        responses={
            200: schemas.ParticipantPage,
            400: schemas.RegistryError,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request):
        params = request.query_params
        size = parse_int(params.get("size", "20"), "size", 1, MAX_PAGE_SIZE)
        cursor = self.cursor(params)
        walk = cursor or self.first_walk(params)
        queryset = walk.matching(Participant.objects.order_by("updated_at", "id"))
        # Counting and paging read the (updated_at, id) index alone; only the page's rows are fetched.
        total = queryset.count()
        window = walk.window(queryset, size, by_page=cursor is None)
        # A walk (a cursor, or a first page with no page number) never passes a change still committing.
        positions = list(window.values_list("updated_at", "id")) if total else []
        positions, more = settled(positions, size, walking=cursor is not None or "page" not in params)
        rows = Participant.objects.with_records().in_bulk([pk for _, pk in positions])
        after = positions[-1] if positions else walk.after
        next_cursor = replace(walk, after=after, page=min(walk.page + 1, MAX_PAGE)).encode() if more else None
        document = {
            "content": [participant_document(rows[pk]) for _, pk in positions],
            "number": walk.page,
            "size": size,
            "totalElements": total,
            "totalPages": (total + size - 1) // size,
            "nextCursor": next_cursor,
        }
        return self.respond(request, document, fresh_until([(p, list(p.keys.all())) for p in rows.values()]))

    @classmethod
    def first_walk(cls, params) -> SyncCursor:
        """A walk from its query parameters: role, status, updatedSince and page."""
        since = parse_instant(params["updatedSince"], "updatedSince") if "updatedSince" in params else None
        page = parse_int(params.get("page", "0"), "page", 0, MAX_PAGE)
        return SyncCursor(None, cls.role(params.get("role")), cls.status(params.get("status")), since, page)

    @staticmethod
    def cursor(params) -> SyncCursor | None:
        if "cursor" not in params:
            return None
        if set(params) - {"cursor", "size"}:
            raise exceptions.ValidationError(
                {"cursor": "carries its walk's filters and position: send it alone, or with size."}
            )
        return SyncCursor.decode(params["cursor"])

    @staticmethod
    def role(raw: str | None) -> str | None:
        if raw is None:
            return None
        try:
            return Role.parse(raw)
        except ValueError:
            raise exceptions.ValidationError({"role": f"Unknown role {raw!r}."}) from None

    @staticmethod
    def status(raw: str | None) -> str | None:
        if raw is not None and raw not in OperationalStatus.values:
            raise exceptions.ValidationError({"status": f"Unknown status {raw!r}."})
        return raw


def parse_int(raw: str, name: str, minimum: int, maximum: int) -> int:
    """A whole number written in ASCII digits (int() would also take "1_0", "+5" or full-width digits)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 40:
        raise exceptions.ValidationError({name: "must be a whole number."})
    value = int(raw)
    if not minimum <= value <= maximum:
        raise exceptions.ValidationError({name: f"must be between {minimum} and {maximum}."})
    return value


def parse_instant(raw: str, name: str) -> dt.datetime:
    try:
        moment = parse_datetime(raw.replace(" ", "+"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise exceptions.ValidationError({name: "must be an RFC 3339 date-time with a time zone."})
    return moment
