//! The ClientHello SNI reader on any client byte stream, whole and cut at every segment
//! boundary the input suggests: a prefix never yields a different name than the whole.
#![no_main]

use c2tap::decode::tls::{sni, TlsError, MAX_HELLO};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let stream = data.get(..MAX_HELLO).unwrap_or(data);
    let mut whole = [0u8; 255];
    let full = sni(stream, &mut whole).map(|n| n.map(<[u8]>::to_vec));
    for cut in [stream.len() / 4, stream.len() / 2, stream.len() * 3 / 4] {
        let mut out = [0u8; 255];
        match sni(stream.get(..cut).unwrap_or(&[]), &mut out) {
            Ok(Some(name)) => assert_eq!(full, Ok(Some(name.to_vec()))),
            Ok(None) | Err(_) => {}
        }
    }
    if let Ok(Some(name)) = full {
        assert!(!name.is_empty() && name.len() <= 255);
    }
    let _ = TlsError::ALL;
});
