//! ZooKeeper's leader-election wire format (3.5+ `QuorumCnxManager` and
//! `FastLeaderElection`), pure: the connection handshake, the
//! length-prefixed frames and the notification bodies, all big-endian.
//!
//! Decoding accepts exactly what a 3.8 server accepts, with its limits, and
//! never panics: a truncated input asks for more bytes, anything else a
//! server would refuse is an error the caller answers by closing the
//! connection.

use thiserror::Error;

use super::vote::{Notification, ServerState, Vote};
use super::zxid::Zxid;

/// Handshake version of 3.5+ servers: one `host:port` address.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// Handshake version with `|`-separated addresses (multi-address, 3.6+).
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// `QuorumCnxManager.maxBuffer`: the longest handshake address string.
pub const MAX_HANDSHAKE_ADDRESS: usize = 2048;
/// `QuorumCnxManager.PACKETMAXSIZE`: the longest frame body.
pub const MAX_PACKET: usize = 512 * 1024;
/// `Notification.CURRENTVERSION`.
pub const NOTIFICATION_VERSION: i32 = 2;
/// The sid a 3.4-era observer sends; servers replace it by a negative id.
pub const OBSERVER_ID: u64 = i64::MAX as u64;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("unrecognized protocol version {0}")]
    ProtocolVersion(i64),
    #[error("unreasonable handshake address length {0}")]
    AddressLength(i32),
    #[error("badly formed handshake address {0:?}")]
    Address(String),
    #[error("invalid packet length {0}")]
    PacketLength(i32),
    #[error("short notification of {0} bytes")]
    Short(usize),
    #[error("partial notification of {0} bytes")]
    Partial(usize),
    #[error("invalid config length {length} in a notification of {capacity} bytes")]
    ConfigLength { length: i32, capacity: usize },
    #[error("unknown server state {0}")]
    State(i32),
}

/// The server state on the wire (`QuorumPeer.ServerState` ordinal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WireState {
    Looking,
    Following,
    Leading,
    Observing,
}

impl WireState {
    pub fn from_i32(v: i32) -> Result<WireState, WireError> {
        match v {
            0 => Ok(WireState::Looking),
            1 => Ok(WireState::Following),
            2 => Ok(WireState::Leading),
            3 => Ok(WireState::Observing),
            other => Err(WireError::State(other)),
        }
    }

    pub fn to_i32(self) -> i32 {
        match self {
            WireState::Looking => 0,
            WireState::Following => 1,
            WireState::Leading => 2,
            WireState::Observing => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WireState::Looking => "LOOKING",
            WireState::Following => "FOLLOWING",
            WireState::Leading => "LEADING",
            WireState::Observing => "OBSERVING",
        }
    }

    /// The voting states the election core knows; observers do not vote.
    pub fn voting(self) -> Option<ServerState> {
        match self {
            WireState::Looking => Some(ServerState::Looking),
            WireState::Following => Some(ServerState::Following),
            WireState::Leading => Some(ServerState::Leading),
            WireState::Observing => None,
        }
    }
}

impl From<ServerState> for WireState {
    fn from(s: ServerState) -> WireState {
        match s {
            ServerState::Looking => WireState::Looking,
            ServerState::Following => WireState::Following,
            ServerState::Leading => WireState::Leading,
        }
    }
}

/// The first message on a connection, sent by the side that connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// [`PROTOCOL_VERSION_V1`], [`PROTOCOL_VERSION_V2`], or `None` for the
    /// pre-3.5 form that is only the sid.
    pub protocol: Option<i64>,
    pub sid: u64,
    /// The initiator's election address(es) as sent (`host:port`, `|`-joined
    /// in V2); empty in the pre-3.5 form.
    pub address: String,
}

