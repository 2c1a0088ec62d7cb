//! `check-config` tells the truth about `run`, and files only the right people can change are
//! read: every problem `run` would stop on is listed by `check-config` with its key path (a
//! property test over generated configs compares the two), and the file-trust rules are tried
//! the way an attacker would — files owned by another user, shared directories, links into
//! them — as root, and as an ordinary user with umask 0002.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use c2tap::app::check_config::check_config;
use c2tap::app::run::{settings, RunFlags};
use c2tap::output::Dispatcher;
use c2tap::record::SensorContext;
use proptest::prelude::*;

#[path = "support/netns.rs"]
mod netns;
#[path = "support/require.rs"]
mod require;

use netns::lab;

const C2TAP: &str = env!("CARGO_BIN_EXE_c2tap");
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    rustix_uid() == 0
}

fn rustix_uid() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

/// Root and the `nobody` account are needed.
fn require_privileged_host() {
    require::require(
        is_root() && require::has_nobody(),
        "root and the nobody account",
    );
}

/// A private scratch directory only root may write, as a test's root of paths.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    dir
}

/// A one-IOC feed owned by `uid` with `mode`.
fn feed_file(dir: &Path, uid: u32, mode: u32) -> PathBuf {
    let feed = dir.join("feed.txt");
    fs::write(&feed, "138.9.223.13:8015\n").unwrap();
    chmod(&feed, mode);
    chown(&feed, uid);
    feed
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn check(path: &Path) -> (bool, String) {
    c2tap(&["check-config", "--config"], path)
}

/// Runs `c2tap ARGS PATH`; success and stdout + stderr.
fn c2tap(args: &[&str], path: &Path) -> (bool, String) {
    let out = Command::new(C2TAP).args(args).arg(path).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A minimal config that starts on loopback with the built-in set, no metrics endpoint.
fn base(dir: &Path, extra: &str) -> PathBuf {
    config_in(dir, extra, dir)
}

/// [`base`] with the records written to a file in `out_dir`.
fn config_in(dir: &Path, extra: &str, out_dir: &Path) -> PathBuf {
    let path = dir.join("c2tap.toml");
    let out = out_dir.join("alerts.log");
    fs::write(
        &path,
        format!(
            "{extra}\n[capture]\ninterfaces = [\"lo\"]\n[metrics]\nlisten = \"\"\n\
             [outputs]\nurls = [\"file://{}\"]\n",
            out.display()
        ),
    )
    .unwrap();
    chmod(&path, 0o640);
    path
}

#[test]
fn check_config_lists_every_problem_run_would_stop_on_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let ww = dir.path().join("shared-feed.txt");
    fs::write(&ww, "138.9.223.13:8015\n").unwrap();
    chmod(&ww, 0o666);
    let path = dir.path().join("c.toml");
    fs::write(
        &path,
        format!(
            "user = \"no-such-user\"\n\
             [capture]\ninterfaces = [\"eth0\"]\nworkers = \"2\"\nsnaplen = \"x\"\n\
             [iocs]\nfeeds = [\"{}/missing.txt\", \"{}\"]\n\
             [outputs]\nurls = [\"tls://127.0.0.1:6514\"]\n\
             [logging]\nlevel = \"verbose\"\n\
             [flow.timeouts]\nudp = 5.5\n",
            dir.path().display(),
            ww.display()
        ),
    )
    .unwrap();
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    for want in [
        "capture.workers: invalid type: string \"2\", expected u32",
        "capture.snaplen: invalid type: string \"x\", expected u32",
        "flow.timeouts.udp: invalid type: floating point `5.5`, expected a duration",
        "logging.level: `verbose` is not a level",
        "user: user `no-such-user` is not in /etc/passwd",
        "outputs.options.tls_ca: outputs.urls[0] is tls:// and needs the receiver's CA",
        "iocs.feeds[0]: ",
        "iocs.feeds[1]: ",
        "writable by other users (mode 0666)",
        "8 problem(s)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // A missing CA file, and root as the user.
    fs::write(
        &path,
        format!(
            "user = \"root\"\n[capture]\ninterfaces = [\"eth0\"]\n[outputs]\n\
             urls = [\"tls://127.0.0.1:6514\"]\n[outputs.options]\ntls_ca = \"{}/ca.pem\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    assert!(text.contains("user: user `root` is root"), "{text}");
    assert!(text.contains("outputs.options.tls_ca: "), "{text}");
    assert!(text.contains("ca.pem: no such file"), "{text}");

    // TOML syntax errors keep toml's own text: line, column and a caret.
    fs::write(&path, "[capture\ninterfaces = 1\n").unwrap();
    let (ok, text) = check(&path);
    assert!(!ok);
    assert!(
        text.contains("TOML parse error at line 1, column 9") && text.contains("^"),
        "{text}"
    );
}

#[test]
fn check_config_loads_the_feeds_and_prints_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.txt");
    fs::write(&feed, "138.9.223.13:8015\n10.0.0.0/8\n").unwrap();
    let path = base(
        dir.path(),
        &format!(
            "[iocs]\nfeeds = [\"{0}\", \"builtin\"]\n[iocs.allow_broad]\n\"{0}\" = true\n",
            feed.display()
        ),
    );
    let (ok, text) = check(&path);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok (1 interface(s), 1 worker(s) each, 1 output(s), 3 IOCs)"),
        "{text}"
    );
    assert!(text.contains("2 rows, 2 loaded"), "{text}");
    assert!(
        text.contains("WARNING: ") && text.contains("10.0.0.0/8 (too_broad)"),
        "{text}"
    );
}

/// The shipped config and feed, as the package installs them (paths under /etc/c2tap mapped
/// to the repository's files through the package's asset table), pass check-config, and `run`
/// with them captures on a veth in a namespace and reports the built-in Remcos endpoints the
/// shipped feed holds. The record file is created by the service user: outputs are opened
/// after the privilege drop.
#[test]
fn the_shipped_files_pass_check_config_and_start_and_every_referenced_file_is_packaged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let assets: Vec<(String, String)> = cargo
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("[\"")?;
            let (src, rest) = l.split_once("\", \"")?;
            let (dst, _) = rest.split_once('"')?;
            Some((src.to_string(), format!("/{dst}")))
        })
        .collect();
    let shipped = fs::read_to_string(root.join("config/c2tap.toml")).unwrap();
    let mut text = shipped.clone();
    let dir = scratch();
    for line in shipped.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for word in line.split('"').filter(|w| w.starts_with("/etc/c2tap/")) {
            let (src, _) = assets
                .iter()
                .find(|(_, dst)| dst == word)
                .unwrap_or_else(|| panic!("{word} is named by the config but not packaged"));
            let copy = dir.path().join(Path::new(word).file_name().unwrap());
            fs::copy(root.join(src), &copy).unwrap();
            chmod(&copy, 0o644);
            text = text.replace(word, &copy.display().to_string());
        }
    }
    require_privileged_host();
    // Local adjustments only: this host has no `c2tap` user and no eth1; the test reads the
    // records from a file instead of a syslog receiver, and owns the spool.
    let c2tap_uid = fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("c2tap:x:")?
                .split(':')
                .next()?
                .parse::<u32>()
                .ok()
        });
    let has_c2tap = c2tap_uid.is_some();
    let (service, service_uid) = match c2tap_uid {
        Some(uid) => ("c2tap", uid),
        None => ("nobody", NOBODY),
    };
    let lab = lab();
    // The systemd unit's StateDirectory gives the service user its directory.
    let state = dir.path().join("state");
    fs::create_dir(&state).unwrap();
    chmod(&state, 0o700);
    let spool = state.join("spool");
    let records = state.join("records.json");
    text = text
        .replace("user = \"c2tap\"", &format!("user = \"{service}\""))
        .replace("\"eth1\"", &format!("\"{}\"", lab.sensor_if))
        .replace("/var/lib/c2tap/spool", &spool.display().to_string())
        .replace("listen = \"127.0.0.1:9917\"", "listen = \"\"")
        .replace(
            "urls = [\"udp://127.0.0.1:514\"]",
            &format!("urls = [\"file://{}?format=json\"]", records.display()),
        );
    let path = dir.path().join("c2tap.toml");
    fs::write(&path, &text).unwrap();
    chmod(&path, 0o640);
    if !has_c2tap {
        // A state directory the service user cannot write would stop `run`: check-config
        // says so.
        let (ok, out) = check(&path);
        assert!(!ok && out.contains("outputs.options.spool_dir: "), "{out}");
        assert!(out.contains("outputs.urls[0]: "), "{out}");
        chown(&state, service_uid);
    }
    let (ok, out) = check(&path);
    assert!(ok, "{out}");
    assert!(out.contains(", 2 IOCs)"), "{out}");

    let log_path = dir.path().join("stderr.log");
    let mut child = lab
        .in_sensor(C2TAP)
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || fs::read_to_string(&log_path).unwrap_or_default();
    let until = std::time::Instant::now() + Duration::from_secs(15);
    while !log().contains("capture started") && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(log().contains("iocs=2"), "{}", log());
    lab.replay(&root.join("pcaps/demo-remcos.pcap"));
    std::thread::sleep(Duration::from_millis(700));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success(), "{}", log());
    let got = fs::read_to_string(&records).unwrap_or_default();
    assert!(
        got.contains("\"signature_id\":1001") && got.contains("138.9.223.13"),
        "records:\n{got}\nlog:\n{}",
        log()
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&records).unwrap().uid(), service_uid);
}

