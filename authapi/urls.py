from django.urls import path

from .paths import KEYCLOAK_ALIASES
from .views import auth, changes, discovery, participants, products, subscriptions, sync

oauth_patterns = [
    path("token", auth.TokenView.as_view(), name="token"),
    path("certs", discovery.JWKSView.as_view(), name="certs"),
    path("introspect", auth.IntrospectView.as_view(), name="introspect"),
    path("revoke", auth.RevokeView.as_view(), name="revoke"),
    path(".well-known/openid-configuration", discovery.DiscoveryView.as_view(), name="openid-configuration"),
    # Where participants configured for a Keycloak-hosted registry look: the same views (KEYCLOAK_ALIASES).
    *(path(alias, discovery.alias_of(name), name=f"keycloak-{name}") for name, alias in KEYCLOAK_ALIASES.items()),
]

service_patterns = [
    path("participant-roles", sync.ParticipantListView.as_view(), name="participant-list"),
    path(
        "participant-roles/<str:participant_id>",
        participants.ParticipantDetailView.as_view(),
        name="participant-detail",
    ),
    path(
        "participant-roles/<str:participant_id>/jwks",
        participants.ParticipantJWKSView.as_view(),
        name="participant-jwks",
    ),
    path("signature-check", participants.SignatureCheckView.as_view(), name="signature-check"),
    path("changes", changes.ChangesView.as_view(), name="changes"),
    path("snapshot", changes.SnapshotView.as_view(), name="snapshot"),
    path("subscriptions", subscriptions.SubscriptionsView.as_view(), name="subscriptions"),
    path(
        "subscriptions/<str:subscription_id>",
        subscriptions.SubscriptionDetailView.as_view(),
        name="subscription-detail",
    ),
    path("products/<str:product_id>", products.ProductDetailView.as_view(), name="product-detail"),
    path("product-networks/<str:network_id>", products.ProductNetworkDetailView.as_view(), name="network-detail"),
    path(
        "product-networks/<str:network_id>/participants",
        products.ProductNetworkParticipantsView.as_view(),
        name="network-participants",
    ),
]
