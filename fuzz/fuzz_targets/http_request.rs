//! The HTTP/1.x request-line and Host reader on any payload: slices it returns lie inside the
//! bounded prefix it may read.
#![no_main]

use c2tap::decode::http::{request, starts_request, MAX_REQUEST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = starts_request(data);
    if let Ok(r) = request(data) {
        let bound = data.len().min(MAX_REQUEST);
        let inside = |s: &[u8]| {
            let start = s.as_ptr() as usize;
            let base = data.as_ptr() as usize;
            s.is_empty() || (start >= base && start + s.len() <= base + bound)
        };
        assert!(inside(r.method));
        assert!(r.path == b"/" || inside(r.path));
        assert!(r.host.map_or(true, inside));
        assert!(r.authority.map_or(true, inside));
    }
});