// ------------------------------------------------------------------ check-config ⇔ run

/// What `run` does before capture, with the real parts: the shared start-up check, the feed
/// load `run` does after dropping privileges, and the outputs started (and shut down).
fn run_start_path(path: &Path) -> Result<(), String> {
    let flags = RunFlags {
        config: Some(path.to_path_buf()),
        ..RunFlags::default()
    };
    let s = settings(&flags).map_err(|e| e.to_string())?;
    // `run` loads the feeds after switching to `user`; this process stays root, so it trusts
    // that user's files the way the switched sensor does.
    let service = s
        .user
        .as_deref()
        .and_then(|u| c2tap::privilege::lookup_user(u).ok())
        .map(|a| c2tap::privilege::read_for_service_user(a.uid));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    c2tap::feeds::load_feeds(&s.iocs, now).map_err(|e| e.to_string())?;
    drop(service);
    let (specs, opts) = (s.outputs.specs.clone(), s.outputs.options.clone());
    let ctx = SensorContext {
        hostname: "t".into(),
        replay: false,
    };
    let d = Dispatcher::start(specs, opts, ctx).map_err(|e| e.to_string())?;
    d.shutdown(Duration::ZERO);
    Ok(())
}

/// A self-signed CA for the TLS cases.
fn ca_pem() -> String {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    cert.cert.pem()
}

