"""The registry off the request path (issue 16): the change feed, GET /service/changes, and GET /service/snapshot,
every public record at one sequence number. Both answer what the lookups would answer the caller now."""

import gzip
import tempfile

from django.conf import settings
from django.db import connection, transaction
from django.http import FileResponse
from django.utils import timezone
from django.utils.http import parse_etags
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status

from participants.models import Change, Participant
from participants.wire import rfc3339

from .. import schemas, signing
from ..middleware import SIGNATURE_HEADER
from ..records import Records
from ..representations import encode
from .base import RegistryView
from .sync import parse_int

MAX_CHANGES = 500
SNAPSHOT_CHUNK = 2000


class FeedGone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"


class ChangesView(RegistryView):
    """The change feed: what changed after `after`, in order, each with its record as the lookups answer it
    now (or `record: null`: gone from the caller's view)."""

    @extend_schema(
        operation_id="ListChanges",
        tags=["sync"],
        parameters=[
            OpenApiParameter(
                "after",
                {"type": "integer", "minimum": 0},
                description="The last sequence number the reader has applied (0 to start; the previous answer's "
                "nextAfter, or a snapshot's sequence).",
            ),
            OpenApiParameter(
                "limit", {"type": "integer", "minimum": 1, "maximum": MAX_CHANGES}, description="At most this many."
            ),
        ],
        responses={
            200: schemas.ChangePage,
            400: schemas.RegistryError,
            410: OpenApiResponse(
                schemas.RegistryError,
                description="`after` is older than the feed keeps: take "
                "a snapshot (GET /service/snapshot) and follow the feed from its sequence.",
            ),
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request):
        after = parse_int(request.query_params.get("after", "0"), "after", 0, 2**63 - 1)
        limit = parse_int(request.query_params.get("limit", "100"), "limit", 1, MAX_CHANGES)
        horizon = Change.objects.retention_horizon()
        if after > Change.objects.newest():  # a reader ahead of the registry (restored from a backup?)
            raise FeedGone(
                f"after={after} is beyond the newest change this registry has: take a snapshot (GET "
                "/service/snapshot) and follow the feed from its seq."
            )
        if after < horizon:
            raise FeedGone(
                f"The feed keeps {settings.OCEN_CHANGE_RETENTION_DAYS} days of changes, from after {horizon}: take a "
                "snapshot (GET /service/snapshot) and follow the feed from its seq."
            )
        window = list(Change.objects.after(after).values_list("seq", "kind", "type", "object_id")[: limit + 1])
        page, more = window[:limit], len(window) > limit
        records = Records(request.auth.participant_id)
        found = {kind: records.of(kind, {pk for _, k, _, pk in page if k == kind}) for kind in {c[1] for c in page}}
        document = {
            "changes": [
                {"seq": seq, "kind": kind, "type": type_, "id": str(pk), "record": found[kind].get(pk)}
                for seq, kind, type_, pk in page
            ],
            "nextAfter": page[-1][0] if page else after,
            "hasMore": more,
        }
        response = self.respond(request, document)
        response["Cache-Control"] = "private, no-cache"  # the newest page grows: a reader asks again each time
        return response


class SnapshotView(RegistryView):
    """Every record the caller may see, at one sequence number of the feed (the ETag): follow the feed from
    it. Written to a temporary file (gzip-compressed when the caller accepts it) while its signature is
    computed over the JSON, then streamed."""

    @extend_schema(
        operation_id="GetSnapshot",
        tags=["sync"],
        responses={
            200: schemas.Snapshot,
            304: OpenApiResponse(description="Not modified: nothing changed since that sequence."),
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request):
        gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost and connection.vendor == "postgresql":  # every read below sees one moment of the registry
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            seq = Change.objects.newest()  # appends commit in order: every entry up to seq is in this moment
            etag = f'"{seq}"'
            if etag in [tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))]:
                return self.cacheable(request, b"", etag)  # 304
            signer = signing.DetachedSigner(request.auth.active_kid or None)
            spool = spooled(snapshot_pieces(seq, Records(request.auth.participant_id)), signer, gzipped)
        response = FileResponse(spool, content_type="application/json")
        response["ETag"] = f"W/{etag}" if gzipped else etag  # one document, another byte sequence (RFC 9110 8.8.3)
        response["Vary"] = "Accept-Encoding"
        if gzipped:
            response["Content-Encoding"] = "gzip"
        response["Cache-Control"] = "private, max-age=0"
        response[SIGNATURE_HEADER] = signer.signature()
        return response


def spooled(pieces, signer, gzipped: bool):
    """The pieces written to a temporary file (in memory up to 8 MB), gzip-compressed if asked, each also fed to
    `signer`: the signature is over the JSON, whatever its transfer coding. Returned rewound."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    out = gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=5, mtime=0) if gzipped else spool
    for piece in pieces:
        out.write(piece)
        signer.update(piece)
    if gzipped:
        out.close()  # writes the gzip trailer; the spool stays open
    spool.seek(0)
    return spool


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding names gzip (or *) with a q-value above zero."""
    for member in accept_encoding.split(","):
        coding, _, params = member.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower().removeprefix("q=") if params.strip().lower().startswith("q=") else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def snapshot_pieces(seq: int, records: Records):
    """The snapshot document, a chunk of records at a time: {"seq", "at", "participants", "products",
    "networks"} (each list as the feed's records)."""
    yield encode({"seq": seq, "at": rfc3339(timezone.now())})[:-1] + b","
    sections = (
        ("participants", Participant.objects.all(), records.participants),
        ("products", records.visible_products(), records.products),
        ("networks", records.visible_networks(), records.networks),
    )
    for index, (name, rows, render) in enumerate(sections):
        yield encode(name) + b":["
        ids = list(rows.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), SNAPSHOT_CHUNK):
            chunk = ids[start : start + SNAPSHOT_CHUNK]
            rendered = render(chunk)
            body = b",".join(encode(rendered[pk]) for pk in chunk if pk in rendered)
            yield (b"," if start else b"") + body
        yield b"]" + (b"," if index < len(sections) - 1 else b"}")
