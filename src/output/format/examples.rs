//! Example records for tests of the output stage and beyond: the reference worked example
//! (Remcos C2 connection 10.1.2.3:49822 → 138.9.223.13:8015/TCP at 2026-05-09T14:03:27.123Z),
//! with the same IOC as the built-in set. Not used on the data path.

use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::Tunnel;
use crate::ioc::Ioc;
use crate::record::{
    Action, Endpoint, FlowRecord, HealthRecord, Record, SensorContext, Signature, Totals,
};
use crate::time::NANOS_PER_MILLI;

pub const T0: u64 = 1_778_335_407_123 * NANOS_PER_MILLI;

pub fn ctx() -> SensorContext {
    SensorContext {
        hostname: "sensor01".into(),
        replay: false,
    }
}

/// The Remcos IOC of the worked example, as ThreatFox lists it.
pub fn ioc() -> Ioc {
    Ioc {
        value: "138.9.223.13:8015".into(),
        port: Some(8015),
        malware: "Remcos".into(),
        threat_type: "botnet_cc".into(),
        confidence: Some(75),
        first_seen: crate::units::Timestamp::parse("2026-05-09"),
        last_seen: None,
        source: "ThreatFox".into(),
        reference: None,
    }
}

pub fn flow(ioc: Ioc) -> FlowRecord {
    FlowRecord {
        signature: Signature::IocMatch,
        action: Action::Established,
        client: Endpoint {
            addr: IpAddr::from([10, 1, 2, 3]),
            port: 49822,
        },
        server: Endpoint {
            addr: IpAddr::from([138, 9, 223, 13]),
            port: 8015,
        },
        proto: 6,
        start: T0,
        end: T0 + 1000 * NANOS_PER_MILLI,
        ioc: Arc::new(ioc),
        ioc_is_server: true,
        vlan: 0,
        tunnel: Tunnel::None,
        outer: false,
        interface: Arc::from("eth1"),
        totals: Totals {
            packets_to_server: 3,
            bytes_to_server: 120,
            packets_to_client: 2,
            bytes_to_client: 80,
        },
        count: 1,
        clients: 0,
        suppressed: None,
        name: None,
    }
}

pub fn flow_record() -> Record {
    Record::Flow(flow(ioc()))
}

pub fn health_record() -> Record {
    Record::Health(HealthRecord {
        time: T0,
        packets: 1000,
        kernel_drops: 2,
        matches: 3,
        iocs_loaded: 2,
        ioc_age_secs: 60,
        capture_problem: None,
        stale_feeds: None,
    })
}
