//! The scale-out world's plan: names, addresses, each box's pool slice — and
//! each box's router configuration, made here and nowhere else.

use anyhow::{Context, bail};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use sixfold_router::Config;
use sixfold_router::config::{Allocation, SubscriberRange};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// The subscribers' IPv4 range (subscriber `k` has `.k`) and IPv6 aggregate
/// (subscriber `k` has the `k`th /64, its host `::2`).
pub(super) const RANGE_V4: &str = "100.64.1.0/24";
pub(super) const AGGREGATE_V6: &str = "2001:db8:1::/48";
/// Kernel tables in a box: what arrives from the access side is looked up in
/// [`INSIDE_TABLE`] (the default into the router's inside TUN), what arrives from
/// the core in [`WAN_TABLE`] (the slice and the IPv6 routes into its WAN TUN).
pub(super) const INSIDE_TABLE: u32 = 100;
pub(super) const WAN_TABLE: u32 = 110;
/// The access namespace's table that BIRD fills with the boxes' default routes.
pub(super) const ACCESS_BGP_TABLE: u32 = 200;
/// Resilient nexthop groups in the access namespace: IPv4, IPv6.
pub(super) const GROUP_V4: u32 = 1000;
pub(super) const GROUP_V6: u32 = 1100;
/// Buckets of each group, and seconds a bucket must be idle before it may move
/// to a box that (re)joined.
pub(super) const BUCKETS: u32 = 128;
pub(super) const IDLE_TIMER_S: u64 = 5;
/// AS numbers: the core, the access side, box `k` is `BOX_AS + k`.
pub(super) const CORE_AS: u32 = 64500;
pub(super) const ACCESS_AS: u32 = 64501;
pub(super) const BOX_AS: u32 = 65000;
/// A second address of the "internet" (on the core's loopback), for
/// endpoint-independent mapping across destinations.
pub(super) const SERVER_V4_B: &str = "192.0.2.81";

/// What the world is made of.
pub(super) struct Plan {
    pub(super) prefix: String,
    /// Boxes.
    pub(super) n: u16,
    /// Subscribers 1..=subscribers take part from the start.
    pub(super) subscribers: u16,
    /// Subscribers after those, silent until box 1 came back.
    pub(super) newcomers: u16,
    /// Box `k`'s public pool slice at index `k - 1`.
    pub(super) slices: Vec<Ipv4Net>,
    /// Configuration files, BIRD's sockets and logs, the routers' logs.
    pub(super) dir: PathBuf,
    /// A ring of backups (`[takeover]` in the lab's configuration): box `k`
    /// covers box `k - 1`'s slice.
    pub(super) takeover: bool,
    /// The boxes run the fast path: the access and core ends of their veths
    /// take redirected frames (GRO on) and send complete checksums.
    pub(super) fastpath: bool,
}

impl Plan {
    /// The plan for `n` boxes and `subscribers`, slicing the first prefix of
    /// `base`'s pool into `n` equal power-of-two slices.
    pub(super) fn new(
        prefix: &str,
        n: u16,
        subscribers: u16,
        base: &Config,
        dir: PathBuf,
    ) -> anyhow::Result<Plan> {
        let newcomers = 4 * n;
        if u32::from(subscribers) + u32::from(newcomers) > 254 {
            bail!(
                "--subscribers {subscribers}: with --routers {n} at most {} (the access range {RANGE_V4} also holds {newcomers} newcomers for the box coming back)",
                254 - u32::from(newcomers)
            );
        }
        let [pool] = base.nat.pool.as_slice() else {
            bail!(
                "--routers {n}: nat.pool must be one prefix to slice among the boxes (it has {})",
                base.nat.pool.len()
            );
        };
        let bits = u8::try_from(u32::from(n).next_power_of_two().trailing_zeros())?;
        let len = pool.prefix_len() + bits;
        if len > 30 {
            bail!("--routers {n}: nat.pool {pool} is too small for {n} slices of /30 or more");
        }
        let slices: Vec<Ipv4Net> = pool
            .subnets(len)
            .context("slicing nat.pool")?
            .take(usize::from(n))
            .collect();
        Ok(Plan {
            prefix: prefix.to_string(),
            n,
            subscribers,
            newcomers,
            slices,
            dir,
            takeover: base.takeover.is_some(),
            fastpath: base.fastpath.on(),
        })
    }

    pub(super) fn access(&self) -> String {
        format!("{}-access", self.prefix)
    }

    pub(super) fn core(&self) -> String {
        format!("{}-core", self.prefix)
    }

