"""RegistryMirror against a live registry over real HTTP: bootstrapped from the snapshot and following the feed, it
answers what the registry answers; it applies scheduled primary-key switches itself, checks every answer's
signature, resumes after a restart and takes the snapshot again when the feed no longer reaches back. A Verifier
built on it asks the registry nothing."""

import base64
import datetime as dt
import json
import random
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone

from ocen_sdk import (
    RegistryClient,
    RegistryError,
    RegistryKeys,
    RegistryMirror,
    TokenClient,
    VerificationError,
    Verifier,
    primary_kid,
    sign,
)
from participants import services
from participants.models import (
    Change,
    ChangeKind,
    KeyStatus,
    Participant,
    ParticipantKey,
    Product,
    ProductNetwork,
    primary_key,
)
from tests.keys import public_pem, rsa_key
from tests.ocen_sdk.conftest import onboard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Counting(requests.Session):
    """A session that writes down every request it sends, as "METHOD /path?query"."""

    def __init__(self, sent: list):
        super().__init__()
        self.sent = sent

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        self.sent.append(f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else ""))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def agent(registry, actor):
    """The mirror's caller, a loan agent: (credentials, kid)."""
    return onboard(actor, "Mirror Loan Agent", "LOAN_AGENT", "mirror-agent")


@pytest.fixture
def lender(registry, actor):
    return onboard(actor, "Mirror Lending Bank", "LENDER", "mirror-lender")


@pytest.fixture
def toolkit(registry):
    """make(credentials) → (a RegistryClient whose every HTTP session, tokens and registry keys included, writes
    its requests into `sent`, sent)."""
    made = []

    def make(credentials, *, keys_refresh_interval: float = 30):
        sent = []
        tokens = TokenClient(
            f"{registry['issuer']}/token",
            credentials.participant.client_id,
            credentials.client_secret,
            session=Counting(sent),
        )
        keys = RegistryKeys(registry["issuer"], session=Counting(sent), min_refresh_interval=keys_refresh_interval)
        made.append(RegistryClient(registry["service"], tokens, keys=keys, session=Counting(sent)))
        return made[-1], sent

    yield make
    for client in made:
        client.close()


@pytest.fixture
def mirror_of(tmp_path, toolkit):
    """make(credentials) → (a RegistryMirror of what that participant sees, in tmp_path/mirror.sqlite3, and the
    requests its toolkit sends). It follows only when told (poll_interval of an hour)."""
    mirrors = []

    def make(credentials, **toolkit_options):
        client, sent = toolkit(credentials, **toolkit_options)
        mirrors.append(RegistryMirror(tmp_path / "mirror.sqlite3", client, poll_interval=3600))
        return mirrors[-1], sent

    yield make
    for mirror in mirrors:
        mirror.close()


@pytest.fixture
def registry_answers(toolkit, agent):
    """answer(path) → what the registry itself answers the mirror's caller, its signature checked (None: 404)."""
    client, _sent = toolkit(agent[0])

    def answer(path: str):
        response = client.get(path)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return client.verified_json(response)

    return answer


def feed_requests(sent: list) -> list:
    return [request for request in sent if "/service/" in request]


def mirrored(lookup, record_id):
    """The mirror's answer, or None where it answers 404 (RegistryError with that status, as RegistryClient)."""
    try:
        return lookup(record_id)
    except RegistryError as exc:
        assert exc.status == 404, exc
        return None


def assert_the_mirror_answers_as_the_registry(mirror, answer) -> dict:
    """For every participant, product and network there is: the mirror answers what the registry answers the caller
    now, or 404 where it answers 404: a withdrawn product (and its networks) too, WITHDRAWN in both. Returns how
    many products were hidden from the caller (private, outside its reach)."""
    for pk in Participant.objects.values_list("pk", flat=True):
        assert mirror.participant(pk) == answer(f"participant-roles/{pk}")
        assert mirror.participant_keys(pk) == answer(f"participant-roles/{pk}/jwks")
    listed, hidden = {"products": 0, "networks": 0}, 0
    for pk in Product.objects.values_list("pk", flat=True):
        product = answer(f"products/{pk}")
        hidden += product is None
        expected = product["data"] if product else None
        assert mirrored(mirror.product, pk) == expected
        listed["products"] += expected is not None
    for pk in ProductNetwork.objects.values_list("pk", flat=True):
        network = answer(f"product-networks/{pk}")
        expected = network
        assert mirrored(mirror.network, pk) == expected
        listed["networks"] += expected is not None
    assert mirror.counts() == {"participants": Participant.objects.count(), **listed}  # nothing gone lingers
    return hidden


