//! One real ZAB server over TCP: the pure `ZabNode` driven by tokio, with
//! messages framed as RESP arrays `["ZAB", <from-id>, <fields>...]`.
//!
//! Every server listens on its own address and keeps one outgoing
//! connection per peer. Messages for an unreachable peer are dropped: the
//! election re-broadcasts on its own timers, so no queue has to grow.

use std::time::{Duration, Instant};

use rsentinel_core::time::Millis;
use rsentinel_core::zab::{Persistent, ServerId, ZabConfig, ZabEvent, ZabMessage, ZabNode};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::error::ElectError;
use super::output::LineSink;
use super::wire::{encode, read_value, Value};

const TICK: Duration = Duration::from_millis(50);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RECONNECT_DELAY: Duration = Duration::from_millis(200);
const PEER_QUEUE: usize = 256;

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
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = inbox.recv() => {
                let Some((from, msg)) = msg else { return Ok(()) };
                node.handle_message(now(), from, msg);
            }
            _ = ticker.tick() => node.tick(now()),
        }
        while let Some((to, msg)) = node.poll_output() {
            if let Some(tx) = outboxes.get(&to) {
                let mut frame = vec!["ZAB".to_string(), id.to_string()];
                frame.extend(msg.to_fields());
                // A full queue means the peer is unreachable: drop.
                let _ = tx.try_send(encode(&frame));
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

/// Reads frames from one inbound connection until it closes or misbehaves.
async fn read_peer(stream: TcpStream, inbox: mpsc::Sender<(ServerId, ZabMessage)>, n: u64) {
    let mut r = BufReader::new(stream);
    while let Ok(Some(v)) = read_value(&mut r).await {
        let Some((from, msg)) = parse_frame(&v, n) else {
            tracing::warn!("dropping a malformed ZAB frame");
            return;
        };
        if inbox.send((from, msg)).await.is_err() {
            return;
        }
    }
}

fn parse_frame(v: &Value, n: u64) -> Option<(ServerId, ZabMessage)> {
    let Value::Array(Some(items)) = v else {
        return None;
    };
    let texts: Vec<String> = items.iter().map(Value::text).collect::<Option<_>>()?;
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

    #[test]
    fn frames_parse_back_and_bad_senders_are_refused() {
        let msg = ZabMessage::Ping { epoch: 3 };
        let mut fields = vec!["ZAB".to_string(), "2".to_string()];
        fields.extend(msg.to_fields());
        let as_value = |f: &[String]| {
            Value::Array(Some(
                f.iter()
                    .map(|s| Value::Bulk(Some(s.as_bytes().to_vec())))
                    .collect(),
            ))
        };
        assert_eq!(parse_frame(&as_value(&fields), 3), Some((2, msg)));
        assert_eq!(parse_frame(&as_value(&fields), 1), None);
        fields[0] = "XYZ".into();
        assert_eq!(parse_frame(&as_value(&fields), 3), None);
        assert_eq!(parse_frame(&Value::Int(1), 3), None);
    }
}