    /// Box `k`'s namespace.
    pub(super) fn r(&self, k: u16) -> String {
        format!("{}-r{k}", self.prefix)
    }

    pub(super) fn boxes(&self) -> std::ops::RangeInclusive<u16> {
        1..=self.n
    }

    /// Box `k`'s control socket.
    pub(super) fn socket(&self, k: u16) -> String {
        format!("/run/sixfold-{}-r{k}.sock", self.prefix)
    }

    /// Box `k`'s configuration file.
    pub(super) fn config_file(&self, k: u16) -> PathBuf {
        self.dir.join(format!("r{k}.toml"))
    }

    /// The control socket of BIRD in namespace role `role` (`core`, `access`, `r1`).
    pub(super) fn bird_socket(&self, role: &str) -> PathBuf {
        self.dir.join(format!("bird-{role}.ctl"))
    }

    pub(super) fn slice(&self, k: u16) -> Ipv4Net {
        self.slices[usize::from(k - 1)]
    }

    /// The box whose slice holds public address `a`.
    pub(super) fn box_of(&self, a: Ipv4Addr) -> Option<u16> {
        self.boxes().find(|&k| self.slice(k).contains(&a))
    }

    /// Box `k`'s predecessor in the ring: the box it is the backup of.
    pub(super) fn predecessor(&self, k: u16) -> u16 {
        if k == 1 { self.n } else { k - 1 }
    }

    /// Box `k`'s successor in the ring: its backup.
    pub(super) fn successor(&self, k: u16) -> u16 {
        k % self.n + 1
    }

    /// Every subscriber, newcomers included.
    pub(super) fn all_subscribers(&self) -> std::ops::RangeInclusive<u16> {
        1..=self.subscribers + self.newcomers
    }
}

/// Subscriber `k`'s addresses.
pub(super) fn sub_v4(k: u16) -> Ipv4Addr {
    Ipv4Addr::new(100, 64, 1, u8::try_from(k).unwrap_or(255))
}

pub(super) fn sub_v6(k: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, k, 0, 0, 0, 2)
}

pub(super) fn sub_v6_prefix(k: u16) -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, 1, k, 0, 0, 0, 0), 64).expect("a /64")
}

/// The UDP port each box's takeover listener has on its core link address.
pub(super) const TAKEOVER_PORT: u16 = 4740;

/// The link between the access namespace (`.1`, `::1`, device `rK`) and box `k`
/// (`.2`, `::2`, device `access`).
pub(super) fn access_link(k: u16) -> (Ipv4Addr, Ipv4Addr, Ipv6Addr, Ipv6Addr) {
    link(0, 0xa, k)
}

/// The link between the core (`.1`, `::1`, device `rK`) and box `k` (`.2`,
/// `::2`, device `core`).
pub(super) fn core_link(k: u16) -> (Ipv4Addr, Ipv4Addr, Ipv6Addr, Ipv6Addr) {
    link(1, 0xc, k)
}

fn link(octet: u8, word: u16, k: u16) -> (Ipv4Addr, Ipv4Addr, Ipv6Addr, Ipv6Addr) {
    let k8 = u8::try_from(k).unwrap_or(255);
    (
        Ipv4Addr::new(10, octet, k8, 1),
        Ipv4Addr::new(10, octet, k8, 2),
        Ipv6Addr::new(0xfd00, word, k, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0xfd00, word, k, 0, 0, 0, 0, 2),
    )
}

