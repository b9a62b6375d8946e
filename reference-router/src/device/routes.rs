//! Routes on the router's TUNs, over rtnetlink (`RTM_NEWROUTE` /
//! `RTM_DELROUTE`, RFC 3549): `[wan] routes` and each range's `routes`, put in
//! place once the TUN is up, and the announce routes of ranges with `announce`
//! as the router reports them. A route through a TUN dies with it: when the
//! router exits, even by SIGKILL, the kernel withdraws every route installed
//! here. Nothing else is set up: no rules, no sysctls.
//!
//! A socket is opened inside the TUN's namespace and stays bound to it, so
//! later changes land there whatever thread sends them.

use super::netns::in_netns;
use ipnet::IpNet;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::io;

/// The main table, where routes go unless a table is configured.
pub const MAIN_TABLE: u32 = 254;

/// An rtnetlink socket in one namespace, for routes through one interface.
pub struct RouteSocket {
    socket: Socket,
    ifindex: u32,
    name: String,
    table: u32,
    seq: u32,
}

impl RouteSocket {
    /// A socket in `netns` (or the current namespace) for routes through
    /// interface `name` in `table` (none: main).
    pub fn open(name: &str, netns: Option<&str>, table: Option<u32>) -> io::Result<RouteSocket> {
        let open = || {
            let mut socket = Socket::new(NETLINK_ROUTE)?;
            socket.bind_auto()?;
            socket.connect(&SocketAddr::new(0, 0))?;
            let c_name = std::ffi::CString::new(name)?;
            let ifindex = nix::net::if_::if_nametoindex(c_name.as_c_str())
                .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{name:?}: {e}")))?;
            Ok(RouteSocket {
                socket,
                ifindex,
                name: name.to_string(),
                table: table.unwrap_or(MAIN_TABLE),
                seq: 0,
            })
        };
        match netns {
            Some(ns) => in_netns(ns, open),
            None => open(),
        }
    }

    /// Adds (or replaces) the route to `net` through the interface.
    pub fn replace(&mut self, net: IpNet) -> io::Result<()> {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        let message = RouteNetlinkMessage::NewRoute(self.message(net));
        self.request(message, flags)
            .map_err(|e| self.annotate("adding", net, e))
    }

    /// Removes the route to `net` through the interface.
    pub fn delete(&mut self, net: IpNet) -> io::Result<()> {
        let message = RouteNetlinkMessage::DelRoute(self.message(net));
        self.request(message, NLM_F_REQUEST | NLM_F_ACK)
            .map_err(|e| self.annotate("removing", net, e))
    }

    fn annotate(&self, what: &str, net: IpNet, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!(
                "{what} route {net} dev {} table {}: {e}",
                self.name, self.table
            ),
        )
    }

    /// `net` through the interface in the table: a link route as `ip route
    /// replace NET dev NAME table N` makes it.
    fn message(&self, net: IpNet) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header = RouteHeader {
            address_family: match net {
                IpNet::V4(_) => AddressFamily::Inet,
                IpNet::V6(_) => AddressFamily::Inet6,
            },
            destination_prefix_length: net.prefix_len(),
            table: u8::try_from(self.table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC),
            protocol: RouteProtocol::Static,
            scope: match net {
                IpNet::V4(_) => RouteScope::Link,
                IpNet::V6(_) => RouteScope::Universe,
            },
            kind: RouteType::Unicast,
            ..RouteHeader::default()
        };
        m.attributes = vec![
            RouteAttribute::Destination(RouteAddress::from(net.network())),
            RouteAttribute::Oif(self.ifindex),
            RouteAttribute::Table(self.table),
        ];
        m
    }

    /// Sends `message` and waits for the kernel's answer.
    fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(message));
        msg.finalize();
        let mut out = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut out);
        self.socket.send(&out, 0)?;
        let mut answer: Vec<u8> = Vec::with_capacity(8192);
        loop {
            answer.clear();
            let n = self.socket.recv(&mut answer, 0)?;
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&answer[..n])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            if reply.header.sequence_number != self.seq {
                continue;
            }
            return match reply.payload {
                NetlinkPayload::Error(e) if e.code.is_some() => Err(e.to_io()),
                _ => Ok(()),
            };
        }
    }
}

/// Installs `routes` through TUN `name` (in `netns`) in `table`: an error names
/// the route that could not be added.
pub fn install(
    name: &str,
    netns: Option<&str>,
    table: Option<u32>,
    routes: &[IpNet],
) -> io::Result<RouteSocket> {
    let mut socket = RouteSocket::open(name, netns, table)?;
    for &net in routes {
        socket.replace(net)?;
    }
    Ok(socket)
}
