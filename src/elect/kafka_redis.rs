//! One real broker's controller election against a Redis server used as the
//! coordination store. The "ephemeral node" is a key with a TTL, created
//! with `SET /controller <id> NX PX <session-timeout>` and kept alive by the
//! holder with a compare-and-refresh script; the controller epoch (fencing
//! token) comes from `INCR /controller_epoch` in the same atomic script.
//! Redis has no watches, so brokers poll: a vanished key is the "watch".

use std::time::Duration;

use rsentinel_core::ids::Epoch;
use rsentinel_core::kafka::{
    AgentStep, BrokerId, ControllerAgent, ControllerView, CONTROLLER_EPOCH_PATH, CONTROLLER_PATH,
};
use rsentinel_core::reply::Reply;
use tokio::net::TcpStream;

use super::error::ElectError;
use super::output::LineSink;
use crate::resp::{ReplyLimits, RespConnection};

/// Creates the claim if absent and, atomically with it, takes the next
/// controller epoch. Returns the epoch, or 0 when someone holds the claim.
const ACQUIRE: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then \
return redis.call('INCR', KEYS[2]) end return 0";
/// Extends the claim only while it is still ours.
const REFRESH: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

/// The store only ever answers small integers, a short key and a two-item
/// `MGET`: a peer sending more than this is not the store we want, and
/// must not make us allocate much.
const STORE_LIMITS: ReplyLimits = ReplyLimits {
    max_depth: 2,
    max_elements: 1024,
    max_bulk: 1 << 20,
    max_line: 1 << 20,
    max_reply_bytes: 2 << 20,
};

/// A tiny Redis connection: one command at a time.
pub struct RedisConn {
    conn: RespConnection,
}

impl RedisConn {
    pub async fn connect(url: &str) -> Result<RedisConn, ElectError> {
        let addr = url.strip_prefix("redis://").ok_or_else(|| {
            ElectError::Usage(format!(
                "--store must look like redis://host:port, got '{url}'"
            ))
        })?;
        let addr = addr.split('/').next().unwrap_or(addr);
        let stream = TcpStream::connect(addr).await?;
        Ok(RedisConn {
            conn: RespConnection::from_stream(stream, &STORE_LIMITS)?,
        })
    }

