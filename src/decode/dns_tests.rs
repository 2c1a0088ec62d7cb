use super::build::*;
use super::*;

fn parse(m: &[u8]) -> Result<(Message<'_>, Name), DnsError> {
    let mut n = Name::default();
    Message::parse(m, &mut n).map(|msg| (msg, n))
}

#[test]
fn query_name_is_lowercased_without_trailing_dot() {
    let m = query(7, "EVIL.DuckDNS.org.", TYPE_A);
    let (msg, n) = parse(&m).unwrap();
    assert_eq!(n.as_bytes(), b"evil.duckdns.org");
    assert!(!msg.is_response);
    assert_eq!(msg.qtype, TYPE_A);
    assert_eq!(msg.answers().count(), 0);
}

#[test]
fn answers_follow_compression_and_cnames() {
    let cname_target = name("cdn.example.net");
    let m = response(
        1,
        "c2.example.org",
        TYPE_A,
        &[
            record(&QNAME_PTR, TYPE_CNAME, 300, &cname_target),
            record(&[0xc0, 44], TYPE_A, 60, &[192, 0, 2, 7]),
            record(
                &[0xc0, 44],
                TYPE_AAAA,
                60,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
        ],
    );
    // The CNAME record's rdata starts at 12 + 16 + 4 + 2 + 10 = 44.
    let (msg, _) = parse(&m).unwrap();
    let answers: Vec<_> = msg.answers().map(Result::unwrap).collect();
    assert_eq!(answers.len(), 3);
    let mut n = Name::default();
    msg.name_at(answers[0].name_at, &mut n).unwrap();
    assert_eq!(n.as_bytes(), b"c2.example.org");
    let Rdata::Cname(at) = answers[0].data else {
        panic!("{:?}", answers[0])
    };
    assert_eq!(at, 44);
    msg.name_at(at, &mut n).unwrap();
    assert_eq!(n.as_bytes(), b"cdn.example.net");
    msg.name_at(answers[1].name_at, &mut n).unwrap();
    assert_eq!(n.as_bytes(), b"cdn.example.net");
    assert_eq!(answers[1].ttl, 60);
    assert_eq!(answers[1].data, Rdata::Addr("192.0.2.7".parse().unwrap()));
    assert_eq!(answers[2].data, Rdata::Addr("2001:db8::1".parse().unwrap()));
}

#[test]
fn pointer_loops_and_forward_pointers_are_errors() {
    let mut m = query(1, "a.b", TYPE_A);
    // Question name replaced by a pointer to itself.
    m.truncate(12);
    m.extend([0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse(&m).err(), Some(DnsError::BadPointer));
    // A pointer forward (to the end).
    let mut m = query(1, "a.b", TYPE_A);
    m.truncate(12);
    m.extend([0xc0, 14, 0, 0, 1, 0, 1]);
    assert_eq!(parse(&m).err(), Some(DnsError::BadPointer));
    // Two labels pointing back and forth in an answer.
    let mut m = response(1, "a.b", TYPE_A, &[]);
    m[7] = 1;
    let at = m.len();
    m.extend([1, b'x', 0xc0, at as u8]);
    m.extend([0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
    let (msg, _) = parse(&m).unwrap();
    assert_eq!(msg.answers().next(), Some(Err(DnsError::BadPointer)));
}

#[test]
fn long_labels_long_names_and_reserved_label_types_are_errors() {
    let mut m = query(1, "a", TYPE_A);
    m.truncate(12);
    m.push(64);
    m.extend([b'a'; 64]);
    m.extend([0, 0, 1, 0, 1]);
    assert_eq!(parse(&m).err(), Some(DnsError::BadLabel));
    let long = ["abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij"; 5].join(".");
    assert_eq!(
        parse(&query(1, &long, TYPE_A)).err(),
        Some(DnsError::NameTooLong)
    );
    // 4 labels of 63 = 256 wire bytes with the zero: one too many. 3 of 63 + 61 fits.
    let fits = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
    let (_, n) = parse(&query(1, &fits, TYPE_A)).unwrap();
    assert_eq!(n.as_bytes().len(), 253);
    let mut m = query(1, "a", TYPE_A);
    m[12] = 0x41;
    assert_eq!(parse(&m).err(), Some(DnsError::BadLabel));
}

#[test]
fn a_thousand_answers_read_at_most_the_limit() {
    let one = record(&QNAME_PTR, TYPE_A, 5, &[10, 0, 0, 1]);
    let m = response(1, "x.org", TYPE_A, &vec![one; 1000]);
    let (msg, _) = parse(&m).unwrap();
    assert_eq!(msg.answer_count, 1000);
    assert_eq!(msg.answers().filter(Result::is_ok).count(), MAX_ANSWERS);
}

#[test]
fn every_truncation_is_an_error_or_a_shorter_read() {
    let m = response(
        1,
        "c2.example.org",
        TYPE_A,
        &[record(&QNAME_PTR, TYPE_A, 60, &[192, 0, 2, 7])],
    );
    for cut in 0..m.len() {
        if let Ok((msg, _)) = parse(&m[..cut]) {
            assert_eq!(
                msg.answers().next(),
                Some(Err(DnsError::Truncated)),
                "{cut}"
            );
        }
    }
}

#[test]
fn tcp_length_prefix() {
    let m = query(1, "a.b", TYPE_A);
    let mut seg = (m.len() as u16).to_be_bytes().to_vec();
    seg.extend(&m);
    assert_eq!(tcp_message(&seg), Ok(&m[..]));
    assert_eq!(
        tcp_message(&seg[..seg.len() - 1]),
        Err(DnsError::BadTcpLength)
    );
    assert_eq!(tcp_message(&seg[..1]), Err(DnsError::Truncated));
}

#[test]
fn not_one_question() {
    let mut m = query(1, "a.b", TYPE_A);
    m[5] = 2;
    assert_eq!(parse(&m).err(), Some(DnsError::NotOneQuestion));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let mut n = Name::default();
        if let Ok(msg) = Message::parse(&bytes, &mut n) {
            for a in msg.answers().flatten() {
                let _ = msg.name_at(a.name_at, &mut n);
            }
        }
    }
}
