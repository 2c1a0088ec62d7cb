//! The DNS message parser (question, answers, compression) on any bytes: byte 0 selects UDP
//! (even) or TCP with its length prefix (odd), the rest is the payload.
#![no_main]

use c2tap::decode::dns::{tcp_message, Message, Name, Rdata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let msg = if selector % 2 == 1 {
        match tcp_message(payload) {
            Ok(m) => m,
            Err(_) => return,
        }
    } else {
        payload
    };
    let mut name = Name::default();
    let Ok(parsed) = Message::parse(msg, &mut name) else {
        return;
    };
    assert!(name.as_bytes().len() <= 253);
    let mut read = 0;
    for answer in parsed.answers() {
        read += 1;
        let Ok(answer) = answer else { break };
        assert!(parsed.name_at(answer.name_at, &mut name).is_ok());
        if let Rdata::Cname(at) = answer.data {
            assert!(parsed.name_at(at, &mut name).is_ok());
        }
    }
    assert!(read <= c2tap::decode::dns::MAX_ANSWERS);
});
