//! Flow: bidirectional flow tracking keyed by a `Copy` key, on packet time, with a hard bound.