class Series:
    """Seeded random changes made through participants.services, each one the registry allows at that moment.
    The caller stays active (its mirror must keep reading); scheduled switches come 1.5 s after they are made,
    on `clock` (time-machine's: the registry, the mirror and the test share this process's clock)."""

    def __init__(self, seed: int, actor, caller: Participant, clock):
        self.rng, self.actor, self.caller, self.clock = random.Random(seed), actor, caller, clock
        self.made, self.offboarded, self.switches = 0, 0, []

    def run(self, extra: int, then) -> list[str]:
        """Every kind of change once, in a random order, then `extra` more at random, and last a switch to come
        after the round (so one is still ahead when the mirror last synced); `then()` after each. Returns those
        made (one the registry does not allow at that moment is left out)."""
        done = []
        for step in [*self.rng.sample(STEPS, len(STEPS)), *self.rng.choices(STEPS, k=extra), switch_after_the_round]:
            if step(self):
                done.append(step.__name__)
                then()
        return done

    def pass_the_switches(self) -> None:
        """Move the clock past every scheduled switch, so none falls between two answers compared."""
        last = max(self.switches, default=timezone.now())
        if last >= timezone.now():
            self.clock.move_to(last + dt.timedelta(seconds=0.1))

    def pick(self, rows):
        rows = list(rows)
        return self.rng.choice(rows) if rows else None

    def next_name(self, what: str) -> str:
        self.made += 1
        return f"Series {what} {self.made}"

    def soon(self) -> dt.datetime:
        self.switches.append(timezone.now() + dt.timedelta(seconds=1.5))
        return self.switches[-1]

    def others(self):
        return Participant.objects.current().exclude(pk=self.caller.pk).order_by("created_at")


def suspend_or_reinstate(series: Series) -> bool:
    participant = series.pick(series.others().filter(review_status="APPROVED"))
    if participant is None:
        return False
    if participant.status == "ACTIVE":
        services.suspend_participant(participant=participant, actor=series.actor, reason="series")
    else:
        services.reinstate_participant(participant=participant, actor=series.actor)
    return True


def add_key(series: Series) -> bool:
    participant = series.pick(Participant.objects.current().order_by("created_at"))
    primary_from = series.rng.choice([None, timezone.now(), series.soon()])
    key = public_pem(rsa_key(series.next_name("key")))
    services.add_participant_key(participant=participant, public_key=key, actor=series.actor, primary_from=primary_from)
    return True


def switch_after_the_round(series: Series) -> bool:
    participant = series.pick(Participant.objects.active().order_by("created_at"))  # active: its switch shows
    key, switch_at = public_pem(rsa_key(series.next_name("key"))), series.soon()
    services.add_participant_key(participant=participant, public_key=key, actor=series.actor, primary_from=switch_at)
    return True


def revoke_key(series: Series) -> bool:
    keys = ParticipantKey.objects.filter(status=KeyStatus.ACTIVE, participant__in=Participant.objects.current())
    key = series.pick(keys.order_by("created_at"))
    if key is None:
        return False
    siblings, now = list(key.participant.keys.all()), timezone.now()
    successor = next(iter(key.successors(siblings, now)), None)  # the primary goes only with a successor
    if key.revocation_refused(siblings, now, successor):
        return False
    services.revoke_key(key=key, actor=series.actor, reason="series", successor_kid=successor and successor.kid)
    return True


def schedule_switch(series: Series) -> bool:
    now, candidates = timezone.now(), []
    for participant in Participant.objects.current().order_by("created_at"):
        keys = list(participant.keys.order_by("created_at"))
        candidates += [k for k in keys if k.status == KeyStatus.ACTIVE and k != primary_key(keys, now)]
    key = series.pick(candidates)
    if key is None:
        return False
    services.promote_participant_key(participant=key.participant, kid=key.kid, actor=series.actor, at=series.soon())
    return True


def offboard(series: Series) -> bool:
    participant = series.pick(series.others())
    if participant is None or series.offboarded >= 2:
        return False
    services.offboard_participant(participant=participant, actor=series.actor, reason="series")
    series.offboarded += 1
    return True