    pub async fn cmd<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Reply, ElectError> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_ref().as_bytes()).collect();
        self.conn.send(&args).await?;
        match self.conn.next_reply().await {
            Ok(Some(Reply::Error(e))) => Err(ElectError::Store(e)),
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(ElectError::Store("connection closed".into())),
            // Bytes that are not RESP within our limits: not a store.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(ElectError::Protocol(e.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A simple or bulk string's text (what the store sends for a key).
fn text(v: &Reply) -> Option<String> {
    match v {
        Reply::Simple(s) => Some(s.clone()),
        Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn as_int(v: &Reply) -> Option<i64> {
    match v {
        Reply::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

/// Runs broker `broker`'s controller election until the future is dropped,
/// printing `controller=<id> epoch=<n>` whenever the controller it knows
/// changes.
pub async fn run_kafka_broker(
    broker: BrokerId,
    store: &str,
    session_timeout_ms: u64,
    out: LineSink,
) -> Result<(), ElectError> {
    if session_timeout_ms < 100 {
        return Err(ElectError::Usage(
            "--session-timeout-ms must be at least 100".into(),
        ));
    }
    let mut conn = RedisConn::connect(store).await?;
    let mut agent = ControllerAgent::new(broker);
    let ttl = session_timeout_ms.to_string();
    let id = broker.to_string();
    // Refresh several times per timeout so one slow round trip is harmless.
    let mut ticker = tokio::time::interval(Duration::from_millis((session_timeout_ms / 6).max(20)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match agent.poll_step() {
            AgentStep::TryAcquire => {
                let v = conn
                    .cmd(&[
                        "EVAL",
                        ACQUIRE,
                        "2",
                        CONTROLLER_PATH,
                        CONTROLLER_EPOCH_PATH,
                        &id,
                        &ttl,
                    ])
                    .await?;
                match as_int(&v) {
                    Some(epoch) if epoch > 0 => {
                        tracing::info!(broker, epoch, "won the controller election");
                        agent.handle_acquired(Some(Epoch(epoch as u64)));
                    }
                    _ => {
                        agent.handle_acquired(None);
                        agent.handle_observed(read_view(&mut conn).await?);
                    }
                }
            }
            AgentStep::Renew { .. } => {
                let v = conn
                    .cmd(&["EVAL", REFRESH, "1", CONTROLLER_PATH, &id, &ttl])
                    .await?;
                if as_int(&v) != Some(1) {
                    tracing::warn!(broker, "lost the controller claim");
                    agent.handle_renewed(false);
                    agent.handle_observed(read_view(&mut conn).await?);
                }
            }
            AgentStep::Observe => agent.handle_observed(read_view(&mut conn).await?),
        }
        while let Some(c) = agent.poll_change() {
            out.emit(format!("controller={} epoch={}", c.controller, c.epoch));
        }
    }
}

/// Reads the claim and the epoch in one atomic `MGET`.
async fn read_view(conn: &mut RedisConn) -> Result<ControllerView, ElectError> {
    let v = conn
        .cmd(&["MGET", CONTROLLER_PATH, CONTROLLER_EPOCH_PATH])
        .await?;
    let Reply::Array(items) = v else {
        return Err(ElectError::Store("MGET did not return an array".into()));
    };
    let holder = items.first().and_then(text).and_then(|t| t.parse().ok());
    let epoch = Epoch(items.get(1).and_then(as_int).unwrap_or(0) as u64);
    Ok(match holder {
        Some(controller) => ControllerView::Held { controller, epoch },
        None => ControllerView::Vacant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A fake store that reads one command, answers `reply` and then
    /// closes; what it read comes back through the handle.
    async fn fake_store(reply: &'static [u8]) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let peer = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = vec![0u8; 64];
            let n = s.read(&mut got).await.unwrap();
            got.truncate(n);
            s.write_all(reply).await.unwrap();
            got
        });
        (url, peer)
    }

    #[tokio::test]
    async fn commands_go_out_as_arrays_of_bulks_and_replies_come_back() {
        let (url, peer) = fake_store(b"*2\r\n$1\r\n7\r\n$-1\r\n").await;
        let mut conn = RedisConn::connect(&url).await.unwrap();
        let v = conn.cmd(&["SET", "/controller", "1"]).await.unwrap();
        assert_eq!(v, Reply::Array(vec![Reply::bulk("7"), Reply::Null]));
        assert_eq!(
            peer.await.unwrap(),
            b"*3\r\n$3\r\nSET\r\n$11\r\n/controller\r\n$1\r\n1\r\n"
        );
        // The store closed between replies.
        let closed = conn.cmd(&["PING"]).await.unwrap_err();
        assert!(
            matches!(&closed, ElectError::Store(m) if m == "connection closed"),
            "{closed:?}"
        );
    }

    #[tokio::test]
    async fn error_replies_are_store_errors_and_garbage_is_a_protocol_error() {
        let (url, _peer) = fake_store(b"-ERR no\r\n").await;
        let mut conn = RedisConn::connect(&url).await.unwrap();
        let err = conn.cmd(&["GET", "x"]).await.unwrap_err();
        assert!(
            matches!(&err, ElectError::Store(m) if m == "ERR no"),
            "{err:?}"
        );

        let (url, _peer) = fake_store(b"?what\r\n").await;
        let mut conn = RedisConn::connect(&url).await.unwrap();
        let err = conn.cmd(&["GET", "x"]).await.unwrap_err();
        assert!(matches!(err, ElectError::Protocol(_)), "{err:?}");
    }

    #[test]
    fn integers_are_read_from_ints_and_numeric_strings() {
        assert_eq!(as_int(&Reply::Int(42)), Some(42));
        assert_eq!(as_int(&Reply::bulk("7")), Some(7));
        assert_eq!(as_int(&Reply::Simple("3".into())), Some(3));
        assert_eq!(as_int(&Reply::Null), None);
        assert_eq!(as_int(&Reply::bulk("x")), None);
    }

    #[test]
    fn a_url_without_the_redis_scheme_is_a_usage_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt.block_on(RedisConn::connect("127.0.0.1:1")).err();
        assert!(matches!(err, Some(ElectError::Usage(_))), "{err:?}");
    }
}
