//! `rsentinel elect zab-watch`: watches a real ZooKeeper ensemble's leader
//! elections without taking part. We connect to each server's election port
//! with a sid outside its voting view and above its own (a server keeps a
//! connection only from a higher sid); a server answers every notification
//! from a non-voter with its current vote, round and state, and changes
//! nothing in its config. Polling that answer shows every election.
//!
//! The decoding and the checks are the core's (`zab::wire`, `zab::watch`);
//! this file only moves bytes, prints and writes JSON lines.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use rsentinel_core::election::NodeId;
use rsentinel_core::zab::watch::{Report, Settled, Watch};
use rsentinel_core::zab::wire::{
    decode_frame, Handshake, Layout, WireError, WireNotification, WireState, NOTIFICATION_VERSION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::args::ZabWatchArgs;
use super::error::ElectError;
use super::output::LineSink;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RECONNECT_DELAY: Duration = Duration::from_millis(100);
/// A peer that does not finish its handshake in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Inbound connections served at once; more wait in the kernel backlog.
const MAX_INBOUND: usize = 32;

enum Event {
    Vote(NodeId, WireNotification),
    Lost(NodeId),
}

/// Parses `sid@host:port,...`.
fn parse_servers(text: &str) -> Result<Vec<(NodeId, String)>, ElectError> {
    let mut servers: Vec<(NodeId, String)> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || ElectError::Usage(format!("--servers: expected sid@host:port, got {item:?}"));
        let (sid, addr) = item.split_once('@').ok_or_else(bad)?;
        let sid: NodeId = sid.parse().map_err(|_| bad())?;
        let (_, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        port.parse::<u16>().map_err(|_| bad())?;
        if servers.iter().any(|(s, _)| *s == sid) {
            return Err(ElectError::Usage(format!("--servers: sid {sid} twice")));
        }
        servers.push((sid, addr.to_string()));
    }
    if servers.is_empty() {
        return Err(ElectError::Usage("--servers: no server given".into()));
    }
    Ok(servers)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub async fn run(args: &ZabWatchArgs, out: LineSink) -> Result<(), ElectError> {
    let servers = parse_servers(&args.servers)?;
    let highest = servers.iter().map(|(s, _)| *s).max().unwrap_or(0);
    let my_sid = args.sid.unwrap_or(highest.saturating_add(1000));
    if my_sid <= highest || my_sid >= rsentinel_core::zab::wire::OBSERVER_ID {
        // A server drops a connection from a lower sid and renames the
        // 3.4 observer id: either way no answer would come.
        return Err(ElectError::Usage(format!(
            "--sid must be above every server's ({highest}) and below {}",
            rsentinel_core::zab::wire::OBSERVER_ID
        )));
    }
    let mut json = match &args.json {
        Some(path) => Some(std::fs::File::create(path)?),
        None => None,
    };
    let listener = TcpListener::bind(&args.listen).await?;
    let local = listener.local_addr()?;
    tracing::info!(
        sid = my_sid,
        "watching {} servers; listening on {local}",
        servers.len()
    );
    let hello = Handshake::v1(my_sid, &local.ip().to_string(), local.port()).encode();

    let mut tasks = JoinSet::new();
    tasks.spawn(accept_loop(listener));
    let (tx, mut rx) = mpsc::channel::<Event>(1024);
    for (sid, addr) in &servers {
        tasks.spawn(poll_server(
            *sid,
            addr.clone(),
            my_sid,
            hello.clone(),
            Duration::from_millis(args.poll_ms),
            tx.clone(),
        ));
    }
    drop(tx);

    let mut watch = Watch::new(servers.iter().map(|(s, _)| *s));
    let mut last_settled: Option<Settled> = None;
    let stop = async {
        match args.duration_ms {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            e = rx.recv() => e,
            () = &mut stop => break,
        };
        let Some(event) = event else { break };
        let time_ms = now_ms();
        match event {
            Event::Vote(sid, n) => {
                if let Some(r) = watch.observe(Report::from_wire(sid, &n)) {
                    out.emit(change_line(time_ms, &r));
                    if let Some(f) = json.as_mut() {
                        // Flushed per line: a reader may follow the file.
                        writeln!(f, "{}", change_json(time_ms, &r))?;
                        f.flush()?;
                    }
                }
            }
            Event::Lost(sid) => {
                if watch.lost(sid) {
                    out.emit(format!("time_ms={time_ms} sid={sid} state=UNREACHABLE"));
                }
            }
        }
        if let Some(s) = watch.settled() {
            let same = last_settled.is_some_and(|l| (l.round, l.leader) == (s.round, s.leader));
            if !same || last_settled.map(|l| l.peer_epoch) != Some(s.peer_epoch) {
                out.emit(format!(
                    "time_ms={time_ms} ELECTED leader={} round={} peer_epoch={} predicted={}",
                    s.leader,
                    s.round,
                    s.peer_epoch,
                    s.predicted.map_or("-".to_string(), |p| p.to_string())
                ));
                last_settled = Some(s);
            }
        }
        if args.check {
            if let Some(v) = watch.violations().first() {
                out.emit(format!("CHECK FAILED: {v}"));
                return Err(ElectError::Protocol(format!("check failed: {v}")));
            }
        }
    }
    if args.check {
        out.emit("CHECK OK".to_string());
    }
    Ok(())
}

/// The fields of a change, in the documented order; only the state is
/// text (a fixed name), so nothing needs escaping in JSON.
fn change_fields(time_ms: u64, r: &Report) -> [(&'static str, String); 7] {
    [
        ("time_ms", time_ms.to_string()),
        ("sid", r.sid.to_string()),
        ("state", r.state.as_str().to_string()),
        ("leader", r.leader.to_string()),
        ("round", r.round.to_string()),
        ("peer_epoch", r.peer_epoch.to_string()),
        ("zxid", r.zxid.to_string()),
    ]
}

fn change_line(time_ms: u64, r: &Report) -> String {
    let fields = change_fields(time_ms, r).map(|(k, v)| match k {
        "zxid" => format!("zxid=0x{:x}", r.zxid),
        _ => format!("{k}={v}"),
    });
    fields.join(" ")
}

fn change_json(time_ms: u64, r: &Report) -> String {
    let fields = change_fields(time_ms, r).map(|(k, v)| match k {
        "state" => format!(r#""{k}":"{v}""#),
        _ => format!(r#""{k}":{v}"#),
    });
    format!("{{{}}}", fields.join(","))
}

/// Keeps one connection to a server: handshake, then a LOOKING vote for
/// ourselves every `poll`, each answered with the server's vote. Anything
/// the server sends that a ZooKeeper server itself would refuse closes the
/// connection, with a log line; we reconnect after a short delay.
async fn poll_server(
    sid: NodeId,
    addr: String,
    my_sid: NodeId,
    hello: Vec<u8>,
    poll: Duration,
    tx: mpsc::Sender<Event>,
) {
    let ask = WireNotification {
        state: WireState::Looking,
        leader: my_sid,
        zxid: 0,
        round: 0,
        peer_epoch: 0,
        version: NOTIFICATION_VERSION,
        config: Some(Vec::new()),
        layout: Layout::Current,
    }
    .encode_frame();
    loop {
        let result = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(stream)) => exchange(stream, sid, &hello, &ask, poll, &tx).await,
            Ok(Err(e)) => Err(format!("cannot connect: {e}")),
            Err(_) => Err("connect timed out".to_string()),
        };
        if tx.is_closed() {
            return;
        }
        if let Err(why) = result {
            tracing::debug!(server = sid, "election connection to {addr} ended: {why}");
        }
        if tx.send(Event::Lost(sid)).await.is_err() {
            return;
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

async fn exchange(
    mut stream: TcpStream,
    sid: NodeId,
    hello: &[u8],
    ask: &[u8],
    poll: Duration,
    tx: &mpsc::Sender<Event>,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    stream.write_all(hello).await.map_err(|e| e.to_string())?;
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    let mut ticker = tokio::time::interval(poll);
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                stream.write_all(ask).await.map_err(|e| e.to_string())?;
            }
            read = stream.read_buf(&mut buf) => {
                match read {
                    Ok(0) => return Err("closed by the server".into()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
                loop {
                    match next_notification(&mut buf) {
                        Ok(Some(n)) => {
                            if tx.send(Event::Vote(sid, n)).await.is_err() {
                                return Ok(());
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(
                                server = sid,
                                "closing the election connection to {peer}: malformed traffic: {e}"
                            );
                            return Err(e.to_string());
                        }
                    }
                }
            }
        }
    }
}

/// Takes one whole notification off `buf`, if one arrived.
fn next_notification(buf: &mut BytesMut) -> Result<Option<WireNotification>, WireError> {
    let Some((body, used)) = decode_frame(buf)? else {
        return Ok(None);
    };
    let n = WireNotification::decode(body)?;
    buf.advance(used);
    Ok(Some(n))
}

/// Nothing a real server sends us arrives here (we are in no one's view),
/// but whatever does is read with the server's own rules: a valid peer is
/// logged, anything malformed is closed with a log line.
async fn accept_loop(listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_INBOUND));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            if let Err(e) = inbound(stream, peer).await {
                tracing::warn!("closing the election connection from {peer}: {e}");
            }
            drop(permit);
        });
    }
}

async fn inbound(mut stream: TcpStream, peer: SocketAddr) -> Result<(), String> {
    let mut buf = BytesMut::with_capacity(4096);
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let hello = loop {
        if let Some((h, used)) =
            Handshake::decode(&buf).map_err(|e| format!("malformed traffic: {e}"))?
        {
            buf.advance(used);
            break h;
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return Err("closed during the handshake".into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("no handshake in time".into()),
        }
    };
    tracing::info!(
        sid = hello.sid,
        "election connection from {peer} ({})",
        hello.address
    );
    loop {
        while let Some(n) =
            next_notification(&mut buf).map_err(|e| format!("malformed traffic: {e}"))?
        {
            tracing::info!(
                sid = hello.sid,
                "notification from a peer we do not watch: {} leader={} round={}",
                n.state.as_str(),
                n.leader,
                n.round
            );
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse_and_bad_lists_are_usage_errors() {
        let s = parse_servers("1@127.0.0.1:3888, 2@[::1]:3889").unwrap();
        assert_eq!(
            s,
            vec![(1, "127.0.0.1:3888".into()), (2, "[::1]:3889".into())]
        );
        for bad in ["", "1@h", "x@h:1", "1@h:99999", "1@h:1,1@h:2", "h:1"] {
            assert!(
                matches!(parse_servers(bad), Err(ElectError::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_lines_have_the_documented_fields() {
        let r = Report {
            sid: 2,
            state: WireState::Leading,
            leader: 2,
            round: 3,
            peer_epoch: 4,
            zxid: 5,
        };
        assert_eq!(
            change_json(9, &r),
            r#"{"time_ms":9,"sid":2,"state":"LEADING","leader":2,"round":3,"peer_epoch":4,"zxid":5}"#
        );
    }
}