impl Handshake {
    /// The handshake a 3.8 server sends (V1, one address).
    pub fn v1(sid: u64, host: &str, port: u16) -> Handshake {
        let address = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Handshake {
            protocol: Some(PROTOCOL_VERSION_V1),
            sid,
            address,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.address.len());
        match self.protocol {
            None => out.extend_from_slice(&self.sid.to_be_bytes()),
            Some(version) => {
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&self.sid.to_be_bytes());
                out.extend_from_slice(&(self.address.len() as i32).to_be_bytes());
                out.extend_from_slice(self.address.as_bytes());
            }
        }
        out
    }

    /// Decodes a handshake from the start of `buf`: `Ok(None)` until enough
    /// bytes arrived, else the handshake and the bytes it used.
    pub fn decode(buf: &[u8]) -> Result<Option<(Handshake, usize)>, WireError> {
        let Some(first) = read_i64(buf, 0) else {
            return Ok(None);
        };
        if first >= 0 {
            // Before 3.5 the first long was the sid itself.
            return Ok(Some((
                Handshake {
                    protocol: None,
                    sid: first as u64,
                    address: String::new(),
                },
                8,
            )));
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(WireError::ProtocolVersion(first));
        }
        let (Some(sid), Some(len)) = (read_i64(buf, 8), read_i32(buf, 16)) else {
            return Ok(None);
        };
        let Ok(len_usize) = usize::try_from(len) else {
            return Err(WireError::AddressLength(len));
        };
        if len_usize == 0 || len_usize > MAX_HANDSHAKE_ADDRESS {
            return Err(WireError::AddressLength(len));
        }
        let Some(raw) = buf.get(20..20 + len_usize) else {
            return Ok(None);
        };
        // Java decodes with replacement characters, then parses each
        // address; a malformed one fails the handshake.
        let address = String::from_utf8_lossy(raw).into_owned();
        for part in address.split('|') {
            parse_host_port(part).ok_or_else(|| WireError::Address(part.to_string()))?;
        }
        Ok(Some((
            Handshake {
                protocol: Some(first),
                sid: sid as u64,
                address,
            },
            20 + len_usize,
        )))
    }
}

/// `host:port` or `[v6]:port` with a numeric port, as ZooKeeper's
/// `ConfigUtils.getHostAndPort` and `Integer.parseInt` accept it.
fn parse_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        let (host, port) = s.split_once(':')?;
        if port.contains(':') {
            return None;
        }
        (host, port)
    };
    let port: i32 = port.parse().ok()?;
    // InetSocketAddress refuses ports outside 0..=65535.
    Some((host, u16::try_from(port).ok()?))
}

/// How a notification body is laid out; each is what some ZooKeeper
/// generation sends and 3.8 still accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// 28 bytes, before peer epochs: the peer epoch is the zxid's epoch.
    Short28,
    /// 40 bytes: peer epoch plus a version word 3.8 does not read.
    Legacy40,
    /// 44+ bytes: peer epoch, version, and from version 2 the config.
    Current,
}

/// One notification as it travels: the vote, the sender's round
/// (`electionEpoch`) and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireNotification {
    pub state: WireState,
    pub leader: u64,
    pub zxid: u64,
    /// The sender's logical clock (election round).
    pub round: u64,
    pub peer_epoch: u64,
    /// As sent; 3.8 treats it as 0 in the 28- and 40-byte layouts.
    pub version: i32,
    /// The sender's quorum config (`version > 1` only).
    pub config: Option<Vec<u8>>,
    pub layout: Layout,
}

impl WireNotification {
    /// What a 3.8 server sends: version 2 with its config.
    pub fn current(n: &Notification, config: &[u8]) -> WireNotification {
        WireNotification {
            state: n.state.into(),
            leader: n.vote.leader,
            zxid: n.vote.zxid.0,
            round: n.round,
            peer_epoch: n.vote.peer_epoch,
            version: NOTIFICATION_VERSION,
            config: Some(config.to_vec()),
            layout: Layout::Current,
        }
    }

    /// The vote in the election core's terms.
    pub fn vote(&self) -> Vote {
        Vote {
            leader: self.leader,
            zxid: Zxid(self.zxid),
            peer_epoch: self.peer_epoch,
        }
    }

    /// The core's notification, for voting states only.
    pub fn to_core(&self) -> Option<Notification> {
        Some(Notification {
            vote: self.vote(),
            round: self.round,
            state: self.state.voting()?,
        })
    }

    /// The frame body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(44 + self.config.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(&self.state.to_i32().to_be_bytes());
        out.extend_from_slice(&self.leader.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        if self.layout == Layout::Short28 {
            return out;
        }
        out.extend_from_slice(&self.peer_epoch.to_be_bytes());
        out.extend_from_slice(&self.version.to_be_bytes());
        if self.layout == Layout::Current {
            // Without a config (version 0 or 1) four zero bytes still follow:
            // a 40-byte body would be read as the legacy layout.
            let config = self.config.as_deref().unwrap_or_default();
            out.extend_from_slice(&(config.len() as i32).to_be_bytes());
            if self.version > 1 {
                out.extend_from_slice(config);
            }
        }
        out
    }

    /// The body with its length prefix, ready to write.
    pub fn encode_frame(&self) -> Vec<u8> {
        frame(&self.encode())
    }