/// One generated config: each field picks one variant of one setting (see [`write_case`]).
#[derive(Debug, Clone)]
struct Case {
    user: usize,
    level: usize,
    workers: usize,
    feed: usize,
    output: usize,
    max_age: usize,
    config_mode: usize,
    spool: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (0..4usize, 0..4usize, 0..3usize, 0..7usize),
        (0..6usize, 0..2usize, 0..3usize, 0..2usize),
    )
        .prop_map(
            |((user, level, workers, feed), (output, max_age, config_mode, spool))| Case {
                user,
                level,
                workers,
                feed,
                output,
                max_age,
                config_mode,
                spool,
            },
        )
}

fn write_case(dir: &Path, c: &Case) -> PathBuf {
    let good = dir.join("good.txt");
    fs::write(&good, "138.9.223.13:8015\n").unwrap();
    let shared = dir.join("shared.txt");
    fs::write(&shared, "138.9.223.13:8015\n").unwrap();
    chmod(&shared, 0o666);
    let broad = dir.join("broad.txt");
    fs::write(&broad, "10.0.0.0/8\n").unwrap();
    let theirs = dir.join("theirs.txt");
    fs::write(&theirs, "138.9.223.13:8015\n").unwrap();
    if is_root() {
        chown(&theirs, NOBODY);
    }
    let ca = dir.join("ca.pem");
    if !ca.exists() {
        fs::write(&ca, ca_pem()).unwrap();
    }
    let user = [
        "",
        "user = \"nobody\"\n",
        "user = \"root\"\n",
        "user = \"nosuch\"\n",
    ][c.user];
    let level = ["info", "warning", "verbose", "info,c2tap=debug"][c.level];
    let workers = ["1", "\"2\"", "0"][c.workers];
    let feed = [
        String::new(),
        format!("\"{}\"", good.display()),
        format!("\"{}/missing.txt\"", dir.display()),
        format!("\"{}\"", shared.display()),
        format!("\"{}\"", broad.display()),
        format!("\"{}\"", dir.display()),
        format!("\"{}\"", theirs.display()),
    ][c.feed]
        .clone();
    let (url, options) = [
        ("udp://127.0.0.1:514".to_string(), String::new()),
        ("tls://127.0.0.1:6514".to_string(), String::new()),
        (
            "tls://127.0.0.1:6514".to_string(),
            format!("tls_ca = \"{}/nope.pem\"\n", dir.display()),
        ),
        (
            "tls://127.0.0.1:6514".to_string(),
            format!("tls_ca = \"{}\"\n", ca.display()),
        ),
        (format!("file://{}/out.log", dir.display()), String::new()),
        (
            format!("file://{}/no/dir/out.log", dir.display()),
            String::new(),
        ),
    ][c.output]
        .clone();
    let max_age = ["0", "90"][c.max_age];
    let spool = [
        String::new(),
        format!("spool_dir = \"{}/no/such/parent/spool\"\n", dir.display()),
    ][c.spool]
        .clone();
    let path = dir.join("c.toml");
    fs::write(
        &path,
        format!(
            "{user}[capture]\ninterfaces = [\"lo\"]\nworkers = {workers}\n\
             [iocs]\nfeeds = [{feed}]\n[iocs.filters]\nmax_age_days = {max_age}\n\
             [outputs]\nurls = [\"{url}\"]\n[outputs.options]\n{options}{spool}\
             [metrics]\nlisten = \"\"\n[logging]\nlevel = \"{level}\"\n"
        ),
    )
    .unwrap();
    match c.config_mode {
        0 => chmod(&path, 0o600),
        1 => chmod(&path, 0o666),
        _ if is_root() => chown(&path, NOBODY),
        _ => {}
    }
    path
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// check-config accepts exactly the configs whose start-up (everything before capture)
    /// succeeds.
    #[test]
    fn check_config_accepts_exactly_what_run_starts_with(c in case()) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_case(dir.path(), &c);
        let mut out = Vec::new();
        let checked = check_config(&path, &mut out).unwrap();
        let started = run_start_path(&path);
        prop_assert_eq!(
            checked,
            started.is_ok(),
            "check-config said:\n{}\nrun said: {:?}\n{}",
            String::from_utf8_lossy(&out),
            started,
            fs::read_to_string(&path).unwrap()
        );
    }
}

