use std::fs;

use super::*;

fn drain(spool: &mut Spool) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(msg) = spool.front().unwrap() {
        out.push(String::from_utf8(msg.to_vec()).unwrap());
        spool.pop_front();
    }
    out
}

fn msgs(range: std::ops::Range<u32>) -> Vec<String> {
    range
        .map(|i| format!("<164>message number {i:05}"))
        .collect()
}

#[test]
fn fifo_across_segments_and_reclaims_space() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), 64 * 1024).unwrap();
    for m in msgs(0..1000) {
        spool.append(m.as_bytes()).unwrap();
    }
    assert_eq!(spool.records(), 1000);
    assert!(
        fs::read_dir(dir.path()).unwrap().count() > 2,
        "several segments"
    );
    // front() is idempotent until pop_front().
    assert_eq!(
        spool.front().unwrap().unwrap(),
        msgs(0..1).remove(0).as_bytes()
    );
    assert_eq!(
        spool.front().unwrap().unwrap(),
        msgs(0..1).remove(0).as_bytes()
    );
    assert_eq!(drain(&mut spool), msgs(0..1000));
    assert_eq!((spool.records(), spool.bytes()), (0, 0));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn full_spool_refuses_and_keeps_what_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), 1000).unwrap();
    let mut kept = 0;
    let mut full = 0;
    for m in msgs(0..100) {
        match spool.append(m.as_bytes()) {
            Ok(()) => kept += 1,
            Err(SpoolError::Full { max_bytes: 1000 }) => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    // 35 bytes per frame: 28 fit in 1000 bytes.
    assert_eq!((kept, full), (28, 72));
    assert!(spool.bytes() <= 1000);
    assert_eq!(drain(&mut spool), msgs(0..28));
    assert!(matches!(
        spool.append(&[0; MAX_MESSAGE + 1]),
        Err(SpoolError::TooLarge(_))
    ));
}

#[test]
fn survives_restart_and_resumes_at_saved_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    for m in msgs(0..50) {
        spool.append(m.as_bytes()).unwrap();
    }
    for _ in 0..20 {
        spool.front().unwrap();
        spool.pop_front();
    }
    spool.sync().unwrap();
    drop(spool);
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(spool.records(), 30);
    spool.append(b"after restart").unwrap();
    let mut want = msgs(20..50);
    want.push("after restart".into());
    assert_eq!(drain(&mut spool), want);
}

#[test]
fn torn_and_corrupt_tails_are_skipped_not_replayed() {
    for damage in ["truncate", "flip"] {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        for m in msgs(0..10) {
            spool.append(m.as_bytes()).unwrap();
        }
        drop(spool);
        let seg = fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = fs::read(&seg).unwrap();
        match damage {
            "truncate" => bytes.truncate(bytes.len() - 7),
            _ => {
                let last = bytes.len() - 3;
                bytes[last] ^= 0xff;
            }
        }
        fs::write(&seg, &bytes).unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.records(), 9, "{damage}");
        spool.append(b"next").unwrap();
        let mut want = msgs(0..9);
        want.push("next".into());
        assert_eq!(drain(&mut spool), want, "{damage}");
    }
}

#[test]
fn garbage_files_are_ignored_or_dropped() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    fs::write(
        dir.path().join("00000000000000000005.seg"),
        b"\xC2\x5F\xff\xff\xff\xffjunk",
    )
    .unwrap();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(spool.records(), 0);
    assert_eq!(spool.front().unwrap(), None);
    assert!(!dir.path().join("00000000000000000005.seg").exists());
}

#[test]
fn prepend_goes_ahead_of_spooled_and_partially_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    for m in msgs(10..20) {
        spool.append(m.as_bytes()).unwrap();
    }
    spool.front().unwrap();
    spool.pop_front();
    let back = msgs(0..10);
    assert_eq!(spool.prepend(back.iter().map(|m| m.as_bytes())).unwrap(), 0);
    spool.sync().unwrap();
    drop(spool);
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    let mut want = msgs(0..10);
    want.extend(msgs(11..20));
    assert_eq!(drain(&mut spool), want);
    // Into an empty spool, prepend is an append.
    assert_eq!(spool.prepend([b"x".as_slice()]).unwrap(), 0);
    assert_eq!(drain(&mut spool), ["x"]);
}
