"""
Declared wire shapes for the OpenAPI document. The views render bodies directly (see
representations.py); tests validate live responses against these declarations.
"""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from participants.models import EventType, KeyStatus, OperationalStatus, ReviewStatus, Role, SubscriptionStatus

from .errors import OAUTH_DESCRIPTIONS

EVENT_TYPES = EventType.values  # one OpenAPI enum (ENUM_NAME_OVERRIDES) wherever event types appear


class ClientAuthentication(serializers.Serializer):
    """client_secret_post, or private_key_jwt (RFC 7523); or HTTP Basic (client_secret_basic) instead."""

    client_id = serializers.CharField(required=False, help_text="Or HTTP Basic authentication.")
    client_secret = serializers.CharField(required=False)
    client_assertion_type = serializers.ChoiceField(
        choices=["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
        required=False,
        help_text="private_key_jwt: instead of a secret.",
    )
    client_assertion = serializers.CharField(
        required=False,
        help_text=(
            "private_key_jwt: a JWT signed (RS256; ES256 where EC keys are allowed) by one of the participant's "
            "registered keys, iss = sub = client ID, aud = the issuer or the token endpoint, exp at most 5 "
            "minutes ahead, a jti used once."
        ),
    )


class TokenRequest(ClientAuthentication):
    grant_type = serializers.ChoiceField(
        choices=["client_credentials"], required=False, help_text="Defaults to client_credentials."
    )
    scope = serializers.CharField(required=False)
    resource = serializers.CharField(
        required=False,
        help_text="RFC 8707: the API base URL of the provider the token is for; its aud is then that participantId.",
    )
    audience = serializers.CharField(
        required=False, help_text="The participantId of the provider the token is for (the token's aud)."
    )


class TokenRequestJson(TokenRequest):
    clientId = serializers.CharField(required=False, help_text="Alias of client_id (OCEN OpenAPI shape).")
    clientSecret = serializers.CharField(required=False, help_text="Alias of client_secret.")


class TokenResponse(serializers.Serializer):
    access_token = serializers.CharField(help_text="RS256 JWT (contract §4.2).")
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField()
    scope = serializers.CharField()


class OAuthErrorSerializer(serializers.Serializer):
    error = serializers.ChoiceField(choices=list(OAUTH_DESCRIPTIONS), help_text="RFC 6749 §5.2 (and RFC 8707's).")
    error_description = serializers.CharField()


class RevokeRequest(ClientAuthentication):
    token = serializers.CharField()
    token_type_hint = serializers.CharField(required=False)


class IntrospectRequest(RevokeRequest):
    pass


class IntrospectionResponse(serializers.Serializer):
    active = serializers.BooleanField()
    sub = serializers.CharField(required=False)
    client_id = serializers.CharField(required=False)
    participantId = serializers.CharField(required=False)
    orgId = serializers.CharField(required=False)
    participantRole = serializers.CharField(required=False)
    scope = serializers.CharField(required=False)
    exp = serializers.IntegerField(required=False)
    iat = serializers.IntegerField(required=False)
    iss = serializers.CharField(required=False)
    aud = serializers.CharField(required=False)
    token_type = serializers.CharField(required=False)


class PublicJWK(serializers.Serializer):
    kty = serializers.CharField()
    kid = serializers.CharField()
    use = serializers.CharField()
    alg = serializers.CharField()
    n = serializers.CharField(required=False)
    e = serializers.CharField(required=False)
    crv = serializers.CharField(required=False)
    x = serializers.CharField(required=False)
    y = serializers.CharField(required=False)


class JWKS(serializers.Serializer):
    keys = PublicJWK(many=True)


class ParticipantKeyItem(PublicJWK):
    status = serializers.ChoiceField(choices=KeyStatus.values)
    validFrom = serializers.DateTimeField()
    validUntil = serializers.DateTimeField(allow_null=True)
    primary = serializers.BooleanField(required=False, help_text="ACTIVE keys: whether publicKey names this key.")
    primaryFrom = serializers.DateTimeField(required=False, help_text="When it became, or becomes, the primary key.")
    revokedAt = serializers.DateTimeField(required=False)
    withheld = serializers.BooleanField(
        required=False, help_text="True while the participant is suspended: no verifier may accept this key."
    )


class ParticipantJWKS(serializers.Serializer):
    keys = ParticipantKeyItem(many=True)


class Discovery(serializers.Serializer):
    issuer = serializers.URLField()
    token_endpoint = serializers.URLField()
    jwks_uri = serializers.URLField()
    introspection_endpoint = serializers.URLField()
    revocation_endpoint = serializers.URLField()
    grant_types_supported = serializers.ListField(child=serializers.CharField())
    response_types_supported = serializers.ListField(child=serializers.CharField())
    subject_types_supported = serializers.ListField(child=serializers.CharField())
    scopes_supported = serializers.ListField(child=serializers.CharField())
    token_endpoint_auth_methods_supported = serializers.ListField(child=serializers.CharField())
    token_endpoint_auth_signing_alg_values_supported = serializers.ListField(child=serializers.CharField())
    introspection_endpoint_auth_methods_supported = serializers.ListField(child=serializers.CharField())
    introspection_endpoint_auth_signing_alg_values_supported = serializers.ListField(child=serializers.CharField())
    revocation_endpoint_auth_methods_supported = serializers.ListField(child=serializers.CharField())
    revocation_endpoint_auth_signing_alg_values_supported = serializers.ListField(child=serializers.CharField())
    id_token_signing_alg_values_supported = serializers.ListField(child=serializers.CharField())
    access_token_signing_alg_values_supported = serializers.ListField(child=serializers.CharField())
    claims_supported = serializers.ListField(child=serializers.CharField())
    keycloak_endpoint_aliases = serializers.DictField(
        child=serializers.URLField(), help_text="The same endpoints at Keycloak's paths (token, certs, …)."
    )


class Organisation(serializers.Serializer):
    id = serializers.UUIDField()
    participantName = serializers.CharField()
    participantDescription = serializers.CharField(allow_blank=True)
    participantWebsite = serializers.CharField(allow_blank=True)
    participantEmail = serializers.CharField(allow_blank=True)
    participantPhone = serializers.CharField(allow_blank=True)
    participantLogo = serializers.CharField(allow_null=True, help_text="Base64 of a PNG or JPEG image, or null.")
    participantLogoContentType = serializers.ChoiceField(choices=["image/png", "image/jpeg"], allow_null=True)
    createdOn = serializers.DateTimeField()
    updatedOn = serializers.DateTimeField()


class ParticipantDetails(serializers.Serializer):
    id = serializers.UUIDField()
    participantRole = serializers.ChoiceField(
        choices=Role.accepted_names(), help_text="As OCEN_ROLE_SPELLING spells it."
    )
    baseUrl = serializers.URLField()
    publicKey = serializers.CharField(
        allow_null=True,
        help_text="The primary key as a compact JSON string of a public JWK; null while the participant is "
        "suspended or offboarded.",
    )
    publicKeys = ParticipantJWKS()
    participantRoleStatus = serializers.ChoiceField(choices=ReviewStatus.values)
    isApproved = serializers.BooleanField()
    approvedBy = serializers.CharField(allow_null=True, help_text="The registry's name (OCEN_REGISTRY_NAME).")
    approvedOn = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=OperationalStatus.values)
    tokensValidFrom = serializers.DateTimeField(
        allow_null=True,
        help_text="The participant's last reinstatement: tokens issued before it (iat) are refused, by the registry "
        "and by verifiers checking tokens offline; null when it was never reinstated.",
    )
    clientId = serializers.CharField()
    kcClientId = serializers.CharField(help_text="The client ID again, as the OCEN reference client's DTO names it.")
    createdOn = serializers.DateTimeField()
    updatedOn = serializers.DateTimeField()
    participant = Organisation()


