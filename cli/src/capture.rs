//! Packet captures: reading pcap and pcapng frame by frame, down to their IP
//! packets, and writing pcap.
//!
//! [`Reader`] streams: one frame in memory at a time, however large the file.
//! Frames cut short by the capture's snapshot length (`orig_len` above the bytes
//! captured, and above the header's snaplen) are normal and read as they are. A
//! file that ends inside a record is an error that says how many frames came
//! before it.
//!
//! Link types: Ethernet (with any number of 802.1Q/802.1ad VLAN tags), raw IP,
//! Linux cooked capture v1 and v2 (SLL, SLL2), BSD loopback (null). Frames of other
//! link types, or that are not IPv4/IPv6, are kept and report no IP offset.

use crate::chunked::AlignedReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
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

/// LINKTYPE_RAW: frames that are IP packets.
pub const LINKTYPE_RAW: u32 = 101;

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

/// One captured frame, owned.
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

/// A frame borrowed from a [`Reader`] until its next frame.
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

    /// Whether the capture's snapshot length cut the frame short.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
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

/// Why a capture could not be read (to the end).
#[derive(Debug)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be opened.
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Reading failed after `frames` frames.
    Read {
        /// Frames read before.
        frames: u64,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Not a pcap or pcapng file: its first bytes are no capture's magic number.
    NotACapture {
        /// Bytes in the file, when it is shorter than any capture header.
        len: Option<usize>,
    },
    /// The file header does not parse.
    BadHeader(String),
    /// The file ends inside a record, after `frames` whole frames.
    Truncated {
        /// Frames read before.
        frames: u64,
    },
    /// A record that does not parse, after `frames` frames.
    BadRecord {
        /// Frames read before.
        frames: u64,
        /// What is wrong.
        problem: String,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Open { path, source } => {
                write!(f, "cannot read capture {}: {source}", path.display())
            }
            CaptureError::Read { frames, source } => {
                write!(f, "reading failed after {frames} frames: {source}")
            }
            CaptureError::NotACapture { len: Some(len) } => write!(
                f,
                "not a pcap or pcapng file: {len} bytes, shorter than any capture header"
            ),
            CaptureError::NotACapture { len: None } => {
                f.write_str("not a pcap or pcapng file (no capture magic number)")
            }
            CaptureError::BadHeader(what) => write!(f, "bad capture header: {what}"),
            CaptureError::Truncated { frames } => {
                write!(
                    f,
                    "the file ends inside a record, after {frames} whole frames"
                )
            }
            CaptureError::BadRecord { frames, problem } => {
                write!(f, "bad record after {frames} frames: {problem}")
            }
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Open { source, .. } | CaptureError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A record larger than this is not a packet but a corrupt length field.
const MAX_RECORD: usize = 16 << 20;

/// The classic pcap format (one link type per file), read without pcap-file's
/// check that `orig_len` fits the snaplen, which snaplen-limited captures break.
struct Pcap<R> {
    reader: R,
    swapped: bool,
    nanos: bool,
    linktype: u32,
}

impl<R: BufRead> Pcap<R> {
    fn new(mut reader: R, magic: [u8; 4]) -> Result<Pcap<R>, CaptureError> {
        let (swapped, nanos) = match u32::from_le_bytes(magic) {
            0xa1b2_c3d4 => (false, false),
            0xd4c3_b2a1 => (true, false),
            0xa1b2_3c4d => (false, true),
            0x4d3c_b2a1 => (true, true),
            _ => return Err(CaptureError::NotACapture { len: None }),
        };
        // The rest of the 24-byte header, after the magic number.
        let mut header = [0u8; 20];
        reader.read_exact(&mut header).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                CaptureError::BadHeader("the file ends inside the pcap header".into())
            }
            _ => CaptureError::Read {
                frames: 0,
                source: e,
            },
        })?;
        let mut pcap = Pcap {
            reader,
            swapped,
            nanos,
            linktype: 0,
        };
        // The low 16 bits: the upper ones may carry FCS flags (pcap-linktype).
        pcap.linktype = pcap.u32_at(&header, 16) & 0xffff;
        Ok(pcap)
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let bytes = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.swapped {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        }
    }

    /// The next record into `data`: (timestamp, orig_len), or `None` at a clean end.
    fn next(
        &mut self,
        frames: u64,
        data: &mut Vec<u8>,
    ) -> Result<Option<(Duration, u32)>, CaptureError> {
        let mut header = [0u8; 16];
        match read_fully(&mut self.reader, &mut header) {
            Ok(0) => return Ok(None),
            Ok(16) => {}
            Ok(_) => return Err(CaptureError::Truncated { frames }),
            Err(source) => return Err(CaptureError::Read { frames, source }),
        }
        let (secs, frac) = (self.u32_at(&header, 0), self.u32_at(&header, 4));
        let incl = self.u32_at(&header, 8) as usize;
        let orig = self.u32_at(&header, 12);
        if incl > MAX_RECORD {
            return Err(CaptureError::BadRecord {
                frames,
                problem: format!("a record of {incl} bytes"),
            });
        }
        data.clear();
        match append_exact(&mut self.reader, data, incl) {
            Ok(n) if n == incl => {}
            Ok(_) => return Err(CaptureError::Truncated { frames }),
            Err(source) => return Err(CaptureError::Read { frames, source }),
        }
        let sub = if self.nanos {
            Duration::from_nanos(u64::from(frac))
        } else {
            Duration::from_micros(u64::from(frac))
        };
        // A record whose wire length is below what was captured is read as captured.
        Ok(Some((
            Duration::from_secs(u64::from(secs)) + sub,
            orig.max(incl as u32),
        )))
    }
}

