//! CEF formatting (see README "Sentinel mapping").
