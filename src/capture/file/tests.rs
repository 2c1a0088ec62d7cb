use super::*;
use c2tap_pcapgen::{Endian, Interface as NgInterface, PcapFormat, PcapWriter, PcapngWriter};

const T: u64 = 1_778_335_407_123_456_789;

fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    f
}

/// (ts, link, data, wire_len) of one packet read.
type ReadPacket = (Nanos, u32, Vec<u8>, u32);

/// Every packet, then the final result.
fn read_all(bytes: &[u8]) -> (Vec<ReadPacket>, Result<(), FileError>) {
    let f = file_with(bytes);
    let mut reader = match CaptureFile::open(f.path()) {
        Ok(r) => r,
        Err(e) => return (vec![], Err(e)),
    };
    assert_eq!(reader.size(), Some(bytes.len() as u64));
    let mut out = Vec::new();
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => out.push((p.ts, p.link.0, p.data.to_vec(), p.wire_len)),
            Ok(None) => {
                assert_eq!(reader.bytes_read(), bytes.len() as u64);
                return (out, Ok(()));
            }
            Err(e) => {
                assert!(
                    matches!(reader.next_packet(), Ok(None)),
                    "an error ends the file"
                );
                return (out, Err(e));
            }
        }
    }
}

fn pcap(format: PcapFormat, packets: &[(u64, &[u8])]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), format).unwrap();
    for (ts, frame) in packets {
        w.write(*ts, frame, None).unwrap();
    }
    w.into_inner()
}

#[test]
fn pcap_micro_little_endian() {
    let bytes = pcap(PcapFormat::new(1), &[(T, &[1, 2, 3]), (T + 1_000, &[4])]);
    let (packets, end) = read_all(&bytes);
    end.unwrap();
    assert_eq!(
        packets,
        vec![
            (T - 789, 1, vec![1, 2, 3], 3),
            (T + 1_000 - 789, 1, vec![4], 1)
        ]
    );
}

#[test]
fn pcap_nano_big_endian_with_snaplen() {
    let format = PcapFormat {
        endian: Endian::Big,
        nanos: true,
        snaplen: 2,
        link: 101,
    };
    let (packets, end) = read_all(&pcap(format, &[(T, &[1, 2, 3])]));
    end.unwrap();
    assert_eq!(packets, vec![(T, 101, vec![1, 2], 3)]);
}

#[test]
fn pcap_with_only_a_header_is_empty() {
    let (packets, end) = read_all(&pcap(PcapFormat::new(1), &[]));
    end.unwrap();
    assert!(packets.is_empty());
}

#[test]
fn pcap_records_across_buffer_refills() {
    let frames: Vec<Vec<u8>> = (0..30_000u32)
        .map(|i| vec![i as u8; 20 + (i % 97) as usize])
        .collect();
    let list: Vec<(u64, &[u8])> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (i as u64 * 1_000, &f[..]))
        .collect();
    let bytes = pcap(PcapFormat::new(1), &list);
    assert!(bytes.len() > 2 * BUF_SIZE);
    let (packets, end) = read_all(&bytes);
    end.unwrap();
    assert_eq!(packets.len(), frames.len());
    assert!(packets.iter().zip(&frames).all(|(p, f)| p.2 == *f));
}

#[test]
fn pcapng_interfaces_with_their_own_link_type_and_resolution() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let eth = w.interface(NgInterface::new(1)).unwrap();
    let raw = w
        .interface(NgInterface {
            tsresol: Some(9),
            ..NgInterface::new(101)
        })
        .unwrap();
    let ms = w
        .interface(NgInterface {
            tsresol: Some(3),
            ..NgInterface::new(113)
        })
        .unwrap();
    w.epb(eth, T, &[1]).unwrap();
    w.epb(raw, T, &[2, 2]).unwrap();
    w.epb(ms, T, &[3, 3, 3]).unwrap();
    let (packets, end) = read_all(&w.into_inner());
    end.unwrap();
    assert_eq!(
        packets,
        vec![
            (T - 789, 1, vec![1], 1),
            (T, 101, vec![2, 2], 2),
            (T - 456_789, 113, vec![3, 3, 3], 3)
        ]
    );
}