    /// Decodes a frame body as `FastLeaderElection.WorkerReceiver` does.
    pub fn decode(body: &[u8]) -> Result<WireNotification, WireError> {
        let capacity = body.len();
        if capacity < 28 {
            return Err(WireError::Short(capacity));
        }
        let partial = || WireError::Partial(capacity);
        let raw_state = read_i32(body, 0).ok_or_else(partial)?;
        let leader = read_u64(body, 4).ok_or_else(partial)?;
        let zxid = read_u64(body, 12).ok_or_else(partial)?;
        let round = read_u64(body, 20).ok_or_else(partial)?;
        let state = WireState::from_i32(raw_state)?;
        let mut n = WireNotification {
            state,
            leader,
            zxid,
            round,
            peer_epoch: Zxid(zxid).epoch().into(),
            version: 0,
            config: None,
            layout: Layout::Short28,
        };
        if capacity == 28 {
            return Ok(n);
        }
        n.peer_epoch = read_u64(body, 28).ok_or_else(partial)?;
        if capacity == 40 {
            n.layout = Layout::Legacy40;
            n.version = read_i32(body, 36).ok_or_else(partial)?;
            return Ok(n);
        }
        n.layout = Layout::Current;
        n.version = read_i32(body, 36).ok_or_else(partial)?;
        if n.version > 1 {
            let length = read_i32(body, 40).ok_or_else(partial)?;
            let config_len = usize::try_from(length)
                .ok()
                .filter(|&l| l <= capacity)
                .ok_or(WireError::ConfigLength { length, capacity })?;
            let config = body.get(44..44 + config_len).ok_or_else(partial)?;
            n.config = Some(config.to_vec());
        }
        Ok(n)
    }
}

/// Prefixes a body with its i32 length.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits one frame off the start of `buf`: `Ok(None)` until it is
/// complete, else the body and the bytes used. A length a server refuses
/// (not positive, or over [`MAX_PACKET`]) is an error before any body is
/// awaited, so a hostile length cannot make the reader buffer.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, WireError> {
    let Some(length) = read_i32(buf, 0) else {
        return Ok(None);
    };
    let len = usize::try_from(length)
        .ok()
        .filter(|&l| l > 0 && l <= MAX_PACKET)
        .ok_or(WireError::PacketLength(length))?;
    Ok(buf.get(4..4 + len).map(|body| (body, 4 + len)))
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes(bytes.try_into().ok()?))
}

