//! Who is who on the router's links: the interfaces, the direction a packet came
//! from, and a subscriber's id. Every other module names links with these.

/// A subscriber: the index of its `[[subscriber]]` entry in the configuration.
pub type SubscriberId = u16;

/// An interface of the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interface {
    /// The uplink.
    Wan,
    /// A subscriber's TUN.
    Subscriber(SubscriberId),
}

/// Where a packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a subscriber, towards the WAN (or another subscriber).
    Outbound(SubscriberId),
    /// From the WAN.
    Inbound,
}

impl Direction {
    /// The interface the packet came in on.
    pub fn ingress(self) -> Interface {
        match self {
            Direction::Outbound(s) => Interface::Subscriber(s),
            Direction::Inbound => Interface::Wan,
        }
    }

    /// Whether the packet came from a subscriber.
    pub fn is_outbound(self) -> bool {
        matches!(self, Direction::Outbound(_))
    }
}

impl Interface {
    /// The direction of a packet that came in on this interface.
    pub fn direction(self) -> Direction {
        match self {
            Interface::Wan => Direction::Inbound,
            Interface::Subscriber(s) => Direction::Outbound(s),
        }
    }
}
