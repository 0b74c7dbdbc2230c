"""The events this service publishes, sealed while they wait in the outbox.

Customer events carry contact data, and their `outbox_events` rows wait for the relay for as
long as Kafka is unreachable. Each payload is stored as a ciphertext of the keyring, like a
column's value (purpose `outbox_events.payload`); the relay opens it just before publishing, so
Kafka receives the event's bytes unchanged.
"""

from customer_profile.pii.keyring import Keyring

PURPOSE = "outbox_events.payload"


class OutboxSealer:
    """crm_common's `PayloadSealer` for this service's outbox."""

    def __init__(self, ring: Keyring) -> None:
        self._ring = ring

    def seal(self, payload: bytes) -> bytes:
        return self._ring.encrypt(PURPOSE, payload)

    def open(self, stored: bytes) -> bytes:
        """The event's bytes; a row staged in clear (before this release) is returned as is."""
        # An event is a JSON object, "{..."; a ciphertext starts with its format version byte.
        if stored.startswith(b"{"):
            return stored
        return self._ring.decrypt(PURPOSE, stored)