def create_product(series: Series) -> bool:
    lender = series.pick(Participant.objects.current().filter(role="LENDER").order_by("created_at"))
    if lender is None:
        return False
    private = series.rng.random() < 0.5
    services.create_product(lender=lender, actor=series.actor, name=series.next_name("product"), is_private=private)
    return True


def withdraw_product(series: Series) -> bool:
    product = series.pick(Product.objects.filter(status="ACTIVE").order_by("created_at"))
    if product is None:
        return False
    services.withdraw_product(product=product, actor=series.actor, reason="series")
    return True


def create_network(series: Series) -> bool:
    product = series.pick(Product.objects.filter(status="ACTIVE").order_by("created_at"))
    agent = series.pick(Participant.objects.current().filter(role="LOAN_AGENT").order_by("created_at"))
    if product is None or agent is None:
        return False
    services.create_network(product=product, loan_agent=agent, name=series.next_name("network"), actor=series.actor)
    return True


def add_member(series: Series) -> bool:
    network = series.pick(ProductNetwork.objects.filter(product__status="ACTIVE").order_by("created_at"))
    if network is None:
        return False
    members = network.memberships.current().values_list("participant_id", flat=True)
    participant = series.pick(Participant.objects.active().exclude(pk__in=members).order_by("created_at"))
    if participant is None:
        return False
    services.add_network_member(network=network, participant=participant, actor=series.actor)
    return True


STEPS = [
    suspend_or_reinstate,
    add_key,
    revoke_key,
    schedule_switch,
    offboard,
    create_product,
    withdraw_product,
    create_network,
    add_member,
]


def test_a_mirror_bootstrapped_from_the_snapshot_then_following_the_feed_answers_what_the_registry_answers(
    mirror_of, registry_answers, agent, lender, actor, time_machine
):
    caller, (lender_credentials, _kid) = agent[0].participant, lender
    onboard(actor, "Mirror KYC Services", "KYC_PARTNER", "mirror-kyc")
    onboard(actor, "Mirror Collections", "COLLECTIONS_PARTNER", "mirror-collections")
    elsewhere, _ = onboard(actor, "Private Lending House", "LENDER", "mirror-private-lender")
    public = services.create_product(lender=lender_credentials.participant, actor=actor, name="Working Capital 90")
    services.create_network(product=public, loan_agent=caller, name="MSME Credit Line", actor=actor)
    services.create_product(lender=elsewhere.participant, actor=actor, name="Invitation Only", is_private=True)

    mirror, sent = mirror_of(agent[0])
    seq = mirror.sync()
    assert seq == Change.objects.newest()
    assert feed_requests(sent) == ["GET /service/snapshot", f"GET /service/changes?after={seq}&limit=500"]
    assert assert_the_mirror_answers_as_the_registry(mirror, registry_answers) == 1  # the private product: absent

    series, done = Series(16, actor, caller, time_machine), []
    for _round in range(4):
        sent.clear()
        done += series.run(extra=4, then=mirror.sync)  # following the feed: synced before each switch comes
        assert mirror.seq == Change.objects.newest()
        assert "GET /service/snapshot" not in sent  # the feed alone
        series.pass_the_switches()  # the mirror applies them as it reads
        hidden = assert_the_mirror_answers_as_the_registry(mirror, registry_answers)

    assert set(done) == {step.__name__ for step in [*STEPS, switch_after_the_round]}  # every kind of change
    assert hidden >= 1
    assert mirrored(mirror.participant, uuid.uuid4()) is None and mirrored(mirror.product, "not-a-uuid") is None


def test_a_scheduled_primary_switch_is_applied_by_the_mirror_when_its_time_comes_without_a_sync(
    mirror_of, registry_answers, agent, lender, actor, time_machine
):
    """Two keys are switched to at the same moment: the newer one is primary then, in the registry and the mirror."""
    (credentials, old_kid), pid = lender, str(lender[0].participant.pk)
    switch_at = timezone.now() + dt.timedelta(seconds=30)
    for name in ("mirror-lender-next", "mirror-lender-newer"):
        key = public_pem(rsa_key(name))
        new_key = services.add_participant_key(
            participant=credentials.participant, public_key=key, actor=actor, primary_from=switch_at
        )
    mirror, sent = mirror_of(agent[0])
    mirror.sync()
    before = mirror.participant(pid)
    assert before == registry_answers(f"participant-roles/{pid}") and primary_kid(before) == old_kid
    assert timezone.now() < switch_at, "the mirror must have synced before the switch"

    sent.clear()
    time_machine.move_to(switch_at + dt.timedelta(seconds=0.1))  # the clock of the registry and the mirror alike
    after = mirror.participant(pid)
    assert primary_kid(after) == new_key.kid
    assert after == registry_answers(f"participant-roles/{pid}")
    assert mirror.participant_keys(pid) == registry_answers(f"participant-roles/{pid}/jwks")
    assert sent == []


