use std::fs;

use super::*;

fn drain(spool: &mut Spool) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((msg, _)) = spool.front().unwrap() {
        out.push(String::from_utf8(msg.to_vec()).unwrap());
        spool.pop_front();
    }
    out
}

/// The segment files in a spool directory, oldest first.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    segs
}

/// A fresh directory with the mode the spool insists on.
fn tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn msgs(range: std::ops::Range<u32>) -> Vec<String> {
    range
        .map(|i| format!("<164>message number {i:05}"))
        .collect()
}

#[test]
fn fifo_across_segments_and_reclaims_space() {
    let dir = tempdir();
    let mut spool = Spool::open(dir.path(), 64 * 1024).unwrap();
    for m in msgs(0..1000) {
        spool.append(m.as_bytes(), Mark::default()).unwrap();
    }
    assert_eq!(spool.records(), 1000);
    assert!(segments(dir.path()).len() > 2, "several segments");
    // front() is idempotent until pop_front().
    assert_eq!(
        spool.front().unwrap().unwrap().0,
        msgs(0..1).remove(0).as_bytes()
    );
    assert_eq!(
        spool.front().unwrap().unwrap().0,
        msgs(0..1).remove(0).as_bytes()
    );
    assert_eq!(drain(&mut spool), msgs(0..1000));
    assert_eq!((spool.records(), spool.bytes()), (0, 0));
    assert!(segments(dir.path()).is_empty());
}

#[test]
fn full_spool_refuses_and_keeps_what_it_has() {
    let dir = tempdir();
    let mut spool = Spool::open(dir.path(), 1000).unwrap();
    let mut kept = 0;
    let mut full = 0;
    for m in msgs(0..100) {
        match spool.append(m.as_bytes(), Mark::default()) {
            Ok(()) => kept += 1,
            Err(SpoolError::Full { max_bytes: 1000 }) => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    // 36 bytes per frame: 27 fit in 1000 bytes.
    assert_eq!((kept, full), (27, 72 + 1));
    assert!(spool.bytes() <= 1000);
    assert_eq!(drain(&mut spool), msgs(0..27));
    assert!(matches!(
        spool.append(&[0; MAX_MESSAGE + 1], Mark::default()),
        Err(SpoolError::TooLarge(_))
    ));
}

#[test]
fn survives_restart_and_resumes_at_saved_position() {
    let dir = tempdir();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    for m in msgs(0..50) {
        spool.append(m.as_bytes(), Mark::default()).unwrap();
    }
    for _ in 0..20 {
        spool.front().unwrap();
        spool.pop_front();
    }
    spool.sync().unwrap();
    drop(spool);
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(spool.records(), 30);
    spool.append(b"after restart", Mark::default()).unwrap();
    let mut want = msgs(20..50);
    want.push("after restart".into());
    assert_eq!(drain(&mut spool), want);
}

#[test]
fn torn_and_corrupt_tails_are_skipped_not_replayed() {
    for damage in ["truncate", "flip"] {
        let dir = tempdir();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        for m in msgs(0..10) {
            spool.append(m.as_bytes(), Mark::default()).unwrap();
        }
        drop(spool);
        let seg = segments(dir.path()).remove(0);
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
        assert_eq!(spool.take_corrupt(), 1, "{damage}");
        spool.append(b"next", Mark::default()).unwrap();
        let mut want = msgs(0..9);
        want.push("next".into());
        assert_eq!(drain(&mut spool), want, "{damage}");
    }
}

#[test]
fn foreign_and_planted_names_are_left_alone() {
    let dir = tempdir();
    fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    // Ids far from ours, up to the largest u64: no overflow, never read.
    for name in [
        "00000000000000000005.seg",
        "18446744073709551615.seg",
        "99999999999999999999999.seg",
    ] {
        fs::write(dir.path().join(name), b"\xC2\x60\x00\xff\xff\xff\xffjunk").unwrap();
    }
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(spool.records(), 0);
    assert_eq!(spool.front().unwrap(), None);
    spool.append(b"ours", Mark::default()).unwrap();
    assert_eq!(drain(&mut spool), ["ours"]);
    assert!(dir.path().join("18446744073709551615.seg").exists());
}

#[test]
fn a_flipped_byte_costs_one_record_and_is_counted() {
    // Payload, length field, flags and checksum: each damages exactly that record.
    for at in [FRAME_HEADER + 5, 4, 2, 8] {
        let dir = tempdir();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        for m in msgs(0..100) {
            spool.append(m.as_bytes(), Mark::default()).unwrap();
        }
        drop(spool);
        let seg = segments(dir.path()).remove(0);
        let mut bytes = fs::read(&seg).unwrap();
        let frame = FRAME_HEADER + msgs(0..1)[0].len();
        bytes[40 * frame + at] ^= 0x5a;
        fs::write(&seg, &bytes).unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let mut want = msgs(0..40);
        want.extend(msgs(41..100));
        assert_eq!(drain(&mut spool), want, "byte {at}");
        assert_eq!(spool.take_corrupt(), 1, "byte {at}");
    }
}

#[test]
fn damage_found_while_reading_is_skipped_and_counted() {
    let dir = tempdir();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    for m in msgs(0..20) {
        spool.append(m.as_bytes(), Mark::default()).unwrap();
    }
    spool.sync().unwrap();
    let seg = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    let frame = FRAME_HEADER + msgs(0..1)[0].len();
    bytes[5 * frame + FRAME_HEADER] ^= 1;
    fs::write(&seg, &bytes).unwrap();
    let mut want = msgs(0..5);
    want.extend(msgs(6..20));
    assert_eq!(drain(&mut spool), want);
    assert_eq!(spool.take_corrupt(), 1);
    assert_eq!(spool.records(), 0);
}

#[test]
fn directory_of_another_user_or_with_loose_mode_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().unwrap();
    let created = base.path().join("new/out");
    Spool::open(&created, 1 << 20).unwrap();
    let mode = fs::metadata(&created).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let loose = base.path().join("loose");
    fs::create_dir(&loose).unwrap();
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o755)).unwrap();
    let err = Spool::open(&loose, 1 << 20).unwrap_err().to_string();
    assert!(err.contains("mode 0755") && err.contains("0700"), "{err}");
    let link = base.path().join("link");
    std::os::unix::fs::symlink(&created, &link).unwrap();
    assert!(Spool::open(&link, 1 << 20).is_err());
    if rustix::process::geteuid().is_root() {
        let theirs = base.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let err = Spool::open(&theirs, 1 << 20).unwrap_err().to_string();
        assert!(err.contains("owned by uid 65534"), "{err}");
    }
}

