//! Records for the output stage's unit tests: the reference worked example (Remcos C2
//! connection 10.1.2.3:49822 → 138.9.223.13:8015/TCP at 2026-05-09T14:03:27.123Z).

use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::Tunnel;
use crate::ioc::{Ioc, IocSet};
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

/// The built-in Remcos IOC (ThreatFox, confidence 75, first seen 2026-05-09).
pub fn ioc() -> Ioc {
    let set = IocSet::builtin();
    let found = set.iter().find(|ioc| ioc.value == "138.9.223.13:8015");
    Ioc::clone(found.expect("built-in IOC set has the reference Remcos endpoint"))
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
        interface: Arc::from("eth1"),
        totals: Totals {
            packets_to_server: 3,
            bytes_to_server: 120,
            packets_to_client: 2,
            bytes_to_client: 80,
        },
        count: 1,
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
    })
}