/// Appends the next `n` bytes of `reader` to `out`, straight from its buffer
/// (no zero-filling first: a capture is read once per packet); fewer if the
/// input ends. The bytes appended.
fn append_exact(reader: &mut impl BufRead, out: &mut Vec<u8>, n: usize) -> io::Result<usize> {
    let mut got = 0;
    while got < n {
        let available = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let k = available.len().min(n - got);
        out.extend_from_slice(&available[..k]);
        reader.consume(k);
        got += k;
    }
    Ok(got)
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_fully(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

enum Format {
    Pcap(Pcap<Box<dyn BufRead>>),
    PcapNg {
        reader: PcapNgReader<Box<dyn BufRead>>,
        linktypes: Vec<u32>,
    },
}

/// Streams the frames of a pcap or pcapng capture (told apart by the magic number).
pub struct Reader {
    format: Format,
    data: Vec<u8>,
    frames: u64,
}

impl Reader {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Reader, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Reader::new(Box::new(AlignedReader::new(file)))
    }

    /// Reads a capture from `reader`.
    pub fn new(mut reader: Box<dyn BufRead>) -> Result<Reader, CaptureError> {
        let head = reader
            .fill_buf()
            .map_err(|source| CaptureError::Read { frames: 0, source })?;
        let Some(&[a, b, c, d]) = head.get(..4) else {
            return Err(CaptureError::NotACapture {
                len: Some(head.len()),
            });
        };
        let format = if [a, b, c, d] == [0x0A, 0x0D, 0x0D, 0x0A] {
            let reader = PcapNgReader::new(reader)
                .map_err(|e| CaptureError::BadHeader(format!("pcapng section header: {e}")))?;
            Format::PcapNg {
                reader,
                linktypes: Vec::new(),
            }
        } else {
            reader.consume(4);
            Format::Pcap(Pcap::new(reader, [a, b, c, d])?)
        };
        Ok(Reader {
            format,
            data: Vec::with_capacity(65_536),
            frames: 0,
        })
    }

    /// Frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    /// The next frame, or `None` at the end of the capture.
    pub fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        let frames = self.frames;
        let (timestamp, orig_len, linktype) = match &mut self.format {
            Format::Pcap(pcap) => match pcap.next(frames, &mut self.data)? {
                Some((timestamp, orig_len)) => (timestamp, orig_len, pcap.linktype),
                None => return Ok(None),
            },
            Format::PcapNg { reader, linktypes } => {
                match next_pcapng(reader, linktypes, frames, &mut self.data)? {
                    Some(frame) => frame,
                    None => return Ok(None),
                }
            }
        };
        self.frames += 1;
        Ok(Some(FrameRef {
            timestamp,
            orig_len,
            linktype,
            data: &self.data,
        }))
    }
}

/// The next packet block of a pcapng file, its bytes copied into `data`.
fn next_pcapng(
    reader: &mut PcapNgReader<Box<dyn BufRead>>,
    linktypes: &mut Vec<u32>,
    frames: u64,
    data: &mut Vec<u8>,
) -> Result<Option<(Duration, u32, u32)>, CaptureError> {
    loop {
        let Some(block) = reader.next_block() else {
            return Ok(None);
        };
        let block = block.map_err(|e| match e {
            pcap_file::PcapError::IncompleteBuffer => CaptureError::Truncated { frames },
            pcap_file::PcapError::IoError(source) => CaptureError::Read { frames, source },
            other => CaptureError::BadRecord {
                frames,
                problem: other.to_string(),
            },
        })?;
        let (interface, timestamp, orig_len, bytes) = match block {
            Block::InterfaceDescription(idb) => {
                linktypes.push(u32::from(idb.linktype));
                continue;
            }
            Block::EnhancedPacket(p) => (p.interface_id, p.timestamp, p.original_len, p.data),
            Block::SimplePacket(p) => (0, Duration::ZERO, p.original_len, p.data),
            _ => continue,
        };
        let Some(&linktype) = linktypes.get(interface as usize) else {
            return Err(CaptureError::BadRecord {
                frames,
                problem: format!(
                    "packet refers to interface {interface}, but the file describes {}",
                    linktypes.len()
                ),
            });
        };
        data.clear();
        data.extend_from_slice(&bytes);
        return Ok(Some((
            timestamp,
            orig_len.max(bytes.len() as u32),
            linktype,
        )));
    }
}