fn read_u64(buf: &[u8], at: usize) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn read_i64(buf: &[u8], at: usize) -> Option<i64> {
    read_u64(buf, at).map(|v| v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(layout: Layout) -> WireNotification {
        WireNotification {
            state: WireState::Following,
            leader: 3,
            zxid: 0x1_0000_0002,
            round: 7,
            peer_epoch: if layout == Layout::Short28 { 1 } else { 5 },
            version: match layout {
                Layout::Short28 => 0,
                Layout::Legacy40 => 1,
                Layout::Current => 2,
            },
            config: (layout == Layout::Current).then(|| b"server.1=a:1:2\nversion=0".to_vec()),
            layout,
        }
    }

    #[test]
    fn every_layout_round_trips_with_its_length() {
        for (layout, len) in [
            (Layout::Short28, 28),
            (Layout::Legacy40, 40),
            (Layout::Current, 44 + 24),
        ] {
            let n = sample(layout);
            let body = n.encode();
            assert_eq!(body.len(), len, "{layout:?}");
            assert_eq!(WireNotification::decode(&body), Ok(n.clone()));
            let framed = n.encode_frame();
            assert_eq!(decode_frame(&framed), Ok(Some((&body[..], len + 4))));
        }
    }

    #[test]
    fn a_short_body_takes_its_peer_epoch_from_the_zxid() {
        let mut body = sample(Layout::Current).encode();
        body.truncate(28);
        let n = WireNotification::decode(&body).unwrap();
        assert_eq!((n.peer_epoch, n.layout), (1, Layout::Short28));
    }

    #[test]
    fn bodies_a_server_drops_are_errors() {
        let body = sample(Layout::Current).encode();
        // Under 28 bytes, and the 36-byte body (peer epoch, no version).
        assert_eq!(
            WireNotification::decode(&body[..27]),
            Err(WireError::Short(27))
        );
        assert_eq!(
            WireNotification::decode(&body[..36]),
            Err(WireError::Partial(36))
        );
        // Version 2 whose config is cut short or claims a silly length.
        assert_eq!(
            WireNotification::decode(&body[..50]),
            Err(WireError::Partial(50))
        );
        let mut huge = body.clone();
        huge[40..44].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            WireNotification::decode(&huge),
            Err(WireError::ConfigLength { .. })
        ));
        let mut negative = body.clone();
        negative[40..44].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            WireNotification::decode(&negative),
            Err(WireError::ConfigLength { .. })
        ));
        let mut state = body;
        state[0..4].copy_from_slice(&9i32.to_be_bytes());
        assert_eq!(WireNotification::decode(&state), Err(WireError::State(9)));
    }

    #[test]
    fn version_one_carries_no_config_and_trailing_bytes_are_ignored() {
        let mut n = sample(Layout::Current);
        n.version = 1;
        n.config = None;
        let mut body = n.encode();
        assert_eq!(body.len(), 44);
        body.extend_from_slice(b"xyz");
        assert_eq!(WireNotification::decode(&body), Ok(n));
    }

    #[test]
    fn frames_refuse_bad_lengths_before_reading_a_body() {
        assert_eq!(decode_frame(&[0, 0]), Ok(None));
        assert_eq!(decode_frame(&[0, 0, 0, 5, 1, 2]), Ok(None));
        assert_eq!(
            decode_frame(&0i32.to_be_bytes()),
            Err(WireError::PacketLength(0))
        );
        assert_eq!(
            decode_frame(&(-4i32).to_be_bytes()),
            Err(WireError::PacketLength(-4))
        );
        let too_big = (MAX_PACKET as i32 + 1).to_be_bytes();
        assert_eq!(
            decode_frame(&too_big),
            Err(WireError::PacketLength(MAX_PACKET as i32 + 1))
        );
    }

    #[test]
    fn handshakes_in_every_form() {
        let h = Handshake::v1(4, "127.0.0.1", 3888);
        let bytes = h.encode();
        assert_eq!(bytes.len(), 20 + "127.0.0.1:3888".len());
        assert_eq!(&bytes[..8], &(-65536i64).to_be_bytes());
        for cut in 0..bytes.len() {
            assert_eq!(Handshake::decode(&bytes[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(Handshake::decode(&bytes), Ok(Some((h, bytes.len()))));

        let v6 = Handshake::v1(5, "::1", 3888);
        assert_eq!(v6.address, "[::1]:3888");
        assert!(Handshake::decode(&v6.encode()).unwrap().is_some());

        let v2 = Handshake {
            protocol: Some(PROTOCOL_VERSION_V2),
            sid: 6,
            address: "a:1|b:2".into(),
        };
        assert_eq!(Handshake::decode(&v2.encode()), Ok(Some((v2.clone(), 27))));

        let old = 9u64.to_be_bytes();
        let (h, used) = Handshake::decode(&old).unwrap().unwrap();
        assert_eq!((h.protocol, h.sid, used), (None, 9, 8));
    }

    #[test]
    fn handshakes_a_server_refuses_are_errors() {
        let mut wrong = Handshake::v1(4, "h", 1).encode();
        wrong[..8].copy_from_slice(&(-1i64).to_be_bytes());
        assert_eq!(
            Handshake::decode(&wrong),
            Err(WireError::ProtocolVersion(-1))
        );
        for len in [0i32, -1, 2049] {
            let mut b = Handshake::v1(4, "h", 1).encode();
            b[16..20].copy_from_slice(&len.to_be_bytes());
            assert_eq!(Handshake::decode(&b), Err(WireError::AddressLength(len)));
        }
        for addr in ["nohost", "h:x", "h:70000", "a:1:2", "[::1]3"] {
            let h = Handshake {
                protocol: Some(PROTOCOL_VERSION_V1),
                sid: 1,
                address: addr.into(),
            };
            assert!(
                matches!(Handshake::decode(&h.encode()), Err(WireError::Address(_))),
                "{addr}"
            );
        }
    }

    #[test]
    fn core_notifications_convert_both_ways() {
        let core = Notification {
            vote: Vote {
                leader: 2,
                zxid: Zxid::new(3, 4),
                peer_epoch: 3,
            },
            round: 5,
            state: ServerState::Leading,
        };
        let wire = WireNotification::current(&core, b"cfg");
        let back = WireNotification::decode(&wire.encode()).unwrap();
        assert_eq!(back.to_core(), Some(core));
        let mut obs = back;
        obs.state = WireState::Observing;
        assert_eq!(obs.to_core(), None);
    }
}
