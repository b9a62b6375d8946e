//! Arbitrary data and an arbitrary field change at an arbitrary offset: the RFC 1624
//! incremental update equals a recompute from scratch (unless the new data is all
//! zero, where the two are the two encodings of zero), and UDP's 0 stays 0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sixfold_checksum::incremental::{Update, update_bytes};
use sixfold_checksum::{checksum, udp};

fuzz_target!(|input: (Vec<u8>, u16, Vec<u8>)| {
    let (data, at, new) = input;
    if data.is_empty() || new.is_empty() {
        return;
    }
    let offset = at as usize % data.len();
    let len = new.len().min(data.len() - offset);
    let new = &new[..len];
    let mut after = data.clone();
    after[offset..offset + len].copy_from_slice(new);

    let hc = checksum(&data);
    let updated = update_bytes(hc, offset, &data[offset..offset + len], new);
    if after.iter().any(|&b| b != 0) {
        assert_eq!(updated, checksum(&after));
    } else {
        assert!(updated == 0 || updated == 0xFFFF);
    }
    let change = Update::new().bytes(offset, &data[offset..offset + len], new);
    assert_eq!(udp::update(0, &change), 0, "UDP 'no checksum' must stay 0");
    assert_ne!(
        udp::update(hc.max(1), &change),
        0,
        "a UDP checksum is never written as 0"
    );
});