#[test]
fn pcapng_power_of_two_resolution_and_offset() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let iface = NgInterface {
        tsresol: Some(0x80 | 20),
        tsoffset: Some(1_000),
        ..NgInterface::new(1)
    };
    let id = w.interface(iface).unwrap();
    w.epb(id, T, &[9]).unwrap();
    let (packets, end) = read_all(&w.into_inner());
    end.unwrap();
    let ts = packets[0].0;
    assert!(
        ts <= T && T - ts < 1_000,
        "2^-20 s units are within 1 µs: {ts} vs {T}"
    );
}

#[test]
fn pcapng_sections_of_both_byte_orders_and_all_packet_blocks() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let sll = w.interface(NgInterface::new(113)).unwrap();
    w.block(4, &[0, 0, 0, 0]).unwrap();
    w.block(0x0bad, &[1, 2, 3, 4, 5]).unwrap();
    w.epb(sll, T, &[1]).unwrap();
    w.opb(sll as u16, T + 1_000, &[2]).unwrap();
    w.section(Endian::Big).unwrap();
    let eth = w
        .interface(NgInterface {
            tsresol: Some(9),
            snaplen: 2,
            ..NgInterface::new(1)
        })
        .unwrap();
    w.epb(eth, T + 2_000, &[3]).unwrap();
    w.spb(&[4, 4, 4]).unwrap();
    let (packets, end) = read_all(&w.into_inner());
    end.unwrap();
    assert_eq!(
        packets,
        vec![
            (T - 789, 113, vec![1], 1),
            (T + 1_000 - 789, 113, vec![2], 1),
            (T + 2_000, 1, vec![3], 1),
            (T + 2_000, 1, vec![4, 4], 3),
        ],
        "the SPB is cut to the snap length and inherits the previous time"
    );
}

#[test]
fn pcapng_block_larger_than_the_buffer_is_skipped() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let id = w.interface(NgInterface::new(1)).unwrap();
    w.block(0x0bad, &vec![7; 3 * BUF_SIZE]).unwrap();
    w.epb(id, T, &[5]).unwrap();
    let (packets, end) = read_all(&w.into_inner());
    end.unwrap();
    assert_eq!(packets.len(), 1);
}

#[test]
fn truncated_pcap_returns_every_packet_before_the_cut() {
    let bytes = pcap(PcapFormat::new(1), &[(T, &[1; 40]), (T, &[2; 40])]);
    for cut in [bytes.len() - 10, bytes.len() - 50] {
        let (packets, end) = read_all(&bytes[..cut]);
        assert_eq!(packets.len(), 1, "cut at {cut}");
        let offset = (24 + 16 + 40) as u64;
        assert!(
            matches!(end, Err(FileError::Truncated { offset: o, .. }) if o == offset),
            "{end:?}"
        );
    }
    // Cut inside the file header: too short to be a capture, not "truncated at byte 0".
    let (packets, end) = read_all(&bytes[..20]);
    assert!(packets.is_empty());
    assert!(
        matches!(end, Err(FileError::TooShort { len: 20, .. })),
        "{end:?}"
    );
}

#[test]
fn truncated_pcapng_block() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let id = w.interface(NgInterface::new(1)).unwrap();
    w.epb(id, T, &[1; 40]).unwrap();
    w.epb(id, T, &[2; 40]).unwrap();
    let bytes = w.into_inner();
    let (packets, end) = read_all(&bytes[..bytes.len() - 8]);
    assert_eq!(packets.len(), 1);
    assert!(matches!(end, Err(FileError::Truncated { .. })), "{end:?}");
}