class ParticipantPage(serializers.Serializer):
    content = ParticipantDetails(many=True)
    number = serializers.IntegerField()
    size = serializers.IntegerField()
    totalElements = serializers.IntegerField()
    totalPages = serializers.IntegerField()
    nextCursor = serializers.CharField(
        allow_null=True, help_text="Pass as cursor= for the next page of this walk; null on the last page."
    )


RegistryError = inline_serializer(
    "RegistryError",
    {
        "errorCode": serializers.CharField(),
        "message": serializers.CharField(),
        "timestamp": serializers.DateTimeField(),
        "traceId": serializers.CharField(),
    },
)


class ProductData(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(max_length=35)
    description = serializers.CharField(allow_blank=True)
    lenderId = serializers.UUIDField()
    isPrivate = serializers.BooleanField()
    isEndUseControlled = serializers.BooleanField()
    isCollectionControlled = serializers.BooleanField()
    isAAFlowRequired = serializers.BooleanField()
    isMonitoringConsentRequired = serializers.BooleanField()
    isDerivedDataPartnerRequired = serializers.BooleanField()
    derivedDataDescription = serializers.CharField(allow_blank=True, max_length=1000)
    status = serializers.ChoiceField(choices=["ACTIVE", "WITHDRAWN"])
    createdOn = serializers.DateTimeField()
    updatedOn = serializers.DateTimeField()


class ProductEnvelope(serializers.Serializer):
    data = ProductData()


class ProductNetworkDocument(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    createdBy = serializers.UUIDField(help_text="participantId of the loan agent that built the network.")
    memberCount = serializers.IntegerField(help_text="Current members that are approved and active.")
    product = ProductData()
    createdOn = serializers.DateTimeField()
    updatedOn = serializers.DateTimeField()


NetworkParticipants = inline_serializer(
    "NetworkParticipants",
    {role: ParticipantDetails(many=True) for role in Role.values},
)


class SignatureCheckRequest(serializers.Serializer):
    body = serializers.CharField(
        help_text="The exact body that was signed (UTF-8).",
        trim_whitespace=False,
        allow_blank=True,
        max_length=1_000_000,
    )
    signature = serializers.CharField(help_text="The x-jws-signature value (detached compact JWS).")
    participantId = serializers.UUIDField(required=False, help_text="The signer; default: the caller.")


class SignatureCheckStep(serializers.Serializer):
    check = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class SignatureCheckResult(serializers.Serializer):
    valid = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    matchedKid = serializers.CharField(allow_null=True)
    steps = SignatureCheckStep(many=True)
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why some verifiers may refuse a signature that verifies here (a key that is not primary).",
    )


class NetworkMember(serializers.Serializer):
    id = serializers.UUIDField(help_text="participantId; its record is the participant's own.")
    role = serializers.ChoiceField(choices=Role.values)


class NetworkRecord(ProductNetworkDocument):
    members = NetworkMember(many=True, help_text="What GetProductNetworkParticipants lists, by id and role.")


class Change(serializers.Serializer):
    seq = serializers.IntegerField(help_text="The feed's sequence number: entries commit in this order.")
    kind = serializers.ChoiceField(choices=["participant", "product", "network"])
    type = serializers.ChoiceField(choices=EVENT_TYPES, help_text="What the change did (webhook event types).")
    id = serializers.UUIDField()
    record = serializers.JSONField(
        allow_null=True,
        help_text="The record as its lookup answers the caller now (ParticipantDetails, ProductData or NetworkRecord); "
        "null when the caller may no longer see it (a withdrawn product, a private one outside its reach).",
    )


class ChangePage(serializers.Serializer):
    changes = Change(many=True)
    nextAfter = serializers.IntegerField(help_text="Pass as after= for the next page.")
    hasMore = serializers.BooleanField()


class Snapshot(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Follow GET /service/changes?after= this sequence (also the ETag).")
    at = serializers.DateTimeField()
    participants = ParticipantDetails(many=True)
    products = ProductData(many=True)
    networks = NetworkRecord(many=True)


class SubscriptionRequest(serializers.Serializer):
    url = serializers.URLField(
        max_length=500, help_text="https; plain http only to loopback while OCEN_ALLOW_LOOPBACK_HTTP is on."
    )
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1)


class Subscription(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))
    status = serializers.ChoiceField(choices=SubscriptionStatus.values)
    createdOn = serializers.DateTimeField()
    deliveredSeq = serializers.IntegerField(help_text="Every change up to this sequence has been delivered.")
    deliveredOn = serializers.DateTimeField(allow_null=True)
    failingSince = serializers.DateTimeField(allow_null=True)
    lastError = serializers.CharField(allow_null=True)
    nextAttemptOn = serializers.DateTimeField(allow_null=True)
    pausedOn = serializers.DateTimeField(allow_null=True)
    pausedReason = serializers.CharField(allow_null=True)


class SubscriptionList(serializers.Serializer):
    subscriptions = Subscription(many=True)


# What any registry read may answer besides its own codes: no valid token, not found, rate limit, outage.
REGISTRY_ERRORS = {401: RegistryError, 404: RegistryError, 429: RegistryError, 503: RegistryError}