/// Box `k`'s router: `base`'s [router], [nat] and [ipfix] with the box's own
/// control socket and pool slice (deterministic allocation unless `base` asks
/// for blocks, so the slice and every subscriber's ports in it follow from this
/// file); its WAN TUN `wan` with the slice and the IPv6 aggregate routed into it
/// in [`WAN_TABLE`]; one inside TUN `inside` for the whole access range, the
/// default routed into it in [`INSIDE_TABLE`], each subscriber's IPv6 /64
/// announced (a route via `wan` in [`WAN_TABLE`]) while it has firewall state
/// here. Those routes exist only while the router runs: they die with its TUNs.
pub(super) fn box_config(plan: &Plan, base: &Config, k: u16) -> anyhow::Result<Config> {
    let mut c = base.clone();
    c.router.control_socket = plan.socket(k);
    // Subscribers have static addresses: the access network is their BNG.
    c.router.ra = false;
    c.metrics = sixfold_router::config::Metrics::default();
    c.nat.pool = vec![plan.slice(k)];
    if c.nat.allocation == Allocation::Dynamic {
        c.nat.allocation = Allocation::Deterministic;
    }
    c.wan.name = "wan".into();
    c.wan.netns = None;
    c.wan.routes = vec![IpNet::V4(plan.slice(k)), IpNet::V6(AGGREGATE_V6.parse()?)];
    c.wan.route_table = Some(WAN_TABLE);
    c.subscriber = Vec::new();
    c.subscriber_range = vec![SubscriberRange {
        name: "inside".into(),
        netns: None,
        mtu: 1500,
        ipv4: Some(RANGE_V4.parse()?),
        ipv6: Some(AGGREGATE_V6.parse()?),
        ipv6_length: 64,
        routes: vec!["0.0.0.0/0".parse()?, "::/0".parse()?],
        route_table: Some(INSIDE_TABLE),
        announce: true,
        open: false,
        open_ports: Vec::new(),
        rate_mbps: None,
    }];
    if c.takeover.is_some() {
        ring(plan, &mut c, k);
    }
    c.validate()
        .with_context(|| format!("box {k}'s configuration"))?;
    Ok(c)
}

/// Box `k` in the ring of backups (`[takeover]` in the lab's configuration):
/// it covers its predecessor's slice, listening on its core link address,
/// taking the predecessor's core link address as the feed's source; it
/// exports its own mappings (natEvent 8/9) from its core link address to its
/// successor's listener (its `[ipfix]` collector, templates every 2 s at
/// most); and its WAN TUN carries
/// the predecessor's slice too (BIRD announces it with a longer AS path).
fn ring(plan: &Plan, c: &mut Config, k: u16) {
    let (pred, succ) = (plan.predecessor(k), plan.successor(k));
    let own = |k: u16| core_link(k).1;
    c.takeover = Some(sixfold_router::config::Takeover {
        slice: vec![plan.slice(pred)],
        listen: Some(SocketAddr::new(own(k).into(), TAKEOVER_PORT)),
        from: Some(own(pred).into()),
    });
    c.ipfix.collector = Some(SocketAddr::new(own(succ).into(), TAKEOVER_PORT));
    c.ipfix.source = Some(own(k).into());
    c.ipfix.netns = None;
    c.ipfix.mappings = true;
    // The backup starts after its predecessor's start message (which carries
    // the templates): it can read the feed from the next templates on.
    c.ipfix.template_refresh = c.ipfix.template_refresh.min(2);
    c.wan.routes.push(IpNet::V4(plan.slice(pred)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_of_three_boxes_covers_each_predecessor() {
        let base = Config::parse_unchecked(
            "[nat]\npool = [\"203.0.113.0/24\"]\nallocation = \"deterministic\"\nblock_size = 2016\n[takeover]\n",
        )
        .unwrap();
        let plan = Plan::new("rg", 3, 4, &base, PathBuf::from("/tmp")).unwrap();
        assert!(plan.takeover);
        assert_eq!(
            (1..=3).map(|k| plan.predecessor(k)).collect::<Vec<_>>(),
            [3, 1, 2]
        );
        assert_eq!(
            (1..=3).map(|k| plan.successor(k)).collect::<Vec<_>>(),
            [2, 3, 1]
        );
        let c = box_config(&plan, &base, 2).unwrap();
        let t = c.takeover.as_ref().unwrap();
        assert_eq!(t.slice, vec!["203.0.113.0/26".parse::<Ipv4Net>().unwrap()]);
        assert_eq!(t.listen, Some("10.1.2.2:4740".parse().unwrap()));
        assert_eq!(t.from, Some("10.1.1.2".parse().unwrap()));
        assert_eq!(c.ipfix.collector, Some("10.1.3.2:4740".parse().unwrap()));
        assert_eq!(c.ipfix.source, Some("10.1.2.2".parse().unwrap()));
        assert!(c.ipfix.mappings);
        assert_eq!(
            c.nat.pool,
            vec!["203.0.113.64/26".parse::<Ipv4Net>().unwrap()]
        );
        assert_eq!(
            c.wan.routes,
            vec![
                "203.0.113.64/26".parse::<IpNet>().unwrap(),
                AGGREGATE_V6.parse().unwrap(),
                "203.0.113.0/26".parse().unwrap(),
            ]
        );
        // Without [takeover], no ring.
        let mut plain = base.clone();
        plain.takeover = None;
        let c = box_config(&plan, &plain, 2).unwrap();
        assert!(c.takeover.is_none() && !c.ipfix.mappings && c.ipfix.collector.is_none());
    }
}
