//! Reading packet captures (pcap and pcapng) down to their IP packets, for the
//! command-line tools (`sixfold teredo scan-pcap`) and tests.
//!
//! Link types: Ethernet (with any number of 802.1Q/802.1ad VLAN tags), raw IP,
//! Linux cooked capture v1 and v2 (SLL, SLL2), BSD loopback (null). Frames of other
//! link types, or that are not IPv4/IPv6, are kept and report no IP offset.

use anyhow::{Context, bail};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// A capture's link-layer type, as far as these tools care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101, also 12 and 14 on some systems), LINKTYPE_IPV4 (228),
    /// LINKTYPE_IPV6 (229): the frame is the IP packet.
    RawIp,
    /// LINKTYPE_LINUX_SLL (113): a 16-byte cooked header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): a 20-byte cooked header.
    LinuxSll2,
    /// LINKTYPE_NULL (0): a 4-byte address-family header.
    Null,
    /// Anything else, by its LINKTYPE number.
    Other(u32),
}

impl Link {
    /// From a LINKTYPE number.
    pub fn from_linktype(value: u32) -> Link {
        match value {
            1 => Link::Ethernet,
            12 | 14 | 101 | 228 | 229 => Link::RawIp,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            0 => Link::Null,
            other => Link::Other(other),
        }
    }

    /// The offset of the IP header in `frame`, if the frame carries IPv4 or IPv6.
    pub fn ip_offset(self, frame: &[u8]) -> Option<usize> {
        let ethertype_at = |at: usize| {
            frame
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        };
        let offset = match self {
            Link::Ethernet => {
                let mut at = 12;
                // 802.1Q, 802.1ad and the old QinQ type: skip each 4-byte tag.
                while matches!(ethertype_at(at)?, 0x8100 | 0x88A8 | 0x9100) {
                    at += 4;
                }
                matches!(ethertype_at(at)?, 0x0800 | 0x86DD).then_some(at + 2)?
            }
            Link::LinuxSll => matches!(ethertype_at(14)?, 0x0800 | 0x86DD).then_some(16)?,
            Link::LinuxSll2 => matches!(ethertype_at(0)?, 0x0800 | 0x86DD).then_some(20)?,
            Link::Null => 4,
            Link::RawIp => 0,
            Link::Other(_) => return None,
        };
        let version = frame.get(offset)? >> 4;
        matches!(version, 4 | 6).then_some(offset)
    }
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Capture timestamp since the epoch.
    pub timestamp: Duration,
    /// The frame's length on the wire (may exceed `data.len()` if truncated).
    pub orig_len: u32,
    /// The link-layer type.
    pub link: Link,
    /// The LINKTYPE number as recorded in the file.
    pub linktype: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

impl Frame {
    /// The offset of the IP header, if the frame carries IPv4 or IPv6.
    pub fn ip_offset(&self) -> Option<usize> {
        self.link.ip_offset(&self.data)
    }

    /// The IP packet, if the frame carries IPv4 or IPv6.
    pub fn ip(&self) -> Option<&[u8]> {
        self.ip_offset().map(|at| &self.data[at..])
    }
}

/// A frame borrowed from the reader while streaming (see [`for_each_frame`]).
#[derive(Clone, Copy, Debug)]
pub struct FrameRef<'a> {
    /// Capture timestamp since the epoch.
    pub timestamp: Duration,
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// The LINKTYPE number as recorded in the file.
    pub linktype: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

impl FrameRef<'_> {
    /// The link-layer type.
    pub fn link(&self) -> Link {
        Link::from_linktype(self.linktype)
    }

    /// An owned copy.
    pub fn to_frame(&self) -> Frame {
        Frame {
            timestamp: self.timestamp,
            orig_len: self.orig_len,
            link: self.link(),
            linktype: self.linktype,
            data: self.data.to_vec(),
        }
    }
}

/// Reads every frame of a pcap or pcapng file (told apart by the magic number).
pub fn read(path: &Path) -> anyhow::Result<Vec<Frame>> {
    let mut frames = Vec::new();
    for_each_frame(path, |f| {
        frames.push(f.to_frame());
        Ok(())
    })?;
    Ok(frames)
}

