//! The catalogue: every metric c2tap exposes, with its type, help and label names, in one place
//! so names (part of the interface: alert rules and dashboards use them) are never spelled twice.
//! The README's metric table and the shipped rules are checked against this list.

/// Prometheus metric type, as the text format names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// Label names; every value comes from a closed or bounded set, never from traffic.
    pub labels: &'static [&'static str],
}

const fn counter(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Spec {
    Spec {
        name,
        kind: Kind::Counter,
        help,
        labels,
    }
}

const fn gauge(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Spec {
    Spec {
        name,
        kind: Kind::Gauge,
        help,
        labels,
    }
}

const IFACE: &[&str] = &["interface"];
const OUTPUT: &[&str] = &["output"];
const NONE: &[&str] = &[];

pub const PACKETS: Spec = counter(
    "c2tap_packets_total",
    IFACE,
    "Packets read from the capture (live interface, or \"replay\").",
);
pub const BYTES: Spec = counter(
    "c2tap_bytes_total",
    IFACE,
    "Bytes on the wire of the packets read (original length, not the snap length).",
);
pub const WIRE_LEN_IMPLAUSIBLE: Spec = counter(
    "c2tap_wire_length_implausible_total",
    IFACE,
    "Frames whose stated wire length was implausible (under the captured length, or beyond the \
     largest packet): their captured length was counted in c2tap_bytes_total instead.",
);
pub const KERNEL_RECEIVED: Spec = counter(
    "c2tap_kernel_received_packets_total",
    IFACE,
    "Packets the kernel handed to the capture socket (pcap stats ps_recv).",
);
pub const KERNEL_DROPS: Spec = counter(
    "c2tap_kernel_drops_total",
    IFACE,
    "Packets the kernel dropped because the capture buffer was full (pcap stats ps_drop).",
);
pub const KERNEL_IF_DROPS: Spec = counter(
    "c2tap_kernel_interface_drops_total",
    IFACE,
    "Packets dropped by the network interface or its driver (pcap stats ps_ifdrop).",
);
pub const DECODE_ERRORS: Spec = counter(
    "c2tap_decode_errors_total",
    &["kind"],
    "Frames that could not be decoded, by reason.",
);
pub const FRAGMENTS_UNATTRIBUTED: Spec = counter(
    "c2tap_fragments_unattributed_total",
    NONE,
    "Later IP fragments whose first fragment was not seen, so no flow could be attributed.",
);
pub const FLOWS_ACTIVE: Spec = gauge("c2tap_flows_active", NONE, "Flows currently tracked.");
pub const FLOWS: Spec = counter("c2tap_flows_total", NONE, "Flows created.");
pub const FLOWS_EVICTED: Spec = counter(
    "c2tap_flows_evicted_total",
    NONE,
    "Flows pushed out of a full flow table before they ended.",
);
pub const FLOWS_EVICTED_MATCHED: Spec = counter(
    "c2tap_flows_evicted_matched_total",
    NONE,
    "Of the evicted flows, those that matched an IOC: the table held nothing else (a flood of matched flows); each left with its summary.",
);
pub const FLOWS_TIMED_OUT: Spec = counter(
    "c2tap_flows_timed_out_total",
    NONE,
    "Flows that ended by idle timeout.",
);
pub const MATCHES: Spec = counter(
    "c2tap_matches_total",
    &["signature", "malware"],
    "Flows alerted on, by CEF SignatureID (1001 exact IOC, 1002 IOC address on another port) and malware family.",
);
pub const IOC_MATCHES: Spec = counter(
    "c2tap_ioc_matches_total",
    &["ioc"],
    "Flows alerted on, by IOC value; only present while the IOC set is within the per-IOC label limit.",
);
pub const RETRO_MATCHES: Spec = counter(
    "c2tap_retro_matches_total",
    NONE,
    "Open flows that matched only after an IOC reload.",
);
pub const SUMMARIES: Spec = counter(
    "c2tap_flow_summaries_total",
    NONE,
    "Summary records (SignatureID 1003) of alerted flows that ended.",
);
pub const SHADOWED: Spec = counter(
    "c2tap_matches_shadowed_total",
    NONE,
    "Matched flows seen by a second worker (mirrored twice) whose alert the first worker owns.",
);
pub const ALERTS_EARLY: Spec = counter(
    "c2tap_alerts_sent_early_total",
    NONE,
    "Alerts sent before their hold-down ended because the hold-down queue was full (act is the outcome known then).",
);
pub const STORM_FLOWS: Spec = counter(
    "c2tap_storm_flows_total",
    &["signature"],
    "Records (1001, 1002, 1003) folded into contact-storm records (1005) instead of being sent, by the SignatureID they would have had.",
);
pub const NAME_PATH: Spec = counter(
    "c2tap_name_path_total",
    &["event"],
    "Name IOC path (only while name IOCs are loaded): DNS messages, TLS hellos and HTTP requests read, each skip by reason, hits by kind, DNS binding table and hello gathering events.",
);
pub const STORM_RECORDS: Spec = counter(
    "c2tap_storm_records_total",
    NONE,
    "Contact-storm records (SignatureID 1005) sent.",
);
pub const STORM_UNTRACKED: Spec = counter(
    "c2tap_storm_untracked_total",
    NONE,
    "New matched flows of IOCs beyond the storm tracker's bound: they kept per-flow records.",
);
pub const SUPPRESSED: Spec = counter(
    "c2tap_suppressed_total",
    &["rule"],
    "Alerts (1001/1002) an [[exclude]] rule suppressed, by rule name; their flow summaries go with them uncounted. c2tap_matches_total still counts them.",
);
pub const OUTPUT_QUEUED: Spec = gauge(
    "c2tap_output_records_queued",
    OUTPUT,
    "Records waiting in the output's in-memory queue.",
);
pub const OUTPUT_SENT: Spec = counter(
    "c2tap_output_records_sent_total",
    OUTPUT,
    "Records the output delivered.",
);
pub const OUTPUT_SPOOLED: Spec = counter(
    "c2tap_output_records_spooled_total",
    OUTPUT,
    "Records written to the output's disk spool while its destination was unreachable.",
);
pub const OUTPUT_DROPPED: Spec = counter(
    "c2tap_output_records_dropped_total",
    &["output", "reason"],
    "Records lost, by reason: queue_full, spool_full, spool_error, corrupt (a damaged spooled record), shutdown (no spool to keep it).",
);
pub const OUTPUT_RESENT: Spec = counter(
    "c2tap_output_records_resent_total",
    OUTPUT,
    "Sends of records already counted as sent, after a connection loss: duplicates the receiver may see.",
);
pub const OUTPUT_DOWN: Spec = gauge(
    "c2tap_output_down",
    OUTPUT,
    "1 while the output's receiver has stopped confirming (stall_timeout) and its records go to the spool.",
);
pub const OUTPUT_SPOOL_BYTES: Spec = gauge(
    "c2tap_output_spool_bytes",
    OUTPUT,
    "Bytes currently held in the output's disk spool.",
);
pub const OUTPUT_CONNECTED: Spec = gauge(
    "c2tap_output_connected",
    OUTPUT,
    "1 while the output is connected to its destination, else 0.",
);
pub const IOCS_LOADED: Spec = gauge("c2tap_iocs_loaded", NONE, "IOCs in the effective set.");
pub const FEED_LOAD_DURATION: Spec = gauge(
    "c2tap_feed_load_duration_seconds",
    NONE,
    "Time the last successful IOC load took.",
);
pub const FEED_LAST_RELOAD: Spec = gauge(
    "c2tap_feed_last_reload_timestamp_seconds",
    NONE,
    "Unix time of the last successful IOC load.",
);
pub const FEED_LOAD_FAILURES: Spec = counter(
    "c2tap_feed_load_failures_total",
    NONE,
    "IOC loads or reloads that failed (the previous set stays in use).",
);
pub const FEED_REJECTED: Spec = counter(
    "c2tap_feed_rejected_lines_total",
    &["reason"],
    "Feed rows rejected as invalid, by reason, summed over every load.",
);
pub const FEED_FILTERED: Spec = counter(
    "c2tap_feed_filtered_total",
    &["reason"],
    "Valid feed rows left out by the configured filters, by reason, summed over every load.",
);
pub const CAPTURE_RUNNING: Spec = gauge(
    "c2tap_capture_running",
    NONE,
    "1 while packets are being captured or replayed, else 0.",
);
pub const CAPTURE_UP: Spec = gauge(
    "c2tap_capture_up",
    IFACE,
    "1 while the interface is open and every one of its workers is reading, else 0.",
);
pub const CONFIG_RELOAD_FAILURES: Spec = counter(
    "c2tap_config_reload_failures_total",
    NONE,
    "Config reloads (SIGHUP) refused: the running config stays in use; the log says why.",
);
pub const BUILD_INFO: Spec = gauge(
    "c2tap_build_info",
    &["version"],
    "Always 1; the label carries the c2tap version.",
);

/// Every family, in the order the README documents them.
pub const ALL: [Spec; 40] = [
    PACKETS,
    BYTES,
    WIRE_LEN_IMPLAUSIBLE,
    KERNEL_RECEIVED,
    KERNEL_DROPS,
    KERNEL_IF_DROPS,
    DECODE_ERRORS,
    FRAGMENTS_UNATTRIBUTED,
    FLOWS_ACTIVE,
    FLOWS,
    FLOWS_EVICTED,
    FLOWS_EVICTED_MATCHED,
    FLOWS_TIMED_OUT,
    MATCHES,
    IOC_MATCHES,
    RETRO_MATCHES,
    SUMMARIES,
    SHADOWED,
    ALERTS_EARLY,
    STORM_FLOWS,
    NAME_PATH,
    STORM_RECORDS,
    STORM_UNTRACKED,
    SUPPRESSED,
    OUTPUT_QUEUED,
    OUTPUT_SENT,
    OUTPUT_SPOOLED,
    OUTPUT_DROPPED,
    OUTPUT_SPOOL_BYTES,
    OUTPUT_CONNECTED,
    IOCS_LOADED,
    FEED_LOAD_DURATION,
    FEED_LAST_RELOAD,
    FEED_LOAD_FAILURES,
    FEED_REJECTED,
    FEED_FILTERED,
    CAPTURE_RUNNING,
    CAPTURE_UP,
    CONFIG_RELOAD_FAILURES,
    BUILD_INFO,
];
