//! `c2tap replay --syslog` tells the operator whether the records arrived: an unreachable or
//! untrusted receiver makes it print each output's reason and exit non-zero, promptly; and
//! `tls://` works from the command line (`--syslog-ca`) and from `--config`'s
//! `[outputs.options]`, against a real rsyslogd with the gtls driver.

#[path = "support/pki.rs"]
mod pki;
#[path = "support/require.rs"]
mod require;
#[path = "support/rsyslog.rs"]
mod rsyslog;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rsyslog::{Listen, Rsyslog};

const WAIT: Duration = Duration::from_secs(20);

fn c2tap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_c2tap"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("c2tap runs")
}

/// rsyslogd with its TLS driver is part of the test.
fn require_rsyslog_with_tls() {
    require::require(
        rsyslog::available() && rsyslog::tls_available(),
        "rsyslogd with its gtls driver (packages rsyslog, rsyslog-gnutls)",
    );
}

fn tls_daemon(dir: &Path) -> (Rsyslog, PathBuf) {
    let pki = pki::make_pki(dir);
    let ca = pki.ca.clone();
    let listen = Listen::Tls {
        ca: pki.ca,
        cert: pki.cert,
        key: pki.key,
    };
    let port = rsyslog::free_port(&listen);
    let mut daemon = Rsyslog::new(dir, listen, port);
    daemon.start();
    (daemon, ca)
}

#[test]
fn an_unreachable_receiver_is_named_with_its_reason_and_fails_the_replay() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // free once the listener is dropped: nothing listens there
    let started = Instant::now();
    let url = format!("tcp://127.0.0.1:{port}");
    let out = c2tap(&["replay", "--syslog", &url, "pcaps/demo-remcos.pcap"]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "delivery incomplete: tcp-127.0.0.1-{port}: sent=0 dropped=2"
        )) && stderr.contains("receiver never reached: cannot connect: Connection refused"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c2tap: 2 record(s) not delivered"),
        "{stderr}"
    );
    // The records themselves were still printed.
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    // No 30 s wait for a receiver that never answered.
    assert!(took < Duration::from_secs(15), "took {took:?}");

    // UDP: the kernel's "port unreachable" is the reason. In a network namespace of its own,
    // where no other socket can hold that port: the port was only free for TCP, and in the
    // parallel suite another test's UDP receiver (an ephemeral port) can sit on the same
    // number for a while; the replay then rightly waits its 30 s for a receiver that answers
    // (seen once on a clean-clone run: 30.01 s, then "Connection refused").
    require::require(
        require::is_root(),
        "root (a network namespace of its own: unshare --net)",
    );
    let started = Instant::now();
    let url = format!("udp://127.0.0.1:{port}");
    let out = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$@\"",
            "sh",
        ])
        .arg(env!("CARGO_BIN_EXE_c2tap"))
        .args(["replay", "--syslog", &url, "pcaps/demo-remcos.pcap"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("unshare runs (util-linux)");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("delivery incomplete: udp-127.0.0.1-{port}:"))
            && stderr.contains("Connection refused"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn tls_needs_a_ca_and_names_the_flag() {
    let out = c2tap(&[
        "replay",
        "--syslog",
        "tls://127.0.0.1:6514",
        "pcaps/demo-remcos.pcap",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--syslog-ca FILE"), "{stderr}");
    assert!(out.stdout.is_empty(), "fails before replaying");
}

#[test]
fn replay_sends_over_tls_with_syslog_ca_and_with_config_options() {
    require_rsyslog_with_tls();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, ca) = tls_daemon(dir.path());
    let url = format!("tls://127.0.0.1:{}", daemon.port);
    let ca_arg = ca.to_str().unwrap();

    // From the command line.
    let out = c2tap(&[
        "replay",
        "--hostname",
        "sensor01",
        "--syslog",
        &url,
        "--syslog-ca",
        ca_arg,
        "pcaps/demo-remcos.pcap",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sent=2 dropped=0"), "{stderr}");
    let raw = daemon.wait_raw(2, WAIT);
    assert_eq!(raw.len(), 2, "{raw:?}");
    assert!(raw.iter().all(|l| l.starts_with("<164>")), "{raw:?}");

    // From --config: [outputs.options] applies (TLS, facility), its spool_dir does not.
    let spool = dir.path().join("sensor-spool");
    let config = dir.path().join("c2tap.toml");
    std::fs::write(
        &config,
        format!(
            "[outputs.options]\ntls_ca = \"{}\"\nfacility = \"local5\"\nspool_dir = \"{}\"\n",
            ca.display(),
            spool.display()
        ),
    )
    .unwrap();
    let out = c2tap(&[
        "replay",
        "--hostname",
        "sensor01",
        "--config",
        config.to_str().unwrap(),
        "--syslog",
        &url,
        "pcaps/demo-remcos.pcap",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let raw = daemon.wait_raw(4, WAIT);
    assert_eq!(raw.len(), 4, "{raw:?}");
    assert!(raw[2..].iter().all(|l| l.starts_with("<172>")), "{raw:?}");
    assert!(!spool.exists(), "replay must not use the sensor's spool");
}

#[test]
fn an_untrusted_tls_receiver_is_refused_with_the_reason() {
    require_rsyslog_with_tls();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _ca) = tls_daemon(dir.path());
    // A CA that did not sign the receiver's certificate.
    let other = tempfile::tempdir().unwrap();
    let other_ca = pki::make_pki(other.path()).ca;
    let url = format!("tls://127.0.0.1:{}", daemon.port);
    let out = c2tap(&[
        "replay",
        "--syslog",
        &url,
        "--syslog-ca",
        other_ca.to_str().unwrap(),
        "pcaps/demo-remcos.pcap",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("receiver never reached: cannot connect:")
            && stderr.to_lowercase().contains("certificate"),
        "{stderr}"
    );
    assert!(daemon.raw_lines().is_empty());
}