#[test]
fn not_a_capture_names_the_file_and_says_why() {
    let mut pcap_start = pcap(PcapFormat::new(1), &[]);
    pcap_start.truncate(10);
    for (bytes, says) in [
        (
            &b"<!DOCTYPE html><html>not a capture</html>"[..],
            "not a capture file (neither pcap nor pcapng; it starts with [3c, 21,",
        ),
        (b"", "empty (0 bytes), not a capture file"),
        (b"ab", "2 bytes, too short to be a capture file"),
        (&pcap_start, "10 bytes, too short to be a capture file"),
        (
            &[
                0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
            ],
            "gzip-compressed, not a capture file; unpack it first (`zcat FILE | c2tap replay -`",
        ),
        (&[0x28, 0xb5, 0x2f, 0xfd, 0, 0], "zstd-compressed"),
        (b"\xfd7zXZ\0 and more", "xz-compressed"),
        (b"BZh91AY&SY", "bzip2-compressed"),
    ] {
        let f = file_with(bytes);
        let err = CaptureFile::open(f.path()).unwrap_err();
        assert_eq!(err.kind(), "not_a_capture");
        let text = err.to_string();
        assert!(text.starts_with(&f.path().display().to_string()), "{text}");
        assert!(text.contains(says), "{text}");
    }
}

#[test]
fn lengths_over_the_caps_are_errors_not_allocations() {
    let mut bytes = pcap(PcapFormat::new(1), &[(T, &[1])]);
    bytes[32..36].copy_from_slice(&(MAX_PACKET + 1).to_le_bytes());
    let (_, end) = read_all(&bytes);
    assert!(
        matches!(end, Err(FileError::TooLarge { len, .. }) if len == u64::from(MAX_PACKET) + 1)
    );

    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    w.interface(NgInterface::new(1)).unwrap();
    let mut bytes = w.into_inner();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&(MAX_BLOCK + 4).to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    let (_, end) = read_all(&bytes);
    assert!(
        matches!(
            end,
            Err(FileError::TooLarge {
                limit: MAX_BLOCK,
                ..
            })
        ),
        "{end:?}"
    );
}

#[test]
fn malformed_pcapng_blocks() {
    let base = || {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        w.interface(NgInterface::new(1)).unwrap();
        w
    };
    let mut w = base();
    w.epb(3, T, &[1]).unwrap();
    let (_, end) = read_all(&w.into_inner());
    assert!(
        matches!(end, Err(FileError::Malformed { reason, .. }) if reason.contains("interface"))
    );

    let mut bytes = base().into_inner();
    bytes.extend_from_slice(&[6, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
    let (_, end) = read_all(&bytes);
    assert!(matches!(end, Err(FileError::Malformed { .. })), "{end:?}");

    let mut w = base();
    w.epb(0, T, &[1; 8]).unwrap();
    let mut bytes = w.into_inner();
    let at = bytes.len() - 4 - 8 - 8; // the EPB's captured length
    bytes[at..at + 4].copy_from_slice(&200u32.to_le_bytes());
    let (_, end) = read_all(&bytes);
    assert!(matches!(end, Err(FileError::Malformed { .. })), "{end:?}");
}

#[test]
fn mutated_files_never_panic() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let id = w
        .interface(NgInterface {
            tsresol: Some(0xff),
            tsoffset: Some(i64::MIN),
            ..NgInterface::new(1)
        })
        .unwrap();
    for i in 0..20u8 {
        w.epb(id, T, &[i; 30]).unwrap();
    }
    let ng = w.into_inner();
    let pc = pcap(
        PcapFormat::new(1),
        &[(T, &[1; 30]), (T, &[2; 30]), (T, &[3; 30])],
    );
    let mut x = 0x1234_5678u32;
    for round in 0..400 {
        let mut bytes = if round % 2 == 0 {
            ng.clone()
        } else {
            pc.clone()
        };
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = 8 + x as usize % (bytes.len() - 8);
            bytes[at] = (x >> 8) as u8;
        }
        let _ = read_all(&bytes);
    }
}

#[test]
fn every_committed_fixture_reads_to_its_end() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (packets, end) = read_all(&bytes);
        match name.as_str() {
            "not-a-capture.pcap" => assert_eq!(end.unwrap_err().kind(), "not_a_capture"),
            "truncated.pcap" => assert_eq!(end.unwrap_err().kind(), "truncated"),
            _ => assert!(end.is_ok() && !packets.is_empty(), "{name}: {end:?}"),
        }
        read += 1;
    }
    assert!(read >= 30, "only {read} fixtures found");
}