/// Reads every frame of a pcap or pcapng image in memory.
pub fn read_bytes(bytes: &[u8]) -> anyhow::Result<Vec<Frame>> {
    let mut frames = Vec::new();
    stream(bytes, &mut |f: FrameRef<'_>| {
        frames.push(f.to_frame());
        Ok(())
    })?;
    Ok(frames)
}

/// Streams the frames of a pcap or pcapng file through `visit` without holding them
/// all in memory. Stops at the first error of the file or of `visit`.
pub fn for_each_frame(
    path: &Path,
    mut visit: impl FnMut(FrameRef<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read capture {}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    stream(reader, &mut visit)
        .with_context(|| format!("{} is not a readable pcap or pcapng file", path.display()))
}

fn stream(
    mut reader: impl std::io::BufRead,
    visit: &mut dyn FnMut(FrameRef<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let magic = reader
        .fill_buf()
        .context("cannot read the capture header")?;
    match magic.get(..4) {
        Some([0x0A, 0x0D, 0x0D, 0x0A]) => stream_pcapng(reader, visit),
        Some(_) => stream_pcap(reader, visit),
        None => bail!(
            "file is {} bytes long, shorter than any capture header",
            magic.len()
        ),
    }
}

fn stream_pcap(
    reader: impl Read,
    visit: &mut dyn FnMut(FrameRef<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut reader = PcapReader::new(reader).context("bad pcap header")?;
    let linktype = u32::from(reader.header().datalink);
    let mut n = 0usize;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.with_context(|| format!("bad pcap record after {n} frames"))?;
        visit(FrameRef {
            timestamp: packet.timestamp,
            orig_len: packet.orig_len,
            linktype,
            data: &packet.data,
        })?;
        n += 1;
    }
    Ok(())
}

fn stream_pcapng(
    reader: impl Read,
    visit: &mut dyn FnMut(FrameRef<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut reader = PcapNgReader::new(reader).context("bad pcapng section header")?;
    let mut n = 0usize;
    let mut linktypes: Vec<u32> = Vec::new();
    while let Some(block) = reader.next_block() {
        let block = block.with_context(|| format!("bad pcapng block after {n} frames"))?;
        let (interface, timestamp, orig_len, data) = match block {
            Block::InterfaceDescription(idb) => {
                linktypes.push(u32::from(idb.linktype));
                continue;
            }
            Block::EnhancedPacket(p) => (p.interface_id, p.timestamp, p.original_len, p.data),
            Block::SimplePacket(p) => (0, Duration::ZERO, p.original_len, p.data),
            _ => continue,
        };
        let Some(&linktype) = linktypes.get(interface as usize) else {
            bail!(
                "packet refers to interface {interface}, but the file describes {}",
                linktypes.len()
            );
        };
        visit(FrameRef {
            timestamp,
            orig_len,
            linktype,
            data: &data,
        })?;
        n += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_with_vlan_tags() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[
            0x81, 0x00, 0x00, 0x05, 0x88, 0xA8, 0x00, 0x06, 0x08, 0x00, 0x45,
        ]);
        assert_eq!(Link::Ethernet.ip_offset(&f), Some(22));
        f[20..22].copy_from_slice(&[0x08, 0x06]); // ARP
        assert_eq!(Link::Ethernet.ip_offset(&f), None);
    }

    #[test]
    fn cooked_and_raw() {
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&[0x86, 0xDD]);
        sll.push(0x60);
        assert_eq!(Link::LinuxSll.ip_offset(&sll), Some(16));
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&[0x08, 0x00]);
        sll2.push(0x45);
        assert_eq!(Link::LinuxSll2.ip_offset(&sll2), Some(20));
        assert_eq!(Link::RawIp.ip_offset(&[0x45, 0]), Some(0));
        assert_eq!(Link::RawIp.ip_offset(&[0x15, 0]), None);
        assert_eq!(Link::Ethernet.ip_offset(&[0; 5]), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(read_bytes(&[1, 2]).is_err());
        assert!(read_bytes(&[0u8; 64]).is_err());
    }
}