def test_a_verifier_on_a_mirror_makes_no_registry_request_while_verifying(
    registry, mirror_of, agent, lender, actor, toolkit
):
    (caller, caller_kid), (provider, _kid) = agent, lender
    caller_id, provider_id = str(caller.participant.pk), str(provider.participant.pk)
    mirror, sent = mirror_of(provider, keys_refresh_interval=0)  # the provider's own view of the registry
    mirror.sync()
    verifier = Verifier(registry["issuer"], mirror, participant_id=provider_id)
    calling, _ = toolkit(caller)  # the caller's side: its token requests are its own, not the verifier's
    body = json.dumps({"metadata": {"originatorParticipantId": caller_id}}).encode()

    def call(payload=body, kid=caller_kid, token=None):
        """A call's headers and body: a token bound to the provider, a signature over `body` by the caller's key."""
        token = token or calling.token_client.token(audience=provider_id)
        signature = sign(body, rsa_key("mirror-agent"), kid)
        return {"Authorization": f"Bearer {token}", "x-jws-signature": signature}, payload

    def refused(headers, payload) -> str:
        with pytest.raises(VerificationError) as excinfo:
            verifier.verify_request(headers, payload)
        return excinfo.value.reason

    sent.clear()
    genuine = [call() for _ in range(20)]
    assert all(verifier.verify_request(*request)["id"] == caller_id for request in genuine)
    assert refused(*call(payload=body.replace(b"metadata", b"metadatA"))) == "signature_mismatch"
    assert refused(*call(kid="not-a-registered-kid")) == "unknown_kid"
    _header, claims, signature = calling.token_client.token().split(".")
    unknown = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"not-the-registrys"}').rstrip(b"=").decode()
    assert refused(*call(token=f"{unknown}.{claims}.{signature}")) == "unknown_kid"  # a kid the registry never had
    assert sent == []  # twenty verifications and three refusals: not one request

    services.suspend_participant(participant=caller.participant, actor=actor, reason="under investigation")
    mirror.sync()  # the next sync brings the suspension, and asks the registry once for the kid it met
    assert "GET /auth/certs" in sent
    sent.clear()
    assert refused(*genuine[0]) == "participant_not_active"  # a token issued before the suspension
    assert sent == []


def test_a_new_mirror_on_the_same_file_resumes_from_its_sequence_with_one_feed_request(
    mirror_of, agent, lender, actor, registry_answers
):
    pid = str(lender[0].participant.pk)
    first, _sent = mirror_of(agent[0])
    seq = first.sync()
    first.close()
    services.suspend_participant(participant=lender[0].participant, actor=actor, reason="check")

    restarted, sent = mirror_of(agent[0])
    # The file, before any request of the registry's API (its keys, to check the file with, come from the issuer).
    assert restarted.seq == seq and restarted.participant(pid)["status"] == "ACTIVE"
    assert restarted.keys.jwks()["keys"] and feed_requests(sent) == []
    assert restarted.sync() == Change.objects.newest() > seq
    assert feed_requests(sent) == [f"GET /service/changes?after={seq}&limit=500"]
    assert restarted.participant(pid) == registry_answers(f"participant-roles/{pid}")
    assert restarted.participant(pid)["status"] == "SUSPENDED"


