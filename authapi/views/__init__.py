"""The participant-facing HTTP surface, one module per part of the contract: auth (§4.1, §4.4), discovery (§4.3),
participants and sync (§5.1, §5.2), products (§5.2); base holds what they share."""
