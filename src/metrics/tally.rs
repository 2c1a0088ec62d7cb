//! Match tallies: alert counts by signature, malware family and (while the IOC set is small)
//! IOC value, one per worker, with their cardinality bounds. Records are rare next to packets,
//! so this bookkeeping (a map update and one uncontended lock per record) stays off the
//! per-packet path.
//!
//! Cardinality is bounded whatever the feed says: the signature is a closed set, malware names
//! stop at [`MAX_MALWARE_LABELS`] per worker (later ones count as `other`), and per-IOC series
//! exist only while the loaded set has at most the configured number of IOCs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::record::Signature;

/// Most distinct malware label values one worker keeps.
pub const MAX_MALWARE_LABELS: usize = 256;
/// Longest malware or IOC label value kept (in chars); feeds are external input.
const MAX_LABEL_CHARS: usize = 64;
/// Label value for a family past [`MAX_MALWARE_LABELS`].
pub const OTHER_MALWARE: &str = "other";
/// Label value for an IOC that names no family.
pub const UNKNOWN_MALWARE: &str = "unknown";
/// Alert signatures, in [`crate::pipeline::WorkerStats::matches`] order.
pub const MATCH_SIGNATURES: [Signature; Signature::ALERTS.len()] = Signature::ALERTS;
/// "No IOC set loaded yet": per-IOC labels stay off.
const SIZE_UNKNOWN: u64 = u64::MAX;

/// Decides whether per-IOC labels are allowed: only while the current set is within the limit.
#[derive(Debug)]
pub struct IocLabelGate {
    limit: u64,
    set_size: AtomicU64,
}

impl IocLabelGate {
    pub fn new(limit: usize) -> IocLabelGate {
        IocLabelGate {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            set_size: AtomicU64::new(SIZE_UNKNOWN),
        }
    }

    pub fn set_size(&self, iocs: usize) {
        let n = u64::try_from(iocs).unwrap_or(SIZE_UNKNOWN);
        self.set_size.store(n, Relaxed);
    }

    pub fn is_open(&self) -> bool {
        let n = self.set_size.load(Relaxed);
        n != SIZE_UNKNOWN && n <= self.limit
    }

    pub fn limit(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }
}

/// One worker's match counts by label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchTally {
    /// By malware family, one map per entry of [`MATCH_SIGNATURES`].
    pub by_malware: [HashMap<String, u64>; MATCH_SIGNATURES.len()],
    pub by_ioc: HashMap<String, u64>,
}

impl MatchTally {
    pub(super) fn count(
        &mut self,
        sig: usize,
        malware: &str,
        ioc: Option<&str>,
        n: u64,
        ioc_limit: usize,
    ) {
        if let Some(map) = self.by_malware.get_mut(sig) {
            let label = if malware.is_empty() {
                UNKNOWN_MALWARE
            } else {
                malware
            };
            bump(map, label, n, MAX_MALWARE_LABELS, Some(OTHER_MALWARE));
        }
        if let Some(ioc) = ioc {
            bump(&mut self.by_ioc, ioc, n, ioc_limit, None);
        }
    }
}

/// Adds `n` under `label` (cut to [`MAX_LABEL_CHARS`]); a new label beyond `cap` goes to
/// `overflow`, or is not counted when there is none.
fn bump(map: &mut HashMap<String, u64>, label: &str, n: u64, cap: usize, overflow: Option<&str>) {
    let label = match label.char_indices().nth(MAX_LABEL_CHARS) {
        Some((cut, _)) => label.get(..cut).unwrap_or(label),
        None => label,
    };
    if let Some(c) = map.get_mut(label) {
        *c = c.saturating_add(n);
        return;
    }
    let key = if map.len() < cap {
        label
    } else {
        match overflow {
            Some(o) => o,
            None => return,
        }
    };
    let c = map.entry(key.to_string()).or_insert(0);
    *c = c.saturating_add(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malware_labels_are_bounded_and_cut() {
        let mut t = MatchTally::default();
        for i in 0..MAX_MALWARE_LABELS + 5 {
            t.count(0, &format!("fam{i}"), None, 1, 10);
        }
        t.count(1, "", None, 2, 10);
        t.count(0, &"x".repeat(200), None, 1, 10);
        assert_eq!(t.by_malware[0].len(), MAX_MALWARE_LABELS + 1);
        assert_eq!(t.by_malware[0].get(OTHER_MALWARE), Some(&6));
        assert_eq!(t.by_malware[1].get(UNKNOWN_MALWARE), Some(&2));
        t.count(0, "fam0", None, 1, 10);
        assert_eq!(t.by_malware[0].get("fam0"), Some(&2));
        let mut short = HashMap::new();
        bump(&mut short, &"é".repeat(100), 1, 5, None);
        assert_eq!(short.keys().next().map(|k| k.chars().count()), Some(64));
    }

    #[test]
    fn ioc_labels_stop_at_the_limit() {
        let mut t = MatchTally::default();
        for ioc in ["a", "b", "c", "a"] {
            t.count(0, "Remcos", Some(ioc), 1, 2);
        }
        assert_eq!(t.by_ioc.len(), 2);
        assert_eq!((t.by_ioc.get("a"), t.by_ioc.get("c")), (Some(&2), None));
        assert_eq!(t.by_malware[0].get("Remcos"), Some(&4));
    }

    #[test]
    fn the_gate_opens_only_for_a_known_small_set() {
        let gate = IocLabelGate::new(100);
        assert!(!gate.is_open());
        gate.set_size(100);
        assert!(gate.is_open());
        gate.set_size(101);
        assert!(!gate.is_open());
        gate.set_size(0);
        assert!(gate.is_open());
    }
}
