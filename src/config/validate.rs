//! Stage two: the file as written becomes [`Settings`], every problem reported at once with
//! its key path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::detect::storm::{self, StormConfig};
use crate::exclude::severity::SeverityTable;
use crate::exclude::{Disposal, ExclusionSet};
use crate::flow::{limits, FlowConfig, Timeouts};
use crate::ioc::FeedSource;
use crate::output::options::{OutputOptions, OutputSpec};
use crate::pipeline::WorkerConfig;
use crate::units::DurationText;

use super::check::{log_filter, nanos, Check, DAY, MS};
use super::{
    CaptureSettings, ConfigError, IocSettings, MetricsSettings, OutputSettings, RawConfig, Settings,
};

impl RawConfig {
    /// Stage two: every problem at once, or the typed settings.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let mut c = Check::default();
        let capture = self.validate_capture(&mut c);
        let iocs = IocSettings {
            feeds: self
                .iocs
                .feeds
                .iter()
                .map(|f| FeedSource::parse(f))
                .collect(),
            filters: self.iocs.filters.clone(),
            watch_interval: c.optional_duration(
                "iocs.watch_interval",
                &self.iocs.watch_interval,
                Duration::from_secs(1),
            ),
            feed_min_confidence: self.feed_min_confidence(&mut c),
            allow_broad: self.allow_broad(&mut c),
            suffix_names: self.suffix_names(&mut c),
            feed_malware: self.feed_malware(&mut c),
            fetch: crate::feeds::validate(
                &self.iocs.source,
                self.iocs.state_dir.as_deref(),
                &crate::feeds::Units {
                    duration: crate::units::parse_duration,
                    size: crate::units::parse_size,
                },
                &mut |key, message| c.fail(&key, message),
            ),
        };
        for (i, feed) in self.iocs.feeds.iter().enumerate() {
            if feed.trim().is_empty() {
                c.fail(&format!("iocs.feeds[{i}]"), "must not be empty");
            }
        }
        if let Some(conf) = self.iocs.filters.min_confidence {
            if !crate::ioc::CONFIDENCE.contains(&conf) {
                c.fail("iocs.filters.min_confidence", "must be between 0 and 100");
            }
        }
        let f = &self.flow;
        let t = &f.timeouts;
        let mut timeout = |name: &str, text: &DurationText| {
            nanos(c.duration(&format!("flow.timeouts.{name}"), text, MS, 7 * DAY))
        };
        let timeouts = Timeouts {
            tcp_opening: timeout("tcp_opening", &t.tcp_opening),
            tcp_established: timeout("tcp_established", &t.tcp_established),
            tcp_closed: timeout("tcp_closed", &t.tcp_closed),
            udp: timeout("udp", &t.udp),
            other: timeout("other", &t.other),
        };
        let max_flows = c.within("flow.max_flows", f.max_flows, &limits::MAX_FLOWS) as usize;
        let holddown = c.duration_within("flow.holddown", &f.holddown, &limits::HOLDDOWN_MS);
        let storm = StormConfig {
            flows: c.within("flow.storm_flows", f.storm_flows, &storm::limits::FLOWS) as u32,
            window: nanos(c.duration_within(
                "flow.storm_window",
                &f.storm_window,
                &storm::limits::WINDOW_MS,
            )),
        };
        let per_worker = (max_flows / capture.workers.max(1)).max(1);
        let worker = WorkerConfig {
            flow: FlowConfig {
                max_flows: per_worker,
                timeouts,
            },
            holddown: nanos(holddown),
            track_all: f.track_all,
            storm,
        };
        let outputs = self.validate_outputs(&mut c);
        let listen = match self.metrics.listen.trim() {
            "" => None,
            addr => match addr.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    c.fail(
                        "metrics.listen",
                        format!(
                            "`{addr}` is not an address:port (e.g. 127.0.0.1:9917); \"\" = off"
                        ),
                    );
                    None
                }
            },
        };
        let health_interval = c.optional_duration(
            "health.interval",
            &self.health.interval,
            Duration::from_secs(1),
        );
        let log_level = match log_filter(&self.logging.level) {
            Ok(filter) => filter,
            Err(e) => {
                c.fail("logging.level", e);
                "info".to_string()
            }
        };
        if let Some(user) = &self.user {
            let ok = !user.is_empty()
                && user.len() <= 32
                && user
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                c.fail(
                    "user",
                    "must be a system user name (letters, digits, _ and -)",
                );
            }
        }
        let (exclusions, severity) = self.validate_exclusions(&mut c);
        if !c.problems.is_empty() {
            return Err(ConfigError::Invalid(c.problems));
        }
        Ok(Settings {
            capture,
            iocs,
            worker,
            max_flows,
            outputs,
            metrics: MetricsSettings {
                listen,
                ioc_label_threshold: self.metrics.ioc_label_threshold as usize,
            },
            health_interval,
            log_level,
            user: self.user.clone(),
            exclusions,
            severity,
        })
    }

    /// `[iocs.feed_min_confidence]`, aligned with `iocs.feeds`.
    pub(super) fn feed_min_confidence(&self, c: &mut Check) -> Vec<Option<u8>> {
        let iocs = &self.iocs;
        for (feed, &min) in &iocs.feed_min_confidence {
            let key = format!("iocs.feed_min_confidence.\"{feed}\"");
            if !iocs.feeds.iter().any(|f| f == feed) {
                c.fail(&key, "not one of iocs.feeds");
            }
            if !crate::ioc::CONFIDENCE.contains(&min) {
                c.fail(&key, "must be between 0 and 100");
            }
        }
        iocs.feeds
            .iter()
            .map(|f| iocs.feed_min_confidence.get(f).copied())
            .collect()
    }

    /// `[iocs.allow_broad]`, aligned with `iocs.feeds`.
    pub(super) fn allow_broad(&self, c: &mut Check) -> Vec<bool> {
        self.per_feed_flag(c, "allow_broad", &self.iocs.allow_broad)
    }

    /// `[iocs.suffix_names]`, aligned with `iocs.feeds`.
    pub(super) fn suffix_names(&self, c: &mut Check) -> Vec<bool> {
        self.per_feed_flag(c, "suffix_names", &self.iocs.suffix_names)
    }

    /// A `[iocs.KEY]` table of per-feed switches, aligned with `iocs.feeds` (off when absent).
    fn per_feed_flag(&self, c: &mut Check, key: &str, flags: &BTreeMap<String, bool>) -> Vec<bool> {
        let iocs = &self.iocs;
        for feed in flags.keys() {
            if !iocs.feeds.iter().any(|f| f == feed) {
                c.fail(&format!("iocs.{key}.\"{feed}\""), "not one of iocs.feeds");
            }
        }
        iocs.feeds
            .iter()
            .map(|f| flags.get(f).copied().unwrap_or(false))
            .collect()
    }

    /// `[iocs.feed_malware]`, aligned with `iocs.feeds`.
    pub(super) fn feed_malware(&self, c: &mut Check) -> Vec<Option<String>> {
        let iocs = &self.iocs;
        for (feed, name) in &iocs.feed_malware {
            let key = format!("iocs.feed_malware.\"{feed}\"");
            if !iocs.feeds.iter().any(|f| f == feed) {
                c.fail(&key, "not one of iocs.feeds");
            }
            if name.trim().is_empty() {
                c.fail(&key, "must name a malware family");
            }
        }
        iocs.feeds
            .iter()
            .map(|f| iocs.feed_malware.get(f).map(|m| m.trim().to_string()))
            .collect()
    }

    /// `[[exclude]]`, `exclude_action` and `[severity]`.
    pub(super) fn validate_exclusions(&self, c: &mut Check) -> (ExclusionSet, SeverityTable) {
        let default = match self.exclude_action.as_deref().map(Disposal::parse) {
            None => Disposal::Drop,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                c.fail("exclude_action", e);
                Disposal::Drop
            }
        };
        let exclusions = match ExclusionSet::compile_indexed(&self.exclude, default) {
            Ok(set) => set,
            Err(problems) => {
                c.problems.extend(problems);
                ExclusionSet::default()
            }
        };
        (exclusions, self.severity.validate(&mut c.problems))
    }

    /// `outputs.urls` and `[outputs.options]`, parsed once into the output stage's own types.
    pub(super) fn validate_outputs(&self, c: &mut Check) -> OutputSettings {
        if self.outputs.urls.is_empty() {
            c.fail("outputs.urls", "at least one output is required");
        }
        let mut specs = Vec::with_capacity(self.outputs.urls.len());
        for (i, spec) in self.output_specs().into_iter().enumerate() {
            match spec {
                Ok(spec) => specs.push(spec),
                Err(e) => c.fail(&format!("outputs.urls[{i}]"), e),
            }
        }
        let options = match OutputOptions::from_config(&self.outputs.options) {
            Ok(options) => options,
            Err(problems) => {
                c.problems.extend(problems);
                OutputOptions::default()
            }
        };
        OutputSettings { specs, options }
    }

    /// Each of `outputs.urls`, typed or why not, in order (the index is the key's).
    fn output_specs(&self) -> Vec<Result<OutputSpec, String>> {
        let parse = |url: &String| url.parse::<OutputSpec>().map_err(|e| e.to_string());
        self.outputs.urls.iter().map(parse).collect()
    }

    /// `[outputs]` typed on its own, whatever else in the file is wrong, so the checks on what
    /// the sensor will open (TLS files, `file://` outputs, the spool directory) run beside the
    /// other problems: the URLs that parse, each with its index in `outputs.urls`, and the
    /// options if they parse. What does not parse is reported by [`RawConfig::validate`].
    pub fn outputs_alone(&self) -> (Vec<(usize, OutputSpec)>, Option<OutputOptions>) {
        let specs = self.output_specs().into_iter().enumerate();
        let specs = specs.filter_map(|(i, s)| s.ok().map(|s| (i, s))).collect();
        (
            specs,
            OutputOptions::from_config(&self.outputs.options).ok(),
        )
    }

    pub(super) fn validate_capture(&self, c: &mut Check) -> CaptureSettings {
        let r = &self.capture;
        if r.interfaces.is_empty() {
            c.fail("capture.interfaces", "at least one interface is required");
        }
        for (i, name) in r.interfaces.iter().enumerate() {
            // IFNAMSIZ is 16 including the NUL.
            let ok = !name.is_empty()
                && name.len() < 16
                && !name.contains(['/', ' ', '\0'])
                && name != "."
                && name != "..";
            if !ok {
                c.fail(&format!("capture.interfaces[{i}]"), "not an interface name");
            }
            if r.interfaces
                .get(..i)
                .is_some_and(|before| before.contains(name))
            {
                c.fail(&format!("capture.interfaces[{i}]"), "listed twice");
            }
        }
        let snaplen = c.range("capture.snaplen", r.snaplen.into(), 64, 262_144);
        let buffer_size = match r.buffer_size.parse() {
            Ok(n) => c.range("capture.buffer_size", n, 1 << 20, 1 << 30),
            Err(e) => {
                c.fail("capture.buffer_size", e);
                1 << 20
            }
        };
        let timeout = c.duration("capture.timeout", &r.timeout, MS, Duration::from_secs(10));
        let workers = c.range("capture.workers", r.workers.into(), 1, 64) as usize;
        let bpf = r
            .bpf
            .as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if let Some(expr) = &bpf {
            if let Err(e) = crate::capture::prefilter::check_expression(expr) {
                c.fail("capture.bpf", e.to_string());
            }
        }
        let prefilter_max_iocs = c.range(
            "capture.prefilter_max_iocs",
            r.prefilter_max_iocs.into(),
            1,
            crate::capture::prefilter::HARD_MAX_IOCS as u64,
        ) as usize;
        CaptureSettings {
            interfaces: r.interfaces.clone(),
            snaplen: i32::try_from(snaplen).unwrap_or(512),
            buffer_size: i32::try_from(buffer_size).unwrap_or(i32::MAX),
            promiscuous: r.promiscuous,
            immediate: r.immediate,
            timeout,
            workers,
            fanout_group: r.fanout_group,
            bpf,
            prefilter: r.prefilter,
            prefilter_max_iocs,
        }
    }
}
