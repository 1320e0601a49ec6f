//! One real ZAB server over TCP: the pure `ZabNode` driven by tokio, with
//! messages framed as RESP arrays `["ZAB", <from-id>, <fields>...]`.
//!
//! Every server listens on its own address and keeps one outgoing
//! connection per peer. Messages for an unreachable peer are dropped: the
//! election re-broadcasts on its own timers, so no queue has to grow.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rsentinel_core::time::Millis;
use rsentinel_core::zab::{Persistent, ServerId, ZabConfig, ZabEvent, ZabMessage, ZabNode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::error::ElectError;
use super::output::LineSink;
use crate::resp::{encode_command, RequestDecoder};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RECONNECT_DELAY: Duration = Duration::from_millis(200);
const PEER_QUEUE: usize = 256;
/// A ZAB frame is a few short fields: a peer buffering more than this is
/// misbehaving and is dropped.
const MAX_FRAME_BYTES: usize = 1 << 20;

/// The timing used for real processes: ZooKeeper's finalize wait, a short
/// re-broadcast cap, and a 2 s failure timeout so followers notice a dead
/// leader quickly.
pub fn tcp_config(id: ServerId, servers: u64) -> ZabConfig {
    ZabConfig {
        max_notification_interval: Millis(2_000),
        heartbeat_interval: Millis(500),
        sync_timeout: Millis(2_000),
        ..ZabConfig::majority(id, servers)
    }
}

/// Runs server `id` (1-based) of the ensemble whose addresses are `peers`
/// (in id order, our own included) until the future is dropped. Prints
/// `LEADING leader=L epoch=E` / `FOLLOWING leader=L epoch=E` each time an
/// epoch is established.
pub async fn run_zab_node(
    id: ServerId,
    peers: Vec<String>,
    out: LineSink,
) -> Result<(), ElectError> {
    let n = peers.len() as u64;
    if id == 0 || id > n {
        return Err(ElectError::Usage(format!("--id must be between 1 and {n}")));
    }
    let listener = TcpListener::bind(&peers[(id - 1) as usize]).await?;
    // Dropping the JoinSet (when this future is dropped) stops every task.
    let mut tasks = JoinSet::new();
    let (inbox_tx, mut inbox) = mpsc::channel::<(ServerId, ZabMessage)>(1024);
    tasks.spawn(accept_loop(listener, inbox_tx, n));
    let mut outboxes = std::collections::BTreeMap::new();
    for (i, addr) in peers.iter().enumerate() {
        let peer = i as u64 + 1;
        if peer == id {
            continue;
        }
        let (tx, rx) = mpsc::channel::<Vec<u8>>(PEER_QUEUE);
        outboxes.insert(peer, tx);
        tasks.spawn(peer_writer(addr.clone(), rx));
    }
    let start = Instant::now();
    let now = || Millis(start.elapsed().as_millis() as u64);
    let mut node = ZabNode::new(tcp_config(id, n), Persistent::default(), now());
    loop {
        // The core's own deadline is the only clock: no fixed tick.
        let due = start + Duration::from_millis(node.poll_timeout(now()).as_u64());
        tokio::select! {
            msg = inbox.recv() => {
                let Some((from, msg)) = msg else { return Ok(()) };
                node.handle_message(now(), from, msg);
            }
            _ = tokio::time::sleep_until(due.into()) => node.handle_timeout(now()),
        }
        while let Some((to, msg)) = node.poll_transmit() {
            if let Some(tx) = outboxes.get(&to) {
                // A full queue means the peer is unreachable: drop.
                let _ = tx.try_send(encode_frame(id, &msg));
            }
        }
        while let Some(ev) = node.poll_event() {
            report(id, &ev, &out);
        }
    }
}

fn report(id: ServerId, ev: &ZabEvent, out: &LineSink) {
    match ev {
        ZabEvent::Established {
            state,
            leader,
            epoch,
            ..
        } => {
            tracing::info!(server = id, "{state} leader={leader} epoch={epoch}");
            out.emit(format!("{state} leader={leader} epoch={epoch}"));
        }
        ZabEvent::Decided {
            state,
            vote,
            round,
            how,
            ..
        } => {
            tracing::info!(
                server = id,
                "decided {state} leader={} round={round}: {}",
                vote.leader,
                how.as_str()
            );
        }
        ZabEvent::StartedLooking { round, reason, .. } => {
            tracing::info!(server = id, "LOOKING round={round}: {}", reason.as_str());
        }
        ZabEvent::VoteChanged { round, vote, from } => {
            tracing::debug!(
                server = id,
                "votes for {} in round {round} (from {from})",
                vote.leader
            );
        }
    }
}

async fn accept_loop(listener: TcpListener, inbox: mpsc::Sender<(ServerId, ZabMessage)>, n: u64) {
    let mut readers = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        readers.spawn(read_peer(stream, inbox.clone(), n));
        // Reap finished readers so the set does not grow.
        while readers.try_join_next().is_some() {}
    }
}