// ------------------------------------------------------------------ file trust, privileged

#[test]
fn a_root_started_sensor_refuses_files_others_could_change() {
    require_privileged_host();
    let dir = scratch();

    // A config owned by nobody (mode 0644).
    let path = base(dir.path(), "");
    chown(&path, NOBODY);
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    assert!(text.contains("is owned by nobody (uid 65534)"), "{text}");
    let run = Command::new(C2TAP)
        .args(["run", "--config"])
        .arg(&path)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("is owned by nobody"));
    chown(&path, 0);

    // A root-owned config in a directory owned by nobody.
    let sub = dir.path().join("by-nobody");
    fs::create_dir(&sub).unwrap();
    chown(&sub, NOBODY);
    let inner = base(&sub, "");
    let (ok, text) = check(&inner);
    assert!(!ok && text.contains("its directory"), "{text}");

    // A symlink to a file in a 0777 directory.
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let target = base(&open, "");
    let link = dir.path().join("link.toml");
    symlink(&target, &link).unwrap();
    let (ok, text) = check(&link);
    assert!(
        !ok && text.contains("lets other users replace it"),
        "{text}"
    );

    // A file under a 0755 directory inside a 0777 one.
    let deep = open.join("deep");
    fs::create_dir(&deep).unwrap();
    chmod(&deep, 0o755);
    let (ok, text) = check(&base(&deep, ""));
    assert!(
        !ok && text.contains("lets other users replace it"),
        "{text}"
    );

    // A sticky shared directory (like /tmp): root's own file is fine, nobody's is not, and
    // the advice is to move it, never to chmod the shared directory.
    let sticky = dir.path().join("sticky");
    fs::create_dir(&sticky).unwrap();
    chmod(&sticky, 0o1777);
    let own = config_in(&sticky, "", dir.path());
    let (ok, text) = check(&own);
    assert!(ok, "{text}");
    chown(&own, NOBODY);
    let (ok, text) = check(&own);
    assert!(!ok, "{text}");
    assert!(
        !text.contains(&format!("chmod go-w {}", sticky.display())),
        "{text}"
    );
    assert!(
        text.contains("move the file") || text.contains("change the owner"),
        "{text}"
    );
}

