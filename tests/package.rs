//! The Debian package as a user installs it: `cargo deb` builds it (from the binary this test
//! run already built, `--no-build`, so the suite does not pay for a release build), `dpkg-deb -c` lists what it holds, and `dpkg -x` installs it into a fresh root
//! (never the real one) where the files, the unit (`systemd-analyze verify`) and the
//! installed config are checked. `tests/config_trust.rs` checks that the config and feed the
//! asset table names pass check-config and start; here the package is shown to hold exactly
//! those files. Also: a `file://` output on a read-only mount (what the unit's
//! `ProtectSystem=strict` makes of everything but its own directories) is refused at start-up
//! with the unit setting to change.
//!
//! Needs `cargo deb` (`cargo install --locked cargo-deb`; scripts/test.sh installs it),
//! `dpkg-deb` and `systemd-analyze`; the mount test needs root.

#[path = "support/require.rs"]
mod require;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const C2TAP: &str = env!("CARGO_BIN_EXE_c2tap");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A missing tool fails the test with the reason (it never passes by doing nothing).
fn need(tool: &str, args: &[&str]) {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    require::require(
        ok,
        &format!(
            "`{tool} {}` (cargo deb: cargo install --locked cargo-deb)",
            args.join(" ")
        ),
    );
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Files git tracks under `dir` (relative to the repository).
fn tracked(dir: &str) -> Vec<String> {
    run(Command::new("git")
        .args(["ls-files", dir])
        .current_dir(repo()))
    .lines()
    .map(str::to_string)
    .collect()
}

/// Where each shipped repository file must land in the package.
fn expected_files() -> Vec<(String, String)> {
    let mut want: Vec<(String, String)> = [
        ("config/c2tap.toml", "etc/c2tap/c2tap.toml"),
        ("config/iocs.txt", "etc/c2tap/iocs.txt"),
        ("README.md", "usr/share/doc/c2tap/README.md"),
        (
            "systemd/c2tap.service",
            "usr/lib/systemd/system/c2tap.service",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for (dir, to) in [
        ("docs/sentinel", "usr/share/c2tap/sentinel"),
        ("config/prometheus", "usr/share/c2tap/prometheus"),
        ("config/grafana", "usr/share/c2tap/grafana"),
    ] {
        for file in tracked(dir) {
            let rel = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .trim_start_matches('/');
            want.push((file.clone(), format!("{to}/{rel}")));
        }
    }
    want
}

/// Builds the package into `out` from the binary this test run built: it is placed where
/// cargo-deb looks for the release binary (`$CARGO_TARGET_DIR/release/c2tap`) under a scratch
/// target directory, so the suite never pays for a release build (about 8 s instead of
/// minutes; `--fast` compression).
fn build_deb(out: &Path) -> PathBuf {
    let target = out.join("target");
    fs::create_dir_all(target.join("release")).expect("scratch target dir");
    fs::copy(C2TAP, target.join("release/c2tap")).expect("binary");
    run(Command::new("cargo")
        .args(["deb", "--no-build", "--fast", "--output"])
        .arg(out)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(repo()));
    fs::read_dir(out)
        .expect("output dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb")
}

#[test]
fn the_package_installs_the_binary_unit_config_and_the_soc_kit() {
    need("cargo", &["deb", "--version"]);
    need("dpkg-deb", &["--version"]);
    need("systemd-analyze", &["--version"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let deb = build_deb(dir.path());

    // What the package holds: every expected file, each kit directory complete.
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: BTreeSet<String> = listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| p.trim_start_matches("./").to_string())
        .collect();
    let want = expected_files();
    for (_, dst) in &want {
        assert!(
            files.contains(dst),
            "{dst} missing from the package:\n{listing}"
        );
    }
    assert!(files.contains("usr/bin/c2tap"), "{listing}");
    let kit = files.iter().filter(|f| f.starts_with("usr/share/c2tap/"));
    assert_eq!(
        kit.count(),
        want.iter()
            .filter(|(_, d)| d.starts_with("usr/share/c2tap/"))
            .count(),
        "unexpected files under /usr/share/c2tap:\n{listing}"
    );
    let line = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(&format!("./{path}")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("etc/c2tap/c2tap.toml").starts_with("-rw-r-----"));
    assert!(line("usr/bin/c2tap").starts_with("-rwxr-xr-x"));

    // A fresh root: the files are the repository's, byte for byte.
    let root = dir.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    for (src, dst) in &want {
        let installed = fs::read(root.join(dst)).unwrap_or_default();
        let source = fs::read(repo().join(src)).expect("source");
        assert!(installed == source, "{dst} differs from {src}");
    }

    // The maintainer scripts create the user the unit runs as; the config is a conffile.
    let control = dir.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let postinst = fs::read_to_string(control.join("postinst")).expect("postinst");
    let unit = fs::read_to_string(root.join("usr/lib/systemd/system/c2tap.service")).expect("unit");
    assert!(unit.contains("\nUser=c2tap\n"), "{unit}");
    assert!(
        postinst.contains("adduser --system --group") && postinst.contains(" c2tap\n"),
        "{postinst}"
    );
    let conffiles = fs::read_to_string(control.join("conffiles")).unwrap_or_default();
    assert!(conffiles.contains("/etc/c2tap/c2tap.toml"), "{conffiles}");
    assert!(unit.contains("\nLogsDirectory=c2tap\n"), "{unit}");

    // The unit names the binary the package installs; verified as systemd reads it, pointed at
    // that binary in the fresh root (verify checks that executables exist; the rest of a
    // system — /bin/kill, the standard targets — is the host's).
    for exec in ["ExecStartPre=/usr/bin/c2tap ", "ExecStart=/usr/bin/c2tap "] {
        assert!(unit.contains(exec), "{exec} in {unit}");
    }
    let binary = root.join("usr/bin/c2tap");
    let installed_unit = dir.path().join("c2tap.service");
    fs::write(
        &installed_unit,
        unit.replace("/usr/bin/c2tap", &binary.display().to_string()),
    )
    .expect("unit copy");
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&installed_unit)
        .output()
        .expect("systemd-analyze");
    let said = String::from_utf8_lossy(&verify.stderr).to_string();
    assert!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );

    // The installed config and feed, read from the fresh root (its /etc/c2tap paths mapped
    // there): check-config finds nothing wrong but what configuring the package and starting
    // the unit provide — the c2tap user (postinst) and /var/lib/c2tap (StateDirectory=) —
    // when this host lacks them. The start with the shipped files is config_trust's test.
    let feed = root.join("etc/c2tap/iocs.txt");
    let iocs = run(Command::new(C2TAP).args(["iocs", "--iocs"]).arg(&feed));
    assert!(iocs.contains("138.9.223.13:8015"), "{iocs}");
    let installed = fs::read_to_string(root.join("etc/c2tap/c2tap.toml")).expect("config");
    let mapped = dir.path().join("c2tap.toml");
    let etc = format!("{}/", root.join("etc/c2tap").display());
    fs::write(&mapped, installed.replace("/etc/c2tap/", &etc)).expect("mapped config");
    let out = Command::new(C2TAP)
        .args(["check-config", "--config"])
        .arg(&mapped)
        .output()
        .expect("check-config");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(unit.contains("\nStateDirectory=c2tap\n"), "{unit}");
    let provided = [
        "user: user `c2tap` is not in /etc/passwd",
        "outputs.options.spool_dir: /var/lib/c2tap/",
    ];
    let problems: Vec<&str> = said
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{}: ", mapped.display())))
        .collect();
    assert!(
        problems
            .iter()
            .all(|p| provided.iter().any(|ok| p.starts_with(ok))),
        "the installed config has problems the package does not solve:\n{said}"
    );
    assert_eq!(out.status.success(), problems.is_empty(), "{said}");
}

/// A scratch directory with a read-only tmpfs on it, unmounted on drop.
struct ReadOnlyMount(tempfile::TempDir);

impl ReadOnlyMount {
    fn new() -> Option<ReadOnlyMount> {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,size=64k,mode=0755", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        require::require(ok, "root, to mount a read-only tmpfs");
        Some(ReadOnlyMount(dir))
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_file_output_on_a_read_only_mount_names_the_unit_setting_to_change() {
    let Some(ro) = ReadOnlyMount::new() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let records = ro.0.path().join("records.cef");
    let writable = dir.path().join("records.cef");
    let config = |output: &Path| {
        let path = dir.path().join("c.toml");
        fs::write(
            &path,
            format!(
                "[capture]\ninterfaces = [\"eth0\"]\n[outputs]\nurls = [\"file://{}\"]\n",
                output.display()
            ),
        )
        .expect("config");
        path
    };
    let check = |output: &Path| {
        Command::new(C2TAP)
            .args(["check-config", "--config"])
            .arg(config(output))
            .output()
            .expect("check-config")
    };
    let refused = check(&records);
    let said = String::from_utf8_lossy(&refused.stdout).to_string()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("outputs.urls[0]")
            && said.contains("read-only file system")
            && said.contains("ReadWritePaths=")
            && said.contains("/var/log/c2tap/"),
        "{said}"
    );
    // The same output on a writable file system is not refused for it.
    let fine = check(&writable);
    let said =
        String::from_utf8_lossy(&fine.stdout).to_string() + &String::from_utf8_lossy(&fine.stderr);
    assert!(!said.contains("read-only file system"), "{said}");
}
