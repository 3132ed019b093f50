from django.urls import path

from . import views

oauth_patterns = [
    path("token", views.TokenView.as_view(), name="token"),
    path("certs", views.JWKSView.as_view(), name="certs"),
    path("introspect", views.IntrospectView.as_view(), name="introspect"),
    path("revoke", views.RevokeView.as_view(), name="revoke"),
    path(".well-known/openid-configuration", views.DiscoveryView.as_view(), name="openid-configuration"),
    # Where participants configured for a Keycloak-hosted registry look: the same views (KEYCLOAK_ALIASES).
    *(path(alias, views.alias_of(name), name=f"keycloak-{name}") for name, alias in views.KEYCLOAK_ALIASES.items()),
]

service_patterns = [
    path("participant-roles", views.ParticipantListView.as_view(), name="participant-list"),
    path("participant-roles/<str:participant_id>", views.ParticipantDetailView.as_view(), name="participant-detail"),
    path("participant-roles/<str:participant_id>/jwks", views.ParticipantJWKSView.as_view(), name="participant-jwks"),
    path("signature-check", views.SignatureCheckView.as_view(), name="signature-check"),
    path("products/<str:product_id>", views.ProductDetailView.as_view(), name="product-detail"),
    path("product-networks/<str:network_id>", views.ProductNetworkDetailView.as_view(), name="network-detail"),
    path(
        "product-networks/<str:network_id>/participants",
        views.ProductNetworkParticipantsView.as_view(),
        name="network-participants",
    ),
]
