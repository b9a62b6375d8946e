//! Every variant against the RFC 1071 reference: properties over lengths 0..=70,000 at
//! alignment offsets 0..64, exhaustive small sweeps, inputs past the u32 overflow
//! point, and the inputs on which public crates are known to be wrong
//! (`../shared/reference/checksum.md` §b).

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use sixfold_checksum::variants::{ALL, reference};
use sixfold_checksum::{Sum, checksum, sum};

/// Asserts that every variant, and `sum()`, agree with `reference` on `data`.
fn agree(data: &[u8]) -> Result<(), String> {
    let want = reference(data);
    for v in ALL {
        let got = (v.sum)(data);
        if got != want {
            return Err(format!(
                "{} gave {:#06x}, reference {:#06x} (len {})",
                v.name,
                got.get(),
                want.get(),
                data.len()
            ));
        }
    }
    let got = sum(data);
    if got != want {
        return Err(format!(
            "sum() gave {:#06x}, reference {:#06x} (len {})",
            got.get(),
            want.get(),
            data.len()
        ));
    }
    Ok(())
}

/// Buffer contents that stress carries: random, all-0xFF, mostly 0xFF, all zero.
#[derive(Clone, Debug)]
struct Input {
    bytes: Vec<u8>,
    offset: usize,
}

impl Arbitrary for Input {
    fn arbitrary(g: &mut Gen) -> Input {
        let len = match u8::arbitrary(g) % 4 {
            0 => usize::arbitrary(g) % 130,
            1 => usize::arbitrary(g) % 2_000,
            2 => usize::arbitrary(g) % 16_384,
            _ => usize::arbitrary(g) % 70_001,
        };
        let offset = usize::arbitrary(g) % 64;
        let style = u8::arbitrary(g) % 4;
        let mut bytes = vec![0u8; offset + len];
        for b in &mut bytes[offset..] {
            *b = match style {
                0 => u8::arbitrary(g),
                1 => 0xFF,
                2 => {
                    if u8::arbitrary(g) < 8 {
                        u8::arbitrary(g)
                    } else {
                        0xFF
                    }
                }
                _ => 0,
            };
        }
        Input { bytes, offset }
    }
}

#[test]
fn every_variant_equals_reference_property() {
    fn prop(input: Input) -> TestResult {
        match agree(&input.bytes[input.offset..]) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e),
        }
    }
    QuickCheck::new()
        .tests(400)
        .quickcheck(prop as fn(Input) -> TestResult);
}

/// Linux's kunit sweep, smaller: every length 0..=600 at every offset 0..64, with
/// random, all-ones ("catch any case a carry is missing") and all-zero data.
#[test]
fn every_length_every_offset() {
    let mut random = vec![0u8; 700];
    let mut x: u32 = 0x9E37_79B9;
    for b in &mut random {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let ones = vec![0xFFu8; 700];
    let zeros = vec![0u8; 700];
    for buf in [&random, &ones, &zeros] {
        for offset in 0..64 {
            for len in 0..=600 {
                agree(&buf[offset..offset + len]).unwrap();
            }
        }
    }
}

#[test]
fn empty_input() {
    agree(&[]).unwrap();
    assert_eq!(sum(&[]), Sum::ZERO);
    assert_eq!(checksum(&[]), 0xFFFF, "pnet_packet 0.35 returns 0 here");
}

#[test]
fn all_zero_and_all_ones() {
    for len in [1, 2, 20, 40, 64, 1500, 9000, 65_535] {
        let zeros = vec![0u8; len];
        agree(&zeros).unwrap();
        assert_eq!(checksum(&zeros), 0xFFFF);
        let ones = vec![0xFFu8; len];
        agree(&ones).unwrap();
        // An even run of 0xFF sums to −0; an odd one ends in the word 0xFF00, and
        // 0xFFFF·k + 0xFF00 folds to 0xFF00.
        let want = if len % 2 == 0 {
            Sum::NEG_ZERO
        } else {
            Sum::new(0xFF00)
        };
        assert_eq!(sum(&ones), want, "len {len}");
    }
}

/// internet-checksum 0.2.1 returns 0xFFFF here (loses a carry when its u128 is
/// all ones); the right checksum is 0xFEFF.
#[test]
fn u128_carry_chain_64_bytes() {
    // [FF×16, 01, 00×15, FF×16, 00×16]: sixteen 0xFFFF words plus 0x0100.
    let mut data = vec![0xFFu8; 16];
    data.push(0x01);
    data.extend_from_slice(&[0x00; 15]);
    data.extend_from_slice(&[0xFF; 16]);
    data.extend_from_slice(&[0x00; 16]);
    assert_eq!(data.len(), 64);
    agree(&data).unwrap();
    assert_eq!(checksum(&data), 0xFEFF);
}

/// smoltcp 0.14 and pnet 0.35 wrap their u32 past 131,074 bytes of 0xFF (smoltcp gives
/// 0x0100, pnet 0x0001 for 131,076 bytes); the right checksum is 0x0000.
#[test]
fn u32_overflow_past_128_kib() {
    for len in [131_072, 131_074, 131_076, 131_077, 200_003, 1 << 20] {
        let ones = vec![0xFFu8; len];
        agree(&ones).unwrap();
        let want = if len % 2 == 0 { 0x0000 } else { 0x00FF };
        assert_eq!(checksum(&ones), want, "len {len}");
    }
    let mut x: u64 = 1;
    let big: Vec<u8> = (0..(3 << 20) + 5)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8 | 0xC0
        })
        .collect();
    for offset in [0, 1, 7, 63] {
        agree(&big[offset..]).unwrap();
    }
}

/// A sum over a concatenation is the sum of the pieces, with the second rotated by
/// 8 bits when the first has odd length.
#[test]
fn sum_of_concatenation() {
    fn prop(a: Vec<u8>, b: Vec<u8>) -> bool {
        let mut ab = a.clone();
        ab.extend_from_slice(&b);
        sum(&ab) == sum(&a) + sum(&b).at_offset(a.len())
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(Vec<u8>, Vec<u8>) -> bool);
}