/// Reads every frame of a capture file into memory (tests and small files; the
/// tools stream with [`Reader`]).
pub fn read(path: &Path) -> Result<Vec<Frame>, CaptureError> {
    collect(Reader::open(path)?)
}

/// Reads every frame of a capture image in memory.
pub fn read_bytes(bytes: &[u8]) -> Result<Vec<Frame>, CaptureError> {
    collect(Reader::new(Box::new(io::Cursor::new(bytes.to_vec())))?)
}

fn collect(mut reader: Reader) -> Result<Vec<Frame>, CaptureError> {
    let mut frames = Vec::new();
    while let Some(f) = reader.next_frame()? {
        frames.push(f.to_frame());
    }
    Ok(frames)
}

/// Writes a classic pcap file into a writer it borrows per call: one link type,
/// microsecond or nanosecond timestamps, each record with its wire length (so a
/// snaplen-limited frame stays one).
#[derive(Clone, Copy, Debug)]
pub struct PcapWriter {
    nanos: bool,
}

/// The snaplen written in the header: larger than any record this writes.
const SNAPLEN: u32 = 262_144;

impl PcapWriter {
    /// Writes the file header for `linktype` to `out`.
    pub fn start(out: &mut impl Write, linktype: u32, nanos: bool) -> io::Result<PcapWriter> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&magic.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&[0; 8]);
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&linktype.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { nanos })
    }

    /// Writes one record to `out`: `data` as captured, `orig_len` its length on
    /// the wire.
    pub fn write(
        &self,
        out: &mut impl Write,
        timestamp: Duration,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let frac = if self.nanos {
            timestamp.subsec_nanos()
        } else {
            timestamp.subsec_micros()
        };
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&(timestamp.as_secs() as u32).to_le_bytes());
        header[4..8].copy_from_slice(&frac.to_le_bytes());
        header[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
        out.write_all(&header)?;
        out.write_all(data)
    }
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
        assert!(matches!(
            read_bytes(&[1, 2]),
            Err(CaptureError::NotACapture { len: Some(2) })
        ));
        assert!(matches!(
            read_bytes(&[0u8; 64]),
            Err(CaptureError::NotACapture { len: None })
        ));
    }

    /// A pcap image: header with `snaplen`, then one record per (data, orig_len).
    fn pcap(snaplen: u32, records: &[(&[u8], u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        let w = PcapWriter::start(&mut out, LINKTYPE_RAW, false).unwrap();
        for (i, (data, orig)) in records.iter().enumerate() {
            w.write(
                &mut out,
                Duration::from_micros(1_000_001 + i as u64),
                *orig,
                data,
            )
            .unwrap();
        }
        out[16..20].copy_from_slice(&snaplen.to_le_bytes());
        out
    }

    #[test]
    fn writes_what_it_reads_byte_exact() {
        let bytes = pcap(262_144, &[(&[0x45, 1, 2], 3), (&[0x60; 5], 1500)]);
        // Magic, version 2.4, zone and sigfigs 0, snaplen, LINKTYPE_RAW.
        assert_eq!(
            &bytes[..24],
            &[
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 101, 0, 0,
                0
            ]
        );
        // First record: 1 s + 1 µs, 3 bytes captured, 3 on the wire.
        assert_eq!(
            &bytes[24..40],
            &[1, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0]
        );
        let frames = read_bytes(&bytes).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].data, [0x60; 5]);
        assert_eq!(frames[1].orig_len, 1500);
        assert_eq!(frames[1].timestamp, Duration::from_micros(1_000_002));
        assert_eq!(frames[1].link, Link::RawIp);
    }

    #[test]
    fn snaplen_limited_frames_read_as_captured() {
        // A capture taken with -s 64: orig_len 1500 above the header's snaplen.
        let frame = [0x45u8; 64];
        let frames = read_bytes(&pcap(64, &[(&frame, 1500)])).unwrap();
        assert_eq!((frames[0].data.len(), frames[0].orig_len), (64, 1500));
    }

    #[test]
    fn a_file_cut_mid_record_says_how_many_frames_came_first() {
        let bytes = pcap(65535, &[(&[0x45; 20], 20), (&[0x45; 20], 20)]);
        for cut in [24 + 36 + 8, 24 + 36 + 16 + 5] {
            let mut r = Reader::new(Box::new(io::Cursor::new(bytes[..cut].to_vec()))).unwrap();
            assert!(r.next_frame().unwrap().is_some());
            let e = r.next_frame().unwrap_err();
            assert!(matches!(e, CaptureError::Truncated { frames: 1 }), "{e}");
            assert_eq!(
                e.to_string(),
                "the file ends inside a record, after 1 whole frames"
            );
        }
        // A header with no record is a capture with no frames.
        assert_eq!(read_bytes(&bytes[..24]).unwrap(), Vec::new());
        assert!(matches!(
            read_bytes(&bytes[..20]),
            Err(CaptureError::BadHeader(_))
        ));
    }
}
