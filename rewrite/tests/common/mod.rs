//! What the oracle tests share: finding Debian's python3, skipping loudly when it
//! (or scapy) is missing — or failing, when `SIXFOLD_REQUIRE_ORACLES=1` says the
//! oracles must run.

use std::process::Command;

/// The first of `/usr/bin/python3` and `python3` that runs `probe` (Python code)
/// successfully, or `None` after saying loudly that `what` is skipped.
pub(crate) fn python(probe: &str, what: &str) -> Option<&'static str> {
    let found = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", probe])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        let required = std::env::var("SIXFOLD_REQUIRE_ORACLES").is_ok_and(|v| v == "1");
        assert!(!required, "SIXFOLD_REQUIRE_ORACLES=1 but {what} cannot run");
        eprintln!(
            "\n*** SKIPPED: {what} (needs /usr/bin/python3; scapy: apt-get install python3-scapy) ***\n"
        );
    }
    found
}
