//! Where a key is in the TOML text, so an error can give both the key and the
//! line: `nat.timeouts.udp (line 7): ...`. A small line-oriented reading of
//! table headers and `key = value` lines, as this configuration writes them
//! (inline tables are not needed by any of its keys).

/// Each line's full key, in order: the table path of the header above it joined
/// with the line's own (possibly dotted) key; header lines give the table's
/// path. `[[subscriber]]` tables are numbered: `subscriber[0]`, `subscriber[1]`.
fn keys(text: &str) -> impl Iterator<Item = (usize, Option<String>)> + '_ {
    let mut table = String::new();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    text.lines().enumerate().map(move |(i, raw)| {
        let line = raw.split('#').next().unwrap_or("").trim();
        let key = if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
            let name = unquote_path(name);
            let n = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            table = format!("{name}[{n}]");
            Some(table.clone())
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = unquote_path(name);
            Some(table.clone())
        } else if let Some((name, _)) = line.split_once('=') {
            let name = unquote_path(name);
            Some(if table.is_empty() {
                name
            } else {
                format!("{table}.{name}")
            })
        } else {
            None
        };
        (i + 1, key)
    })
}

/// A dotted key with its parts trimmed and unquoted.
fn unquote_path(path: &str) -> String {
    path.split('.')
        .map(|p| p.trim().trim_matches('"').trim_matches('\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// The line (1-based) where `key` is set or its table begins; for an array
/// element key like `subscriber[2].ipv4` with no such line, the element's header.
pub(crate) fn line_of(text: &str, key: &str) -> Option<usize> {
    let found = |wanted: &str| {
        keys(text)
            .find(|(_, k)| k.as_deref() == Some(wanted))
            .map(|(line, _)| line)
    };
    found(key).or_else(|| {
        let (table, _) = key.rsplit_once('.')?;
        found(table)
    })
}

/// The full key set on `line` (1-based), if the line sets one.
pub(super) fn key_at(text: &str, line: usize) -> Option<String> {
    keys(text).find(|(l, _)| *l == line)?.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# a router\n[nat]\npool = [\"192.0.2.1\"]\ntimeouts.udp = 60\n\n[[subscriber]]\nname = \"a\"\n\n[[subscriber]]\nname = \"b\"\nipv4 = [\"100.64.0.2\"]  # theirs\n[nat.timeouts]\ntcp_established = 1\n";

    #[test]
    fn keys_are_found_by_table_and_array_index() {
        assert_eq!(line_of(TEXT, "nat.pool"), Some(3));
        assert_eq!(line_of(TEXT, "nat.timeouts.udp"), Some(4));
        assert_eq!(line_of(TEXT, "subscriber[1].name"), Some(10));
        assert_eq!(line_of(TEXT, "subscriber[1].ipv4"), Some(11));
        assert_eq!(line_of(TEXT, "nat.timeouts.tcp_established"), Some(13));
        // Not set: the table it would belong to.
        assert_eq!(line_of(TEXT, "subscriber[0].mtu"), Some(6));
        assert_eq!(line_of(TEXT, "wan.name"), None);
    }

    #[test]
    fn the_key_on_a_line() {
        assert_eq!(key_at(TEXT, 4).as_deref(), Some("nat.timeouts.udp"));
        assert_eq!(key_at(TEXT, 9).as_deref(), Some("subscriber[1]"));
        assert_eq!(key_at(TEXT, 1), None);
    }
}