#[test]
fn ledger_replaced_atomically_and_leftover_temp_ignored() {
    let dir = tempdir();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    for m in msgs(0..10) {
        spool.append(m.as_bytes(), Mark::default()).unwrap();
    }
    for _ in 0..4 {
        spool.front().unwrap();
        spool.pop_front();
    }
    spool.sync().unwrap();
    drop(spool);
    // A crash while writing the next ledger leaves a torn temporary file: ignored.
    fs::write(dir.path().join("positions.tmp"), b"garb").unwrap();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(drain(&mut spool), msgs(4..10));
}

#[test]
fn prepend_goes_ahead_of_spooled_and_partially_read() {
    let dir = tempdir();
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    for m in msgs(10..20) {
        spool.append(m.as_bytes(), Mark::default()).unwrap();
    }
    spool.front().unwrap();
    spool.pop_front();
    let back = msgs(0..10);
    assert_eq!(
        spool
            .prepend(back.iter().map(|m| (m.as_bytes(), Mark::default())))
            .unwrap(),
        0
    );
    spool.sync().unwrap();
    drop(spool);
    let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
    let mut want = msgs(0..10);
    want.extend(msgs(11..20));
    assert_eq!(drain(&mut spool), want);
    // Into an empty spool, prepend is an append.
    assert_eq!(
        spool
            .prepend([(
                b"x".as_slice(),
                Mark {
                    counted: true,
                    tried: true
                }
            )])
            .unwrap(),
        0
    );
    assert_eq!(
        spool.front().unwrap(),
        Some((
            b"x".as_slice(),
            Mark {
                counted: true,
                tried: true
            }
        ))
    );
}

