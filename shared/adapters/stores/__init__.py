"""The stores: Protocols, their Firestore and in-memory implementations, one set of rules."""
