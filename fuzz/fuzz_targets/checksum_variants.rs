//! Arbitrary bytes at an arbitrary offset: every variant and `sum()` agree with the
//! RFC 1071 reference, and data followed by its checksum verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sixfold_checksum::variants::{ALL, reference};
use sixfold_checksum::{checksum, sum, verify};

fuzz_target!(|input: &[u8]| {
    let Some((&offset, rest)) = input.split_first() else {
        return;
    };
    let data = &rest[(offset as usize % 64).min(rest.len())..];
    let want = reference(data);
    for v in ALL {
        assert_eq!((v.sum)(data), want, "variant {}", v.name);
    }
    assert_eq!(sum(data), want);
    if data.len() % 2 == 0 {
        let mut with_checksum = data.to_vec();
        with_checksum.extend_from_slice(&checksum(data).to_be_bytes());
        assert!(verify(&with_checksum));
    }
});
