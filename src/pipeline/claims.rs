//! Claims: which worker alerts for a matched flow that several workers see (a mirrored flow
//! reaching two workers through two tunnels). Only matched flows touch the shared map, so the
//! per-packet path takes no lock for the rest.

use dashmap::DashMap;

use crate::flow::FlowKey;

/// Which worker alerts for a matched flow seen by several workers.
pub type Claims = DashMap<FlowKey, (usize, u64), foldhash::fast::RandomState>;

/// Claims `key` for `(worker, flow_id)` unless another worker holds it: true when this worker
/// owns the flow's alert (it did already, or it was first).
pub(super) fn claim(claims: &Claims, key: &FlowKey, worker: usize, flow_id: u64) -> bool {
    let owner = *claims.entry(*key).or_insert((worker, flow_id));
    owner.0 == worker
}

/// Gives up the claim on `key` when `(worker, flow_id)` holds it: a later flow on the same
/// 5-tuple, or another worker's, may claim it afresh.
pub(super) fn release(claims: &Claims, key: &FlowKey, worker: usize, flow_id: u64) {
    claims.remove_if(key, |_, owner| *owner == (worker, flow_id));
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::decode::PacketMeta;

    fn key(sport: u16) -> FlowKey {
        let meta = PacketMeta {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            proto: 6,
            sport,
            dport: 443,
            has_ports: true,
            tcp_flags: 0,
            icmp_type: 0,
            icmp_code: 0,
            vlan: 0,
            tunnel: Default::default(),
            fragment: None,
            ip_len: 60,
            outer: false,
            payload: crate::decode::PayloadAt::NONE,
        };
        FlowKey::of(&meta, sport, 443).0
    }

    #[test]
    fn the_first_worker_owns_the_alert_and_others_are_shadows() {
        let claims = Claims::default();
        assert!(claim(&claims, &key(1), 0, 10));
        assert!(!claim(&claims, &key(1), 1, 20), "a second worker shadows");
        assert!(claim(&claims, &key(1), 0, 11), "the owner keeps owning");
        assert!(claim(&claims, &key(2), 1, 20), "another flow is free");
    }

    #[test]
    fn only_the_owner_releases_and_then_anyone_may_claim() {
        let claims = Claims::default();
        assert!(claim(&claims, &key(1), 0, 10));
        release(&claims, &key(1), 1, 20);
        release(&claims, &key(1), 0, 99);
        assert!(
            !claim(&claims, &key(1), 1, 20),
            "not released by a stranger"
        );
        release(&claims, &key(1), 0, 10);
        assert!(claims.is_empty());
        assert!(claim(&claims, &key(1), 1, 21));
    }
}
