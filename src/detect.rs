//! Detect: decides, per flow, whether and when to alert.
