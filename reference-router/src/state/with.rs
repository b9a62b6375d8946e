//! serde forms for the few state fields whose types have none of their own:
//! a protocol number, a NAT event by name, a port bitmap (an array longer than
//! serde's 32), and a drain countdown shared by the workers (saved as its value;
//! [`crate::Router::relink`] shares it again after a restore).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// [`sixfold_rewrite::IpProtocol`] as its number.
pub(crate) mod protocol {
    use super::*;
    use sixfold_rewrite::IpProtocol;

    pub(crate) fn serialize<S: Serializer>(p: &IpProtocol, s: S) -> Result<S::Ok, S::Error> {
        p.number().serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpProtocol, D::Error> {
        u8::deserialize(d).map(IpProtocol::from)
    }
}

/// [`crate::stats::NatEvent`] by its counter name (a renamed event fails the
/// restore with its name instead of meaning another).
pub(crate) mod nat_event {
    use super::*;
    use crate::stats::NatEvent;

    pub(crate) fn serialize<S: Serializer>(e: &NatEvent, s: S) -> Result<S::Ok, S::Error> {
        e.name().serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NatEvent, D::Error> {
        let name = <&str>::deserialize(d)?;
        NatEvent::from_name(name).ok_or_else(|| D::Error::custom(format!("no NAT event {name:?}")))
    }
}

/// The port bitmaps: per address × protocol, 1024 words or none.
pub(crate) mod bitmaps {
    use super::*;

    type Bitmaps = Vec<Option<Box<[u64; 1024]>>>;

    pub(crate) fn serialize<S: Serializer>(b: &Bitmaps, s: S) -> Result<S::Ok, S::Error> {
        let view: Vec<Option<&[u64]>> = b.iter().map(|m| m.as_deref().map(|a| &a[..])).collect();
        view.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bitmaps, D::Error> {
        let words: Vec<Option<Vec<u64>>> = Vec::deserialize(d)?;
        words
            .into_iter()
            .map(|m| {
                m.map(|w| {
                    let n = w.len();
                    <Box<[u64; 1024]>>::try_from(w.into_boxed_slice()).map_err(|_| {
                        D::Error::custom(format!("a port bitmap of {n} words, not 1024"))
                    })
                })
                .transpose()
            })
            .collect()
    }
}

/// A drain countdown (`Arc<AtomicU16>` shared by the workers) as its value.
pub(crate) mod countdown {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU16, Ordering};

    pub(crate) fn serialize<S: Serializer>(
        c: &Option<Arc<AtomicU16>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        c.as_ref().map(|c| c.load(Ordering::Relaxed)).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Arc<AtomicU16>>, D::Error> {
        Ok(Option::<u16>::deserialize(d)?.map(|n| Arc::new(AtomicU16::new(n))))
    }
}
