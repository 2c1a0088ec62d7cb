//! What `c2tap run` checks before it starts capturing, in one function that `check-config`
//! calls too, so the two can never disagree: a config `check-config` passes starts, and one it
//! refuses would not. Beside the data path; nothing here opens a socket or starts a thread.
//!
//! [`check`] reports every problem at once, each with its key path: the file (read, trust,
//! TOML syntax, types), the values, the `user` to switch to (known, not root), the TLS files
//! (present, trusted, readable by that user, and valid), `file://` outputs and the spool
//! directory (where the user can write), and the feeds (present, trusted, readable by that user — and, for
//! `check-config`, loaded, with their counts). `run` loads the feeds itself once it has
//! dropped privileges, with the same loader.

use std::path::Path;

use crate::config::{ConfigError, Problem, RawConfig, Settings};
use crate::ioc::{FeedSource, LoadStats};
use crate::output::deliver::transport::Connector;
use crate::output::{OutputOptions, OutputSpec};
use crate::privilege::{self, Access, Account};

use super::run::RunFlags;

/// A config `run` can start with.
#[derive(Debug)]
pub struct Checked {
    pub settings: Settings,
    /// The account `run` switches to when started as root.
    pub account: Option<Account>,
    /// Load statistics, when the feeds were loaded ([`Feeds::Load`]).
    pub feeds: Option<LoadStats>,
}

/// Whether [`check`] loads the feeds. `run` loads them after dropping privileges (the same
/// loader, so the same verdict); `check-config` loads them here to print their counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feeds {
    Load,
    CheckFiles,
}

/// Every problem that would stop `run` before capture, or what it needs to start.
pub fn check(
    flags: &RunFlags,
    user: Option<&str>,
    feeds: Feeds,
    now_epoch_secs: u64,
) -> Result<Checked, Vec<Problem>> {
    let (mut raw, parse_problems) = match &flags.config {
        Some(path) => RawConfig::read_lenient(path).map_err(|e| e.problems())?,
        None => (RawConfig::default(), Vec::new()),
    };
    apply_flags(flags, &mut raw);
    if let Some(user) = user {
        raw.user = Some(user.to_string());
    }
    let validated = raw.validate_after(parse_problems);
    let mut problems = match &validated {
        Ok(_) => Vec::new(),
        Err(ConfigError::Invalid(problems)) => problems.clone(),
        Err(e) => e.problems(),
    };
    // What the sensor will open is checked from the file as written, so its problems are
    // listed with the others even when some value elsewhere is wrong.
    let named_badly = problems.iter().any(|p| p.key == "user");
    let account = match raw.user.as_deref().filter(|_| !named_badly) {
        Some(name) => match privilege::lookup_user(name) {
            Ok(a) if a.uid == 0 => {
                let e = privilege::PrivilegeError::RootUser(a.name);
                problems.push(problem("user", e.to_string()));
                None
            }
            Ok(a) => Some(a),
            Err(e) => {
                problems.push(problem("user", e.to_string()));
                None
            }
        },
        None => None,
    };
    let reader = Reader::new(account.as_ref(), raw.user.is_some());
    // Typed once by the config: from the settings when they validated, else `[outputs]` alone.
    let (specs, options) = match &validated {
        Ok(s) => (
            s.outputs.specs.iter().cloned().enumerate().collect(),
            Some(s.outputs.options.clone()),
        ),
        Err(_) => raw.outputs_alone(),
    };
    if let Some(options) = &options {
        check_outputs(&specs, options, &reader, &mut problems);
    }
    check_feed_files(&raw, &reader, &mut problems);
    let settings = match validated {
        Ok(settings) if problems.is_empty() => settings,
        _ => return Err(problems),
    };
    let mut stats = None;
    if feeds == Feeds::Load {
        match crate::feeds::load_feeds(&settings.iocs, now_epoch_secs) {
            Ok(loaded) => stats = Some(loaded.stats),
            Err(e) => return Err(vec![problem("iocs.feeds", e.to_string())]),
        }
    }
    Ok(Checked {
        settings,
        account,
        feeds: stats,
    })
}

/// Command-line overrides of the config file.
fn apply_flags(flags: &RunFlags, raw: &mut RawConfig) {
    if !flags.interfaces.is_empty() {
        raw.capture.interfaces = flags.interfaces.clone();
    }
    if !flags.iocs.is_empty() {
        raw.iocs.feeds = flags.iocs.clone();
    }
    if !flags.outputs.is_empty() {
        raw.outputs.urls = flags.outputs.clone();
    }
    if let Some(m) = &flags.metrics {
        raw.metrics.listen = m.clone();
    }
    if let Some(w) = flags.workers {
        raw.capture.workers = w;
    }
    if let Some(b) = &flags.bpf {
        raw.capture.bpf = Some(b.clone());
    }
    if flags.prefilter {
        raw.capture.prefilter = true;
    }
}