#[test]
fn feeds_owned_by_the_service_user_are_trusted_and_others_are_not() {
    require_privileged_host();
    let dir = scratch();
    let feed = feed_file(dir.path(), NOBODY, 0o644);
    let with_user = format!(
        "user = \"nobody\"\n[iocs]\nfeeds = [\"{}\"]\n",
        feed.display()
    );
    let path = base(dir.path(), &with_user);
    // The output file must be writable by nobody too.
    let out = dir.path().join("alerts.log");
    fs::write(&out, "").unwrap();
    chown(&out, NOBODY);
    let (ok, text) = check(&path);
    assert!(ok, "{text}");
    // Without `user`, the sensor stays root and trusts only root's files.
    let without = base(
        dir.path(),
        &format!("[iocs]\nfeeds = [\"{}\"]\n", feed.display()),
    );
    let (ok, text) = check(&without);
    assert!(!ok && text.contains("iocs.feeds[0]: "), "{text}");
    // A TLS CA only root can read is refused for user nobody: the sensor reads it after
    // switching.
    let ca = dir.path().join("ca.pem");
    fs::write(&ca, ca_pem()).unwrap();
    chmod(&ca, 0o600);
    let tls = format!(
        "user = \"nobody\"\n[outputs]\nurls = [\"tls://127.0.0.1:6514\"]\n[outputs.options]\n\
         tls_ca = \"{}\"\n[capture]\ninterfaces = [\"lo\"]\n[metrics]\nlisten = \"\"\n",
        ca.display()
    );
    fs::write(&path, tls).unwrap();
    let (ok, text) = check(&path);
    assert!(!ok && text.contains("user nobody cannot use it"), "{text}");
    chmod(&ca, 0o644);
    let (ok, text) = check(&path);
    assert!(ok, "{text}");
}

#[test]
fn a_root_only_file_named_as_a_feed_is_not_echoed() {
    require_privileged_host();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("shadow");
    fs::write(
        &secret,
        "root:$6$SALTSALT$TOPSECRETHASHVALUETHATMUSTNOTLEAK:19000:0:99999:7:::\n",
    )
    .unwrap();
    chmod(&secret, 0o600);
    let (ok, text) = c2tap(&["iocs", "--iocs"], &secret);
    assert!(!ok, "{text}");
    assert!(!text.contains("TOPSECRET"), "{text}");
}

// ------------------------------------------------------------------ an ordinary user

