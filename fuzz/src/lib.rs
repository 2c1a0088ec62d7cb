//! Shared harness of the fuzz targets: every target feeds hostile bytes through a public entry
//! point of c2tap exactly as the sensor would meet them (a frame off the wire, a capture file on
//! disk, a downloaded feed, a config file) and asserts what must hold for any input, beyond
//! "does not panic".

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use c2tap::capture::file::{CaptureFile, MAX_PACKET};
use c2tap::decode::{decode, decode_layers, proto, Layers, LinkType, PacketMeta, Tunnel};
use c2tap::ioc::{self, FeedSource, Filters, IocSet, LoadError, MatchKind};

/// Every link type the decoder knows, plus two it must refuse cleanly.
pub const LINK_TYPES: [u32; 12] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147, 0xffff];

/// The link type a selector byte stands for.
pub fn link_type(selector: u8) -> LinkType {
    let index = usize::from(selector) % LINK_TYPES.len();
    LinkType(LINK_TYPES.get(index).copied().unwrap_or(1))
}

/// Decodes one frame and checks the facts the flow table relies on, for the innermost flow and
/// for every other layer the frame yields.
pub fn check_decode(link: LinkType, frame: &[u8]) -> Option<PacketMeta> {
    let mut layers = Layers::default();
    let with_layers = decode_layers(link, frame, &mut layers);
    let innermost = decode(link, frame);
    assert_eq!(with_layers, innermost, "decode_layers and decode disagree");
    let all = layers.as_slice();
    for (i, layer) in all.iter().enumerate() {
        check_meta(&layer.meta);
        let last = i + 1 == all.len();
        if !layer.meta.outer {
            assert!(
                last && innermost.is_err(),
                "a stopped layer without an error"
            );
        } else {
            assert_ne!(
                layer.meta.tunnel,
                Tunnel::None,
                "an outer layer carried nothing"
            );
        }
    }
    let meta = innermost.ok()?;
    assert!(!meta.outer, "the innermost flow marked outer");
    check_meta(&meta);
    Some(meta)
}

fn check_meta(meta: &PacketMeta) {
    if !meta.has_ports {
        assert_eq!((meta.sport, meta.dport), (0, 0), "ports without has_ports");
    }
    if meta.tcp_flags != 0 {
        assert_eq!(meta.proto, proto::TCP, "TCP flags on a non-TCP packet");
    }
    if meta.icmp_type != 0 || meta.icmp_code != 0 {
        assert!(
            meta.proto == proto::ICMP || meta.proto == proto::ICMPV6,
            "ICMP type on protocol {}",
            meta.proto
        );
    }
    assert_eq!(
        meta.src.is_ipv4(),
        meta.dst.is_ipv4(),
        "mixed address families"
    );
}

/// A per-process scratch file in memory-backed storage: the readers under test take paths.
pub fn scratch_file(tag: &str, bytes: &[u8]) -> PathBuf {
    let dir = match std::path::Path::new("/dev/shm").is_dir() {
        true => PathBuf::from("/dev/shm"),
        false => std::env::temp_dir(),
    };
    let path = dir.join(format!("c2tap-fuzz-{}-{tag}", std::process::id()));
    if let Err(e) = std::fs::write(&path, bytes) {
        panic!("cannot write the scratch file {}: {e}", path.display());
    }
    path
}

/// Most packets read from one input: a tiny file of empty records is still finite.
const MAX_PACKETS: usize = 100_000;

/// Reads a whole capture file and decodes every packet in it.
pub fn check_capture_file(bytes: &[u8]) {
    let path = scratch_file("capture", bytes);
    let Ok(mut file) = CaptureFile::open(&path) else {
        return;
    };
    for _ in 0..MAX_PACKETS {
        let packet = match file.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(_) => break,
        };
        assert!(
            packet.data.len() <= MAX_PACKET as usize,
            "packet over the cap"
        );
        let (link, data) = (packet.link, packet.data);
        check_decode(link, data);
    }
    assert!(file.bytes_read() <= bytes.len() as u64, "read past the end");
}

/// Loads `prefix` + `body` as a feed file through the public loader and checks that every IOC
/// it loaded is found again by the lookup the packet path uses.
pub fn check_feed(prefix: &[u8], body: &[u8]) -> Result<usize, LoadError> {
    let bytes = [prefix, body].concat();
    let path = scratch_file("feed", &bytes);
    let loaded = ioc::load(
        &[FeedSource::File(path)],
        &Filters::default(),
        1_700_000_000,
    )?;
    assert_eq!(loaded.stats.iocs, loaded.set.len());
    assert!(!loaded.set.is_empty(), "an empty set loaded without error");
    for ioc in loaded.set.iter() {
        assert_findable(&loaded.set, &ioc.value, ioc.port);
    }
    for name in loaded.set.names().iter() {
        assert_name_findable(&loaded.set, name);
    }
    Ok(loaded.set.len() + loaded.set.names().len())
}

/// A loaded name IOC is found by the lookup the packet path uses, with its own key.
fn assert_name_findable(set: &IocSet, name: &ioc::NameIoc) {
    let hit = match name.kind {
        ioc::NameKind::Domain | ioc::NameKind::Suffix => set.match_host(name.name.as_bytes()),
        ioc::NameKind::Url => {
            let slash = name.name.find('/').unwrap_or(name.name.len());
            let (host, path) = name.name.split_at(slash);
            set.match_url(host.as_bytes(), path.as_bytes())
        }
    };
    assert!(
        hit.is_some_and(|h| h.name == name.name),
        "name IOC `{}` ({:?}) is not found by its own key: {hit:?}",
        name.name,
        name.kind
    );
}

/// An IOC's normalized value names an address (and port) that the set matches.
fn assert_findable(set: &IocSet, value: &str, port: Option<u16>) {
    let (addr, port): (IpAddr, Option<u16>) = if let Ok(sa) = value.parse::<SocketAddr>() {
        (sa.ip(), Some(sa.port()))
    } else if let Ok(ip) = value.parse::<IpAddr>() {
        (ip, port)
    } else if let Ok(net) = value.parse::<ipnet::IpNet>() {
        (net.network(), port)
    } else {
        panic!("loaded IOC value `{value}` is not an address, endpoint or network");
    };
    let hit = set.lookup(addr, port);
    assert!(
        hit.is_some_and(|h| h.kind == MatchKind::Exact),
        "IOC `{value}` is not an exact match of lookup({addr}, {port:?}): {hit:?}"
    );
}

/// Bytes a line-based feed test must not contain to stay in its format: detection would pick
/// another one (or refuse the file).
pub fn without(body: &[u8], banned: &[u8]) -> Vec<u8> {
    body.iter()
        .map(|b| if banned.contains(b) { b' ' } else { *b })
        .collect()
}
