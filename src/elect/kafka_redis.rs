//! One real broker's controller election against a Redis server used as the
//! coordination store. The "ephemeral node" is a key with a TTL, created
//! with `SET /controller <id> NX PX <session-timeout>` and kept alive by the
//! holder with a compare-and-refresh script; the controller epoch (fencing
//! token) comes from `INCR /controller_epoch` in the same atomic script.
//! Redis has no watches, so brokers poll: a vanished key is the "watch".

use std::time::Duration;

use rsentinel_core::kafka::{
    AgentStep, BrokerId, ControllerAgent, ControllerView, CONTROLLER_EPOCH_PATH, CONTROLLER_PATH,
};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::error::ElectError;
use super::output::LineSink;
use super::wire::{encode, read_value, Value};

/// Creates the claim if absent and, atomically with it, takes the next
/// controller epoch. Returns the epoch, or 0 when someone holds the claim.
const ACQUIRE: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then \
return redis.call('INCR', KEYS[2]) end return 0";
/// Extends the claim only while it is still ours.
const REFRESH: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

/// A tiny Redis connection: one command at a time.
pub struct RedisConn {
    stream: BufReader<TcpStream>,
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
        stream.set_nodelay(true)?;
        Ok(RedisConn {
            stream: BufReader::new(stream),
        })
    }

    pub async fn cmd<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Value, ElectError> {
        self.stream.get_mut().write_all(&encode(args)).await?;
        match read_value(&mut self.stream).await? {
            Some(Value::Error(e)) => Err(ElectError::Store(e)),
            Some(v) => Ok(v),
            None => Err(ElectError::Store("connection closed".into())),
        }
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => other.text()?.parse().ok(),
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
        match agent.next_step() {
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
                        agent.on_acquired(Some(epoch as u64));
                    }
                    _ => {
                        agent.on_acquired(None);
                        agent.on_observed(read_view(&mut conn).await?);
                    }
                }
            }
            AgentStep::Renew { .. } => {
                let v = conn
                    .cmd(&["EVAL", REFRESH, "1", CONTROLLER_PATH, &id, &ttl])
                    .await?;
                if as_int(&v) != Some(1) {
                    tracing::warn!(broker, "lost the controller claim");
                    agent.on_renewed(false);
                    agent.on_observed(read_view(&mut conn).await?);
                }
            }
            AgentStep::Observe => agent.on_observed(read_view(&mut conn).await?),
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
    let Value::Array(Some(items)) = v else {
        return Err(ElectError::Store("MGET did not return an array".into()));
    };
    let holder = items
        .first()
        .and_then(Value::text)
        .and_then(|t| t.parse().ok());
    let epoch = items.get(1).and_then(as_int).unwrap_or(0) as u64;
    Ok(match holder {
        Some(controller) => ControllerView::Held { controller, epoch },
        None => ControllerView::Vacant,
    })
}
