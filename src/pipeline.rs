//! Pipeline: the per-worker loop shared by replay and live capture.