/// An ordinary user's replay of their own files with umask 0002 (group-writable files and
/// directories, as Debian and Ubuntu give users) works.
#[test]
fn an_ordinary_users_group_writable_files_are_accepted() {
    require_privileged_host();
    let dir = scratch();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    chmod(&home, 0o2775);
    chown(&home, NOBODY);
    let feed = feed_file(&home, NOBODY, 0o664);
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/demo-remcos.pcap");
    let out = Command::new(C2TAP)
        .args(["replay", "--iocs"])
        .arg(&feed)
        .arg(pcap)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("|1001|"));

    // The same files, read by root, are refused: group-writable.
    let out = Command::new(C2TAP)
        .args(["iocs", "--iocs"])
        .arg(&feed)
        .output()
        .unwrap();
    assert!(!out.status.success());

    // A world-writable file is refused for the ordinary user too.
    chmod(&feed, 0o666);
    let out = Command::new(C2TAP)
        .args(["iocs", "--iocs"])
        .arg(&feed)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod o-w"));
}

/// A root-started sensor without `user` keeps uid 0: a link planted at its `file://` output
/// path would aim records (text an attacker can shape with packets) at any root-owned file.
#[test]
fn a_file_output_never_follows_a_planted_link() {
    require_privileged_host();
    let dir = scratch();
    let victim = dir.path().join("victim");
    fs::write(&victim, "root-only\n").unwrap();
    chmod(&victim, 0o600);
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let planted = shared.join("alerts.log");
    symlink(&victim, &planted).unwrap();
    chown(&planted, NOBODY);
    let path = dir.path().join("c2tap.toml");
    fs::write(
        &path,
        format!(
            "[capture]\ninterfaces = [\"lo\"]\n[metrics]\nlisten = \"\"\n\
             [outputs]\nurls = [\"file://{}\"]\n",
            planted.display()
        ),
    )
    .unwrap();
    chmod(&path, 0o600);
    let (ok, text) = check(&path);
    assert!(!ok && text.contains("outputs.urls[0]: "), "{text}");
    assert!(text.contains("symbolic link"), "{text}");
    let (ok, text) = c2tap(&["run", "--config"], &path);
    assert!(!ok && text.contains("symbolic link"), "{text}");
    // Even in a directory only root may write, the output is not a link.
    let own = dir.path().join("own.log");
    symlink(&victim, &own).unwrap();
    fs::write(
        &path,
        format!(
            "[capture]\ninterfaces = [\"lo\"]\n[outputs]\nurls = [\"file://{}\"]\n",
            own.display()
        ),
    )
    .unwrap();
    let (ok, text) = check(&path);
    assert!(!ok && text.contains("symbolic link"), "{text}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "root-only\n");
}

/// `level = "warning"` used to pass check-config and then silence every log line (tracing
/// took the word for a target name). It is now the warn level: warnings are printed.
#[test]
fn a_warning_level_written_as_warning_prints_warnings() {
    require_privileged_host();
    let dir = scratch();
    let path = base(dir.path(), "");
    let text = fs::read_to_string(&path).unwrap() + "[logging]\nlevel = \"warning\"\n";
    fs::write(&path, text).unwrap();
    let (ok, out) = check(&path);
    assert!(ok, "{out}");
    let mut child = Command::new(C2TAP)
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(child.wait().unwrap().success(), "{log}");
    // Started as root without `user`: one warning, and no info line.
    assert!(
        log.contains("WARN") && log.contains("running as root without `user`"),
        "{log}"
    );
    assert!(!log.contains("INFO"), "{log}");
}

/// A FIFO (or any non-regular file) where a config or feed should be is refused at once,
/// instead of blocking the reader forever.
#[test]
fn a_fifo_in_place_of_a_config_or_feed_is_refused_at_once() {
    let dir = scratch();
    let fifo = dir.path().join("feed.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let started = std::time::Instant::now();
    let (ok, text) = check(&fifo);
    assert!(!ok && text.contains("is a FIFO"), "{text}");
    let path = base(
        dir.path(),
        &format!("[iocs]\nfeeds = [\"{}\"]\n", fifo.display()),
    );
    let (ok, text) = check(&path);
    assert!(
        !ok && text.contains("iocs.feeds[0]: ") && text.contains("is a FIFO"),
        "{text}"
    );
    let (ok, text) = c2tap(&["iocs", "--iocs"], &fifo);
    assert!(!ok && text.contains("is a FIFO"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