@pytest.mark.parametrize("answer", ["snapshot", "changes"])
@pytest.mark.parametrize("forgery", ["altered", "unsigned"])
def test_an_answer_the_registry_did_not_sign_applies_nothing(mirror_of, agent, lender, actor, answer, forgery):
    pid = str(lender[0].participant.pk)
    mirror, _sent = mirror_of(agent[0])
    seq = mirror.sync() if answer == "changes" else None
    services.update_participant(participant=lender[0].participant, actor=actor, base_url="https://new.lender.in")

    def forge(response, *args, **kwargs):
        if f"/service/{answer}" not in response.url:
            return
        if forgery == "unsigned":
            del response.headers["x-jws-signature"]
        else:
            assert b"https://new.lender.in" in response.content
            response._content = response.content.replace(b"https://new.lender.in", b"https://evil.example")

    mirror.client.session.hooks["response"].append(forge)
    with pytest.raises(RegistryError, match="does not verify" if forgery == "altered" else "not signed"):
        mirror.sync()
    assert mirror.seq == seq
    if seq is None:
        with pytest.raises(RegistryError, match="not been synced") as excinfo:
            mirror.participant(pid)
        assert excinfo.value.status is None  # an outage to a Verifier, not a verdict on the participant
    else:
        assert mirror.participant(pid)["baseUrl"] == "https://mirror-lender.example.in/ocen"

    mirror.client.session.hooks["response"].remove(forge)
    mirror.sync()
    assert mirror.participant(pid)["baseUrl"] == "https://new.lender.in"


def test_a_feed_that_no_longer_reaches_back_makes_the_mirror_take_the_snapshot_again(
    mirror_of, agent, lender, actor, settings, registry_answers
):
    pid = str(lender[0].participant.pk)
    product = services.create_product(lender=lender[0].participant, actor=actor, name="Working Capital 90")
    mirror, sent = mirror_of(agent[0])
    seq = mirror.sync()
    assert mirror.product(product.pk)["status"] == "ACTIVE"

    services.suspend_participant(participant=lender[0].participant, actor=actor, reason="check")
    services.withdraw_product(product=product, actor=actor)
    settings.OCEN_CHANGE_RETENTION_DAYS = 30
    old = timezone.now() - dt.timedelta(days=31)
    Change.objects.create(kind=ChangeKind.PARTICIPANT, object_id=lender[0].participant.pk, at=old)  # the mark
    sent.clear()

    newest = mirror.sync()
    assert newest == Change.objects.newest()
    assert feed_requests(sent) == [
        f"GET /service/changes?after={seq}&limit=500",  # 410
        "GET /service/snapshot",
        f"GET /service/changes?after={newest}&limit=500",
    ]
    assert mirror.participant(pid) == registry_answers(f"participant-roles/{pid}")
    assert mirror.participant(pid)["status"] == "SUSPENDED"
    withdrawn = mirror.product(product.pk)  # the snapshot's copy, as the lookup answers it
    assert withdrawn == registry_answers(f"products/{product.pk}")["data"] and withdrawn["status"] == "WITHDRAWN"


def test_a_follower_thread_syncs_at_once_when_nudged_while_another_thread_reads(mirror_of, agent, lender, actor):
    pid = str(lender[0].participant.pk)
    mirror, _sent = mirror_of(agent[0])  # it polls hourly: only a nudge makes it sync again
    stop, reads, errors = threading.Event(), [], []
    follower = threading.Thread(target=mirror.follow, args=(stop,), daemon=True)
    follower.start()
    wait_until(lambda: mirror.seq is not None)

    def reader():
        while not stop.is_set():
            try:
                reads.append(mirror.participant(pid)["status"])
            except Exception as exc:  # anything at all is a failure of the test
                errors.append(exc)

    reading = threading.Thread(target=reader, daemon=True)
    reading.start()
    services.suspend_participant(participant=lender[0].participant, actor=actor, reason="check")
    mirror.nudge()
    wait_until(lambda: mirror.participant(pid)["status"] == "SUSPENDED")
    stop.set()
    mirror.nudge()  # wake the follower to see the stop
    follower.join(timeout=10)
    reading.join(timeout=10)

    assert not follower.is_alive() and not reading.is_alive()
    assert errors == [] and mirror.last_error is None
    assert set(reads) <= {"ACTIVE", "SUSPENDED"} and reads


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_mirror_file_keeps_one_callers_view(mirror_of, agent, lender):
    mine, _sent = mirror_of(agent[0])
    mine.sync()
    mine.close()
    with pytest.raises(RegistryError, match="view"):
        mirror_of(lender[0])  # the lender may see other records (its private products): not in this file
    again, _sent = mirror_of(agent[0])
    assert again.seq is not None
