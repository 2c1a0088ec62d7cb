use super::*;
use std::os::unix::fs::symlink;

fn strict_as(uid: u32) -> Trust {
    Trust {
        privileged: true,
        owners: dedup(vec![0, uid]),
        uid,
    }
}

fn lenient_as(uid: u32) -> Trust {
    Trust {
        privileged: false,
        owners: vec![uid],
        uid,
    }
}

fn write(path: &Path, mode: u32) {
    fs::write(path, "x").unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[test]
fn strict_refuses_modes_others_may_write_and_lenient_only_world() {
    let dir = tempfile::tempdir().unwrap();
    let strict = strict_as(me());
    let lenient = lenient_as(me());
    for (mode, strict_ok, lenient_ok) in [
        (0o600, true, true),
        (0o644, true, true),
        (0o664, false, true),
        (0o620, false, true),
        (0o646, false, false),
        (0o666, false, false),
    ] {
        let path = dir.path().join(format!("f{mode:o}"));
        write(&path, mode);
        assert_eq!(strict.check(&path).is_ok(), strict_ok, "strict {mode:o}");
        assert_eq!(lenient.check(&path).is_ok(), lenient_ok, "lenient {mode:o}");
    }
}

#[test]
fn non_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = strict_as(me()).check(dir.path()).unwrap_err().to_string();
    assert!(err.contains("is a directory"), "{err}");
    assert!(lenient_as(me()).check(dir.path()).is_err());
}

#[test]
fn a_world_writable_directory_needs_the_sticky_bit_and_a_trusted_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.txt");
    write(&path, 0o644);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let err = strict_as(me()).check(&path).unwrap_err().to_string();
    assert!(err.contains("lets other users replace"), "{err}");
    assert!(err.contains("move the file"), "{err}");
    assert!(lenient_as(me()).check(&path).is_err());
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(strict_as(me()).check(&path).is_ok());
    assert!(lenient_as(me()).check(&path).is_ok());
    // The same file judged by another reader: its owner is not trusted there.
    let err = strict_as(4242).check(&path);
    if me() != 0 {
        assert!(err.is_err());
    }
    let err = lenient_as(me().wrapping_add(1)).check(&path);
    assert_eq!(err.is_err(), me() != 0);
}

#[test]
fn missing_files_are_left_to_the_reader() {
    assert!(strict_as(0)
        .check(Path::new("/nonexistent/c2tap.toml"))
        .is_ok());
}

#[test]
fn links_are_followed_and_their_targets_judged() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    let target = shared.join("feed.txt");
    write(&target, 0o644);
    let link = dir.path().join("link.txt");
    symlink(&target, &link).unwrap();
    assert!(strict_as(me()).check(&link).is_ok());
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let err = strict_as(me()).check(&link).unwrap_err().to_string();
    assert!(err.contains(&shared.display().to_string()), "{err}");
    // A relative link through `..`.
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
    let rel = shared.join("rel.txt");
    symlink("../shared/feed.txt", &rel).unwrap();
    assert!(strict_as(me()).check(&rel).is_ok());
}

#[test]
fn access_is_judged_from_mode_bits_for_the_service_user() {
    let dir = tempfile::tempdir().unwrap();
    let owner = fs::metadata(dir.path()).unwrap();
    let (uid, gid) = (owner.uid(), owner.gid());
    let other = (uid.wrapping_add(4242), gid.wrapping_add(4242));
    let path = dir.path().join("ca.pem");
    write(&path, 0o600);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(may_access(&path, uid, gid, Access::Read).is_ok());
    let err = may_access(&path, other.0, other.1, Access::Read).unwrap_err();
    assert!(err.contains("no read permission"), "{err}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    assert!(may_access(&path, other.0, gid, Access::Read).is_ok());
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let err = may_access(&path, other.0, gid, Access::Read).unwrap_err();
    assert!(err.contains("cannot enter"), "{err}");
    let out = dir.path().join("alerts.log");
    assert!(may_access(&out, uid, gid, Access::Append).is_ok());
    let err = may_access(&out, other.0, other.1, Access::Append).unwrap_err();
    assert!(err.contains("cannot"), "{err}");
    assert!(may_access(&dir.path().join("no/such/x"), uid, gid, Access::Append).is_err());
}

#[test]
fn outputs_refuse_links_and_directories_others_may_write() {
    let dir = tempfile::tempdir().unwrap();
    let strict = strict_as(me());
    let out = dir.path().join("alerts.log");
    assert_eq!(strict.check_output(&out).map_err(|e| e.to_string()), Ok(()));
    let link = dir.path().join("link.log");
    symlink("/etc/passwd", &link).unwrap();
    let err = strict.check_output(&link).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let err = strict.check_output(&out).unwrap_err().to_string();
    assert!(err.contains("lets other users replace it"), "{err}");
    // An ordinary user may write into a sticky shared directory.
    assert!(lenient_as(me()).check_output(&out).is_ok());
}

#[test]
fn labels_users_by_name() {
    let passwd = "root:x:0:0::/:/bin/sh\nc2tap:x:998:997::/:/bin/false\n";
    assert_eq!(user_label(passwd, 998), "c2tap (uid 998)");
    assert_eq!(user_label(passwd, 7), "uid 7");
}
