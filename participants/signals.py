from django.dispatch import Signal

# Sent inside the offboarding transaction with `participant` and `actor`. Receivers remove the
# participant's resource mappings (product-network memberships, …) and return a JSON-able summary
# of what they removed, which the offboarding audit event records.
participant_offboarded = Signal()
