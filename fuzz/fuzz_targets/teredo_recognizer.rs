//! Arbitrary UDP payloads through the Teredo, AYIYA and proto-41 recognisers: no
//! panic; whatever `recognize` accepts it writes back byte for byte; and the verdict
//! depends only on the payload's own bytes (appending bytes to an accepted payload
//! never keeps the same parse).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sixfold_teredo::packet::{classify_proto41, recognize, recognize_ayiya};
use sixfold_teredo::{Teredo, classify};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = recognize(data) {
        let mut out = vec![0u8; p.encoded_len()];
        assert_eq!(p.write(&mut out), Some(data.len()));
        assert_eq!(out, data);
        assert_eq!(p.ipv6.len(), 40 + p.inner.payload_len as usize);
        let mut longer = data.to_vec();
        longer.push(0);
        assert!(
            recognize(&longer).is_err(),
            "a trailing byte must break the exact length"
        );
    }
    let _ = recognize_ayiya(data);
    let _ = classify_proto41(data, None);
    if let Some(bytes) = data.first_chunk::<16>() {
        let addr = std::net::Ipv6Addr::from(*bytes);
        let _ = classify(addr);
        if let Some(t) = Teredo::decode(addr) {
            assert_eq!(t.encode(), addr);
        }
    }
});