fn problem(key: &str, message: impl Into<String>) -> Problem {
    Problem {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Who reads feeds, TLS files and writes `file://` outputs once `run` has started: the
/// configured user when started as root, else this process.
struct Reader {
    /// `Some((uid, gid, name))` when file access must be judged on that user's behalf.
    emulate: Option<(u32, u32, String)>,
    /// Trusts the service user's files while the check runs (started as root).
    _service: Option<privilege::ServiceUser>,
}

impl Reader {
    fn new(account: Option<&Account>, user_configured: bool) -> Reader {
        let root = rustix::process::geteuid().is_root();
        let service = match (root, account) {
            (true, Some(a)) => Some(privilege::read_for_service_user(a.uid)),
            _ => None,
        };
        let emulate = match (root, account) {
            (true, Some(a)) => Some((a.uid, a.gid, a.name.clone())),
            // Root without `user` keeps uid 0 but no capability over file permissions.
            (true, None) if !user_configured => Some((0, 0, "root".into())),
            _ => None,
        };
        Reader {
            emulate,
            _service: service,
        }
    }

    /// Trust and access of a file the sensor reads; `Err` is the message.
    fn readable(&self, path: &Path) -> Result<(), String> {
        if !path.exists() {
            return Err(format!("{}: no such file", path.display()));
        }
        privilege::check_file_trust(path).map_err(|e| e.to_string())?;
        self.may(path, Access::Read)
    }

    fn may(&self, path: &Path, access: Access) -> Result<(), String> {
        match &self.emulate {
            Some((uid, gid, name)) => privilege::may_access(path, *uid, *gid, access)
                .map_err(|e| format!("{}: user {name} cannot use it: {e}", path.display())),
            None => {
                let (uid, gid) = (
                    rustix::process::geteuid().as_raw(),
                    rustix::process::getegid().as_raw(),
                );
                match access {
                    Access::Read => std::fs::File::open(path)
                        .map(|_| ())
                        .map_err(|e| format!("{}: {e}", path.display())),
                    Access::Append => privilege::may_access(path, uid, gid, access)
                        .map_err(|e| format!("{}: {e}", path.display())),
                }
            }
        }
    }
}

/// `specs`: the outputs that parsed, each with its index in `outputs.urls`.
fn check_outputs(
    specs: &[(usize, OutputSpec)],
    opts: &OutputOptions,
    reader: &Reader,
    problems: &mut Vec<Problem>,
) {
    if let Some(dir) = &opts.spool_dir {
        // The outputs create their spool directories in it, as the service user.
        let probe = match dir.is_dir() {
            true => dir.join(".c2tap-probe"),
            false => dir.clone(),
        };
        if let Err(e) = reader.may(&probe, Access::Append) {
            problems.push(problem("outputs.options.spool_dir", e));
        }
    }
    let mut tls_checked = false;
    for (i, spec) in specs {
        let key = format!("outputs.urls[{i}]");
        match spec {
            OutputSpec::Tls { .. } if !tls_checked => {
                tls_checked = true;
                let mut files_ok = true;
                if opts.tls_ca.is_none() {
                    problems.push(problem(
                        "outputs.options.tls_ca",
                        format!("{key} is tls:// and needs the receiver's CA (PEM file)"),
                    ));
                    files_ok = false;
                }
                let files = [
                    ("tls_ca", &opts.tls_ca),
                    ("tls_cert", &opts.tls_cert),
                    ("tls_key", &opts.tls_key),
                ];
                for (name, path) in files {
                    if let Some(path) = path {
                        if let Err(e) = reader.readable(path) {
                            problems.push(problem(&format!("outputs.options.{name}"), e));
                            files_ok = false;
                        }
                    }
                }
                if files_ok {
                    if let Err(e) = Connector::new(spec, opts) {
                        problems.push(problem(&key, e.to_string()));
                    }
                }
            }
            OutputSpec::File { path, .. } => {
                let checked = privilege::Trust::current()
                    .check_output(path)
                    .map_err(|e| e.to_string())
                    .and_then(|()| writable_mount(path))
                    .and_then(|()| reader.may(path, Access::Append));
                if let Err(e) = checked {
                    problems.push(problem(&key, e));
                }
            }
            _ => {}
        }
    }
}

/// Permission bits say nothing of a read-only mount, which is what the systemd unit's
/// `ProtectSystem=strict` makes of everything but its own directories: the output would fail
/// at its first record. Judged on the file, or the nearest directory that exists (the output
/// creates the file), without creating anything.
fn writable_mount(path: &Path) -> Result<(), String> {
    let existing = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    match rustix::fs::statvfs(existing) {
        Ok(st) if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) => {}
        // Not read-only, or not knowable here: the output's own open reports the rest.
        _ => return Ok(()),
    }
    Err(format!(
        "{}: on a read-only file system. Under the systemd unit (ProtectSystem=strict) only \
         /var/log/c2tap/ (LogsDirectory=c2tap) and /var/lib/c2tap/ are writable: write the \
         file there, or add its directory to the unit's ReadWritePaths= \
         (`systemctl edit c2tap`)",
        path.display()
    ))
}

fn check_feed_files(raw: &RawConfig, reader: &Reader, problems: &mut Vec<Problem>) {
    for (i, feed) in raw.iocs.feeds.iter().enumerate() {
        if feed.trim().is_empty() {
            continue; // reported by the config's own validation
        }
        if let FeedSource::File(path) = FeedSource::parse(feed) {
            if let Err(e) = reader.readable(&path) {
                problems.push(problem(&format!("iocs.feeds[{i}]"), e));
            }
        }
    }
}