/// Model-based test: random appends, sends (front + pop), put-backs, syncs, crashes (drop
/// without sync) and clean restarts against a plain queue. After a crash the spool may hold
/// messages again that were taken out after the last sync (at-least-once), never lose one.
mod model {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        Append(u8),
        Send,
        PutBack(u8),
        Sync,
        Crash,
        Restart,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1u8..40).prop_map(Op::Append),
            4 => Just(Op::Send),
            1 => (1u8..5).prop_map(Op::PutBack),
            1 => Just(Op::Sync),
            1 => Just(Op::Crash),
            1 => Just(Op::Restart),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn spool_matches_a_queue(ops in proptest::collection::vec(op(), 1..120)) {
            let dir = tempdir();
            let max = 64 * 1024;
            let mut spool = Spool::open(dir.path(), max).unwrap();
            let mut model: VecDeque<u32> = VecDeque::new();
            // Taken out since the last sync: a crash may bring these back.
            let mut unsynced: Vec<u32> = Vec::new();
            let mut next = 0u32;
            let mut taken: Vec<u32> = Vec::new();
            let text = |n: u32| format!("<164>record {n:06} {}", "x".repeat((n % 37) as usize));
            for op in ops {
                match op {
                    Op::Append(k) => for _ in 0..k {
                        match spool.append(text(next).as_bytes(), Mark::default()) {
                            Ok(()) => model.push_back(next),
                            Err(SpoolError::Full { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                        next += 1;
                    },
                    Op::Send => {
                        let got = spool.front().unwrap().map(|(m, _)| String::from_utf8(m.to_vec()).unwrap());
                        let want = model.pop_front().map(text);
                        prop_assert_eq!(&got, &want);
                        if got.is_some() {
                            spool.pop_front();
                            let n = want.and_then(|w| w.get(12..18).and_then(|d| d.parse().ok())).unwrap();
                            unsynced.push(n);
                            taken.push(n);
                        }
                    }
                    Op::PutBack(k) => {
                        let back: Vec<u32> = taken.split_off(taken.len().saturating_sub(k as usize));
                        let texts: Vec<String> = back.iter().map(|n| text(*n)).collect();
                        let dropped = spool.prepend(texts.iter().map(|t| (t.as_bytes(), Mark { counted: true, tried: true }))).unwrap();
                        prop_assert_eq!(dropped, 0);
                        for n in back.iter().rev() {
                            model.push_front(*n);
                        }
                    }
                    Op::Sync => {
                        spool.sync().unwrap();
                        unsynced.clear();
                    }
                    Op::Restart => {
                        spool.sync().unwrap();
                        unsynced.clear();
                        drop(spool);
                        spool = Spool::open(dir.path(), max).unwrap();
                    }
                    Op::Crash => {
                        drop(spool);
                        spool = Spool::open(dir.path(), max).unwrap();
                        // Nothing is lost: the model is an ordered part of what came back,
                        // and the rest was taken out since the last sync (sent again).
                        let mut back = Vec::new();
                        while let Some((m, _)) = spool.front().unwrap() {
                            let t = String::from_utf8(m.to_vec()).unwrap();
                            back.push(t.get(12..18).and_then(|d| d.parse::<u32>().ok()).unwrap());
                            spool.pop_front();
                        }
                        let mut want = model.iter().peekable();
                        for n in &back {
                            if want.peek() == Some(&n) {
                                want.next();
                            } else {
                                prop_assert!(unsynced.contains(n), "{} came back but was not taken out: {:?} model {:?}", n, back, model);
                            }
                        }
                        prop_assert!(want.next().is_none(), "lost records: {:?} vs {:?}", back, model);
                        for n in &back {
                            spool.append(text(*n).as_bytes(), Mark::default()).unwrap();
                        }
                        spool.sync().unwrap();
                        model = back.into_iter().collect();
                        unsynced.clear();
                        taken.clear();
                    }
                }
                prop_assert_eq!(spool.records() as usize, model.len());
                prop_assert_eq!(spool.take_corrupt(), 0);
            }
            let mut rest = Vec::new();
            while let Some((m, _)) = spool.front().unwrap() {
                rest.push(String::from_utf8(m.to_vec()).unwrap());
                spool.pop_front();
            }
            prop_assert_eq!(rest, model.iter().map(|n| text(*n)).collect::<Vec<_>>());
        }
    }
}
