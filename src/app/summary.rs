//! The replay summary on stderr: what was read, what matched, what was skipped and why, so an
//! operator validating a pcap sees every packet accounted for.

use std::io::Write;
use std::time::Duration;

use crate::decode::DecodeError;
use crate::pipeline::WorkerStats;

pub struct Summary<'a> {
    pub files: usize,
    pub stats: &'a WorkerStats,
    pub elapsed: Duration,
    pub warnings: &'a [String],
}

impl Summary<'_> {
    pub fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let s = self.stats;
        let secs = self.elapsed.as_secs_f64();
        let pps = if secs > 0.0 {
            s.packets as f64 / secs
        } else {
            0.0
        };
        writeln!(
            w,
            "c2tap replay: {} file(s), {} packets, {} bytes, {} flows in {:.3} s ({:.0} packets/s)",
            self.files, s.packets, s.bytes, s.flows_created, secs, pps
        )?;
        writeln!(
            w,
            "  matches: exact(1001)={} address(1002)={} summaries(1003)={} retro={}",
            s.matches[0], s.matches[1], s.summaries, s.retro_matches
        )?;
        let [_, _, lookup, via, sni, http] = s.matches;
        if lookup + via + sni + http > 0 {
            writeln!(
                w,
                "  names: lookup(1010)={lookup} via_domain(1011)={via} sni(1012)={sni} http(1013)={http}"
            )?;
        }
        let n = &s.names;
        if n.dns_messages + n.tls_hellos + n.http_requests > 0 || n.skips() > 0 {
            writeln!(
                w,
                "  name path: dns={} tls_hellos={} http={} skipped={} ({}) bindings: inserted={} expired={} overflow={}",
                n.dns_messages,
                n.tls_hellos,
                n.http_requests,
                n.skips(),
                n.skip_reasons(),
                n.bindings.inserts,
                n.bindings.expired,
                n.bindings.overflow + n.bindings.answer_overflow,
            )?;
        }
        writeln!(
            w,
            "  flows: evicted={} timed_out={} fragments_unattributed={}",
            s.flows_evicted, s.flows_timed_out, s.fragments_unattributed
        )?;
        let storms = &s.storms;
        if storms.records > 0 || s.alerts_early > 0 || s.flows_evicted_matched > 0 {
            writeln!(
                w,
                "  floods: storms(1005)={} folded 1001={} 1002={} 1003={}, alerts sent early={}, \
                 matched flows evicted={}",
                storms.records,
                storms.folded[0],
                storms.folded[1],
                storms.folded[2],
                s.alerts_early,
                s.flows_evicted_matched
            )?;
        }
        let errors: Vec<String> = DecodeError::ALL
            .iter()
            .zip(s.decode_errors.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{}={n}", k.kind()))
            .collect();
        let total: u64 = s.decode_errors.iter().sum();
        if errors.is_empty() {
            writeln!(w, "  decode errors: 0")?;
        } else {
            writeln!(w, "  decode errors: {total} ({})", errors.join(" "))?;
        }
        if s.time_steps_back > 0 || s.time_jumps > 0 {
            writeln!(
                w,
                "  packet time: {} packet(s) over 1 s older than the newest (the clock kept the \
                 newest), {} jump(s) over 1 h ahead (open flows timed out at once)",
                s.time_steps_back, s.time_jumps
            )?;
        }
        if s.wire_len_implausible > 0 {
            writeln!(
                w,
                "  wire length: {} frame(s) stated an implausible one (under the captured length, \
                 or over {} bytes): their captured length was counted",
                s.wire_len_implausible,
                crate::pipeline::WIRE_LEN_MAX
            )?;
        }
        for warning in self.warnings {
            writeln!(w, "warning: {warning}")?;
        }
        Ok(())
    }
}