/// `["ZAB", <from-id>, <fields>...]` as a RESP array of bulk strings.
fn encode_frame(from: ServerId, msg: &ZabMessage) -> Vec<u8> {
    let mut words = vec!["ZAB".to_string(), from.to_string()];
    words.extend(msg.to_fields());
    let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    let mut out = BytesMut::new();
    encode_command(&args, &mut out);
    out.to_vec()
}

/// Reads frames from one inbound connection until it closes or misbehaves.
async fn read_peer(mut stream: TcpStream, inbox: mpsc::Sender<(ServerId, ZabMessage)>, n: u64) {
    let mut decoder = RequestDecoder::with_query_buffer_limit(MAX_FRAME_BYTES);
    let mut buf = BytesMut::new();
    loop {
        let args = match decoder.decode(&mut buf, true) {
            Ok(Some(args)) => args,
            Ok(None) => match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            Err(e) => {
                tracing::warn!("dropping a ZAB peer that sent a bad frame: {e}");
                return;
            }
        };
        let Some((from, msg)) = parse_frame(&args, n) else {
            tracing::warn!("dropping a malformed ZAB frame");
            return;
        };
        if inbox.send((from, msg)).await.is_err() {
            return;
        }
    }
}

fn parse_frame(args: &[Vec<u8>], n: u64) -> Option<(ServerId, ZabMessage)> {
    let texts: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let (tag, rest) = texts.split_first()?;
    let (from, fields) = rest.split_first()?;
    let from: ServerId = from.parse().ok()?;
    if tag != "ZAB" || from == 0 || from > n {
        return None;
    }
    ZabMessage::from_fields(fields).ok().map(|m| (from, m))
}

/// Keeps one connection to a peer; frames queued while it is down are
/// dropped rather than delivered late.
async fn peer_writer(addr: String, mut rx: mpsc::Receiver<Vec<u8>>) {
    loop {
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await;
        let mut stream = match conn {
            Ok(Ok(s)) => s,
            _ => {
                while rx.try_recv().is_ok() {}
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        loop {
            let Some(frame) = rx.recv().await else {
                return;
            };
            if stream.write_all(&frame).await.is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes every frame in `bytes` the way `read_peer` does.
    fn decode_all(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut decoder = RequestDecoder::with_query_buffer_limit(MAX_FRAME_BYTES);
        let mut buf = BytesMut::from(bytes);
        let mut frames = Vec::new();
        while let Some(args) = decoder.decode(&mut buf, true).unwrap() {
            frames.push(args);
        }
        assert!(buf.is_empty(), "undecoded bytes left");
        frames
    }

    #[test]
    fn frames_parse_back_and_bad_senders_are_refused() {
        let msg = ZabMessage::Ping { epoch: 3 };
        let bytes = encode_frame(2, &msg);
        let mut expected = format!("*{}\r\n$3\r\nZAB\r\n$1\r\n2\r\n", 2 + msg.to_fields().len());
        for f in msg.to_fields() {
            expected.push_str(&format!("${}\r\n{f}\r\n", f.len()));
        }
        assert_eq!(String::from_utf8_lossy(&bytes), expected);
        let mut frames = decode_all(&[bytes.clone(), bytes].concat());
        assert_eq!(frames.len(), 2);
        assert_eq!(parse_frame(&frames[0], 3), Some((2, msg)));
        assert_eq!(parse_frame(&frames[0], 1), None);
        frames[0][0] = b"XYZ".to_vec();
        assert_eq!(parse_frame(&frames[0], 3), None);
        assert_eq!(parse_frame(&[b"1".to_vec()], 3), None);
        assert_eq!(parse_frame(&[], 3), None);
    }

    #[test]
    fn a_peer_sending_garbage_or_too_much_is_an_error() {
        let mut decoder = RequestDecoder::with_query_buffer_limit(MAX_FRAME_BYTES);
        let mut buf = BytesMut::from(&b"*1\r\n$abc\r\n"[..]);
        assert!(decoder.decode(&mut buf, true).is_err());
        let mut decoder = RequestDecoder::with_query_buffer_limit(MAX_FRAME_BYTES);
        let mut buf = BytesMut::from(&vec![b'A'; MAX_FRAME_BYTES + 1][..]);
        assert!(decoder.decode(&mut buf, true).is_err());
    }
}
