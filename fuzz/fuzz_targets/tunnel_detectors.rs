//! The transition-tunnel detectors on arbitrary bytes: no panic, and no verdict
//! flips on bytes beyond the packet's own length (the IPv4 total length): the same
//! packet followed by arbitrary junk gets the same answer.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sixfold_router::config::Tunnels;
use sixfold_router::tunnels;

#[derive(Arbitrary, Debug)]
struct Input {
    packet: Vec<u8>,
    junk: Vec<u8>,
    all_on: bool,
}

fuzz_target!(|input: Input| {
    let on = Tunnels::all(input.all_on);
    let p = &input.packet;
    let verdict = tunnels::ipv4(p, &on, None);
    let _ = tunnels::teredo_exposure(p);
    if p.len() >= 20 {
        let own = usize::from(u16::from_be_bytes([p[2], p[3]]));
        if (20..=p.len()).contains(&own) {
            let mut longer = p[..own].to_vec();
            let cut = tunnels::ipv4(&longer, &on, None);
            longer.extend_from_slice(&input.junk);
            assert_eq!(
                cut,
                tunnels::ipv4(&longer, &on, None),
                "junk after the packet changed the verdict"
            );
            assert_eq!(cut, verdict);
            assert_eq!(
                tunnels::teredo_exposure(&p[..own]),
                tunnels::teredo_exposure(&longer)
            );
        }
    }
});
