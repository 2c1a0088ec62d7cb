//! The command line as an operator meets it: a reader that leaves early (`| head -1`) is not an
//! error, usage errors exit 2 as the README says, `replay -` reads standard input, files that
//! are not captures (empty, too short, compressed) say what they are, an unsupported link
//! type fails loudly, a keyless GRE tunnel is shown as `gre`, and the README's `act` table
//! lists every action.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use c2tap::record::Action;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn c2tap() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_c2tap"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn run(args: &[&str]) -> Output {
    c2tap().args(args).output().expect("c2tap runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `args` with a stdout pipe whose reader is already gone, as after `| head -0`.
fn with_stdout_closed(args: &[&str]) -> Output {
    let mut child = c2tap()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("c2tap starts");
    drop(child.stdout.take());
    child.wait_with_output().expect("c2tap ends")
}

#[test]
fn a_reader_that_leaves_early_is_not_an_error() {
    let pcap = repo("pcaps/demo-remcos.pcap");
    let pcap = pcap.to_str().unwrap();
    // A config valid on any machine (the shipped one names the package's user and paths).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c2tap.toml");
    std::fs::write(&config, "[capture]\ninterfaces = [\"eth0\"]\n").unwrap();
    let config = config.to_str().unwrap();
    for args in [
        &["kql"][..],
        &["iocs"],
        &["iocs", "--format", "json"],
        &["replay", pcap],
        &["replay", "--format", "json", pcap],
        &["check-config", "--config", config],
    ] {
        let out = with_stdout_closed(args);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        if args[0] == "replay" {
            assert!(
                stderr.contains("c2tap replay: 1 file(s), 33 packets"),
                "{stderr}"
            );
        } else {
            assert_eq!(stderr, "", "{args:?}");
        }
    }
    // The verdict of check-config is its exit status, reader or not.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[capture]\nworkers = \"two\"\n").unwrap();
    let out = with_stdout_closed(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_2_and_the_readme_says_so() {
    for args in [
        &["replay"][..],
        &["no-such-command"],
        &["replay", "--no-such-flag", "x.pcap"],
        &["iocs", "--format", "yaml"],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A problem with the input, not the usage, is 1.
    assert_eq!(run(&["replay", "no/such/file.pcap"]).status.code(), Some(1));
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let status = readme
        .split("Exit status:")
        .nth(1)
        .expect("the README documents the exit status");
    let status = status.split("\n\n").next().unwrap_or_default();
    assert!(status.contains("2 for a usage error"), "{status}");
}

#[test]
fn replay_dash_reads_standard_input() {
    let pcap = std::fs::read(repo("pcaps/demo-remcos.pcap")).unwrap();
    let mut child = c2tap()
        .args(["replay", "--hostname", "sensor01", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&pcap));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from_stdin = text(&out.stdout);
    let from_file =
        text(&run(&["replay", "--hostname", "sensor01", "pcaps/demo-remcos.pcap"]).stdout);
    assert_eq!(from_stdin.lines().count(), 2, "{from_stdin}");
    // The same records; only the interface name (the file's name) differs.
    assert_eq!(
        from_stdin.replace(
            "deviceInboundInterface=stdin",
            "deviceInboundInterface=demo-remcos.pcap"
        ),
        from_file
    );
}

#[test]
fn files_that_are_not_captures_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = std::fs::read(repo("pcaps/demo-remcos.pcap")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let empty = write("empty.pcap", b"");
    let ten = write("ten.pcap", &pcap[..10]);
    let gz = dir.path().join("demo.pcap.gz");
    let gzip = Command::new("gzip")
        .arg("-c")
        .arg(repo("pcaps/demo-remcos.pcap"))
        .output()
        .expect("gzip is installed");
    std::fs::write(&gz, &gzip.stdout).unwrap();
    for (path, says) in [
        (
            &empty,
            "empty.pcap: empty (0 bytes), not a capture file".to_string(),
        ),
        (
            &ten,
            "ten.pcap: 10 bytes, too short to be a capture file (a pcap header alone is 24 bytes)"
                .to_string(),
        ),
        (
            &gz,
            "demo.pcap.gz: gzip-compressed, not a capture file; unpack it first \
             (`zcat FILE | c2tap replay -` reads it without a copy)"
                .to_string(),
        ),
    ] {
        let out = run(&["replay", path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&says), "{stderr}");
        assert!(!stderr.contains("ends inside a record"), "{stderr}");
        assert!(!stderr.contains("starts with"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // The hint works: the unpacked stream replays.
    let mut child = c2tap()
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let unpacked = Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .unwrap()
        .stdout;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&unpacked));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);
}

/// A classic pcap header with `link` and `n` 60-byte frames of zeros.
fn pcap_with_link(link: u32, n: u32) -> Vec<u8> {
    let mut b = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, link] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..n {
        for v in [1_700_000_000 + i, 0, 60, 60] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[0u8; 60]);
    }
    b
}

#[test]
fn an_unsupported_link_type_fails_with_a_warning_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let radiotap = dir.path().join("wifi.pcap");
    std::fs::write(&radiotap, pcap_with_link(127, 3)).unwrap();
    let out = run(&["replay", radiotap.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("warning: 3 packet(s) were not inspected: their link type is not one c2tap decodes (link types in this input: 127;"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c2tap: 3 packet(s) on a link type c2tap does not decode"),
        "{stderr}"
    );
    // A supported link type with undecodable frames is a decode-error count, not a failure.
    let ethernet = dir.path().join("zeros.pcap");
    std::fs::write(&ethernet, pcap_with_link(1, 3)).unwrap();
    let out = run(&["replay", ethernet.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_keyless_gre_tunnel_is_shown_as_gre() {
    let out = run(&["replay", "pcaps/gre.pcap"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = text(&out.stdout);
    let tunnels: Vec<&str> = records
        .split_whitespace()
        .filter(|w| w.starts_with("c2tapTunnel="))
        .collect();
    assert!(tunnels.contains(&"c2tapTunnel=gre"), "{tunnels:?}");
    assert!(tunnels.contains(&"c2tapTunnel=gre:42"), "{tunnels:?}");
    assert!(!tunnels.contains(&"c2tapTunnel=gre:0"), "{tunnels:?}");
}

#[test]
fn the_readme_act_table_lists_every_action() {
    const ALL: [Action; 12] = [
        Action::Established,
        Action::Rejected,
        Action::Attempted,
        Action::Observed,
        Action::Closed,
        Action::Reset,
        Action::Timeout,
        Action::Shutdown,
        Action::Evicted,
        Action::Health,
        Action::Suppressed,
        Action::Storm,
    ];
    // Fails to compile when an action is added, so ALL cannot fall behind.
    for action in ALL {
        match action {
            Action::Established
            | Action::Rejected
            | Action::Attempted
            | Action::Observed
            | Action::Closed
            | Action::Reset
            | Action::Timeout
            | Action::Shutdown
            | Action::Evicted
            | Action::Health
            | Action::Suppressed
            | Action::Storm => {}
        }
    }
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let table = readme
        .split("| act | meaning |")
        .nth(1)
        .expect("the act table")
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let first_cells: Vec<&str> = table.lines().filter_map(|l| l.split('|').nth(1)).collect();
    for action in ALL {
        let cell = format!("`{}`", action.as_str());
        assert!(
            first_cells.iter().any(|c| c.contains(&cell)),
            "{cell} is missing from the README's act table"
        );
    }
}
