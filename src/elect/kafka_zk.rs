//! One broker's Kafka (ZooKeeper-mode) controller election against a real
//! ZooKeeper, with Kafka's znode layout and payloads, always under a chroot
//! of our own (a real Kafka cluster's brokers would obey our `/controller`).
//!
//! The recipe is `KafkaZkClient.registerControllerAndIncrementControllerEpoch`:
//! read `/controller_epoch` (create `"0"` if absent); in one `multi`, create
//! the ephemeral `/controller` and set `/controller_epoch` to epoch + 1 at
//! the version read; on NodeExists/BadVersion read who won and watch
//! `/controller`. The controller then writes partition states
//! (`/brokers/topics/T/partitions/P/state`) in `multi`s that first check
//! `/controller_epoch`'s version: a stale controller's write is refused.
//! Who leads each partition is the core's offline election.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsentinel_core::ids::Epoch;
use rsentinel_core::kafka::{
    BrokerId, ControllerAgent, ControllerView, ElectionKind, PartitionState, CONTROLLER_EPOCH_PATH,
    CONTROLLER_PATH,
};
use serde_json::{json, Value};
use zookeeper_client::{
    Acls, Client, CreateMode, Error as ZkError, MultiWriteError, MultiWriteResult, SessionState,
};

use super::error::ElectError;
use super::output::LineSink;

/// What ends one session's work.
enum Ended {
    /// The session expired or closed, or a fenced write was refused:
    /// start a new session.
    SessionLost,
}

pub struct KafkaZkOptions<'a> {
    pub broker: BrokerId,
    pub store: &'a str,
    pub session_timeout_ms: u64,
    pub topic: &'a str,
    pub partitions: u32,
    pub replicas: Vec<BrokerId>,
}

/// `zk://host:port,host:port/chroot` into the hosts and the chroot, which
/// must not be the root.
pub fn parse_zk_url(url: &str) -> Result<(String, String), ElectError> {
    let usage = || {
        ElectError::Usage(format!(
            "--store must look like zk://host:port,host:port/chroot (a chroot of our own), got '{url}'"
        ))
    };
    let rest = url.strip_prefix("zk://").ok_or_else(usage)?;
    let (hosts, chroot) = rest.split_once('/').ok_or_else(usage)?;
    let chroot = format!("/{}", chroot.trim_end_matches('/'));
    if hosts.is_empty() || chroot == "/" || chroot.contains("//") {
        return Err(usage());
    }
    Ok((hosts.to_string(), chroot))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn store_err(e: impl std::fmt::Display) -> ElectError {
    ElectError::Store(e.to_string())
}

fn persistent() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn ephemeral() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Ephemeral.with_acls(Acls::anyone_all())
}

/// Runs the broker until the process ends; a lost session is replaced by a
/// new one, which registers and races again.
pub async fn run_kafka_zk(opts: KafkaZkOptions<'_>, out: LineSink) -> Result<(), ElectError> {
    let (hosts, chroot) = parse_zk_url(opts.store)?;
    if opts.replicas.is_empty() {
        return Err(ElectError::Usage("--replicas must name brokers".into()));
    }
    loop {
        let mut agent = ControllerAgent::new(opts.broker);
        let result = match connect(&hosts, &chroot, opts.session_timeout_ms).await {
            Ok(client) => session(&client, &opts, &mut agent, &out).await,
            Err(e) => Err(e),
        };
        // Whatever went wrong with the store (a lost connection, an expired
        // session, our old registration not yet gone), the safe answer is a
        // new session: dropping the client closes the old one, and with it
        // our ephemeral nodes, so the others race again.
        match result {
            Ok(Ended::SessionLost) => {
                tracing::warn!(
                    broker = opts.broker,
                    "ZooKeeper session lost; starting a new one"
                )
            }
            Err(ElectError::Store(e)) => {
                tracing::warn!(
                    broker = opts.broker,
                    "ZooKeeper error: {e}; starting a new session"
                )
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

/// Pause between sessions, so a store that refuses us is not hammered.
const RETRY_DELAY: Duration = Duration::from_millis(200);

async fn connect(hosts: &str, chroot: &str, timeout_ms: u64) -> Result<Client, ElectError> {
    // The chroot must exist before a client can use it.
    let root = Client::connector()
        .with_session_timeout(Duration::from_millis(timeout_ms))
        .connect(hosts)
        .await
        .map_err(store_err)?;
    root.mkdir(chroot, &persistent()).await.map_err(store_err)?;
    drop(root);
    Client::connector()
        .with_session_timeout(Duration::from_millis(timeout_ms))
        .connect(&format!("{hosts}{chroot}"))
        .await
        .map_err(store_err)
}

/// Kafka's broker registration (version 5), with no listener: we serve
/// no Kafka protocol, so no endpoint is advertised.
fn broker_json() -> Vec<u8> {
    json!({
        "features": {},
        "listener_security_protocol_map": {},
        "endpoints": [],
        "jmx_port": -1,
        "port": -1,
        "host": null,
        "version": 5,
        "timestamp": now_ms().to_string(),
    })
    .to_string()
    .into_bytes()
}

async fn session(
    client: &Client,
    opts: &KafkaZkOptions<'_>,
    agent: &mut ControllerAgent,
    out: &LineSink,
) -> Result<Ended, ElectError> {
    for path in ["/brokers/ids", "/brokers/topics"] {
        client.mkdir(path, &persistent()).await.map_err(store_err)?;
    }
    let me = format!("/brokers/ids/{}", opts.broker);
    match client.create(&me, &broker_json(), &ephemeral()).await {
        Ok(_) => {}
        Err(ZkError::NodeExists) => {
            return Err(ElectError::Store(format!(
                "{me} exists: broker {} is already registered",
                opts.broker
            )))
        }
        Err(ZkError::SessionExpired) => return Ok(Ended::SessionLost),
        Err(e) => return Err(store_err(e)),
    }
    let mut state = client.state_watcher();
    loop {
        let (epoch, version) = match read_epoch(client).await {
            Ok(v) => v,
            Err(ZkError::SessionExpired) => return Ok(Ended::SessionLost),
            Err(e) => return Err(store_err(e)),
        };
        let claim =
            json!({"version": 1, "brokerid": opts.broker, "timestamp": now_ms().to_string()})
                .to_string();
        let mut multi = client.new_multi_writer();
        multi
            .add_create(CONTROLLER_PATH, claim.as_bytes(), &ephemeral())
            .map_err(store_err)?;
        multi
            .add_set_data(
                CONTROLLER_EPOCH_PATH,
                (epoch + 1).to_string().as_bytes(),
                Some(version),
            )
            .map_err(store_err)?;
        match multi.commit().await {
            Ok(results) => {
                let Some(MultiWriteResult::SetData { stat }) = results.into_iter().nth(1) else {
                    return Err(store_err("multi answered without the epoch write"));
                };
                tracing::info!(
                    broker = opts.broker,
                    epoch = epoch + 1,
                    "won the controller election"
                );
                agent.handle_acquired(Some(Epoch((epoch + 1) as u64)));
                report(agent, out);
                // Control ends only with the session or a refused fenced
                // write; either way a new session starts over.
                return control(client, opts, epoch + 1, stat.version, out).await;
            }
            Err(MultiWriteError::OperationFailed {
                source: ZkError::NodeExists | ZkError::BadVersion | ZkError::NoNode,
                ..
            }) => {}
            Err(e) if ZkError::from(e.clone()) == ZkError::SessionExpired => {
                return Ok(Ended::SessionLost)
            }
            Err(e) => return Err(store_err(e)),
        }
        // Someone else won: learn who, then wait for `/controller` to go.
        let watcher = match client.get_and_watch_data(CONTROLLER_PATH).await {
            Ok((data, _, watcher)) => {
                let holder = serde_json::from_slice::<Value>(&data)
                    .ok()
                    .and_then(|v| v["brokerid"].as_u64());
                let (epoch, _) = read_epoch(client).await.map_err(store_err)?;
                if let Some(controller) = holder {
                    agent.handle_observed(ControllerView::Held {
                        controller,
                        epoch: Epoch(epoch as u64),
                    });
                    report(agent, out);
                }
                watcher
            }
            Err(ZkError::NoNode) => continue,
            Err(ZkError::SessionExpired) => return Ok(Ended::SessionLost),
            Err(e) => return Err(store_err(e)),
        };
        tokio::select! {
            _ = watcher.changed() => {}
            s = state.changed() => if lost(s) { return Ok(Ended::SessionLost) },
        }
    }
}

fn lost(s: SessionState) -> bool {
    matches!(
        s,
        SessionState::Expired | SessionState::Closed | SessionState::AuthFailed
    )
}

fn report(agent: &mut ControllerAgent, out: &LineSink) {
    while let Some(c) = agent.poll_change() {
        out.emit(format!("controller={} epoch={}", c.controller, c.epoch));
    }
}

/// `/controller_epoch` and its version, created as `"0"` when absent.
async fn read_epoch(client: &Client) -> Result<(i64, i32), ZkError> {
    loop {
        match client.get_data(CONTROLLER_EPOCH_PATH).await {
            Ok((data, stat)) => {
                let epoch = std::str::from_utf8(&data)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                return Ok((epoch, stat.version));
            }
            Err(ZkError::NoNode) => {
                match client
                    .create(CONTROLLER_EPOCH_PATH, b"0", &persistent())
                    .await
                {
                    Ok(_) | Err(ZkError::NodeExists) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn partition_path(topic: &str, p: u32) -> String {
    format!("/brokers/topics/{topic}/partitions/{p}/state")
}

/// Kafka's default assignment shape: partition `p`'s replica list starts
/// `p` places into the broker list.
fn assignment(replicas: &[BrokerId], partitions: u32) -> BTreeMap<u32, Vec<BrokerId>> {
    (0..partitions)
        .map(|p| {
            let mut r = replicas.to_vec();
            r.rotate_left(p as usize % replicas.len());
            (p, r)
        })
        .collect()
}

/// What the controller reads before deciding: live brokers (with a watch
/// on their registrations), the partition states, and whether the topic
/// exists.
struct Cluster {
    live: BTreeSet<BrokerId>,
    watcher: zookeeper_client::OneshotWatcher,
    states: BTreeMap<u32, PartitionState>,
    topic_exists: bool,
}

async fn read_cluster(
    client: &Client,
    topic: &str,
    assigned: &BTreeMap<u32, Vec<BrokerId>>,
) -> Result<Cluster, ZkError> {
    let (ids, _, watcher) = client.get_and_watch_children("/brokers/ids").await?;
    let live = ids.iter().filter_map(|s| s.parse().ok()).collect();
    // Current states: Kafka keeps leader epochs across controllers.
    let mut states = BTreeMap::new();
    for (&p, replicas) in assigned {
        let mut st = PartitionState::new(replicas.clone());
        match client.get_data(&partition_path(topic, p)).await {
            Ok((data, _)) => {
                if let Ok(v) = serde_json::from_slice::<Value>(&data) {
                    st.leader = v["leader"].as_i64().filter(|&l| l >= 0).map(|l| l as u64);
                    st.leader_epoch = v["leader_epoch"].as_u64().unwrap_or(0);
                    st.isr = v["isr"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_u64).collect())
                        .unwrap_or_default();
                }
            }
            Err(ZkError::NoNode) => {}
            Err(e) => return Err(e),
        }
        states.insert(p, st);
    }
    let topic_exists = client
        .check_stat(&format!("/brokers/topics/{topic}"))
        .await?
        .is_some();
    Ok(Cluster {
        live,
        watcher,
        states,
        topic_exists,
    })
}

/// The core's offline election for every partition whose leader is gone,
/// with the ISR following the live brokers; the partitions that changed.
fn reelect(states: &mut BTreeMap<u32, PartitionState>, live: &BTreeSet<BrokerId>) -> BTreeSet<u32> {
    let mut changed = BTreeSet::new();
    for (&p, st) in states.iter_mut() {
        // Live assigned replicas are taken as caught up: this demo has no
        // log to lag behind.
        for r in st.replicas.clone() {
            if live.contains(&r) && st.expand_isr(r) {
                changed.insert(p);
            }
        }
        if !st.leader.is_some_and(|l| live.contains(&l)) {
            if st
                .elect(&ElectionKind::Offline { unclean: false }, live)
                .is_err()
            {
                st.go_offline();
            }
            changed.insert(p);
        }
        let before = st.isr.len();
        st.isr.retain(|r| live.contains(r) || Some(*r) == st.leader);
        if st.isr.len() != before {
            changed.insert(p);
        }
    }
    changed
}

/// Acts as controller with `epoch` until the session ends or a fenced
/// write is refused. When the store misbehaves (a read fails, the
/// connection drops) the controller proves it still holds the epoch with
/// a fenced write before going on; a refusal ends its reign.
async fn control(
    client: &Client,
    opts: &KafkaZkOptions<'_>,
    epoch: i64,
    epoch_version: i32,
    out: &LineSink,
) -> Result<Ended, ElectError> {
    let topic = opts.topic;
    let assigned = assignment(&opts.replicas, opts.partitions);
    let fence = Fence {
        client,
        topic,
        assigned: &assigned,
        epoch,
        epoch_version,
    };
    let mut state_watch = client.state_watcher();
    let mut ticker =
        tokio::time::interval(Duration::from_millis((opts.session_timeout_ms / 2).max(50)));
    loop {
        let mut cluster = match read_cluster(client, topic, &assigned).await {
            Ok(c) => c,
            Err(e) => {
                if let Err(why) = fence.write(&BTreeMap::new(), true).await {
                    out.emit(format!(
                        "fenced write refused epoch={epoch}: {why} (after: {e})"
                    ));
                    return Ok(Ended::SessionLost);
                }
                tokio::time::sleep(RETRY_DELAY).await;
                continue;
            }
        };
        let changed = reelect(&mut cluster.states, &cluster.live);
        if !changed.is_empty() || !cluster.topic_exists {
            let writes: BTreeMap<u32, &PartitionState> =
                changed.iter().map(|p| (*p, &cluster.states[p])).collect();
            if let Err(why) = fence.write(&writes, cluster.topic_exists).await {
                out.emit(format!("fenced write refused epoch={epoch}: {why}"));
                return Ok(Ended::SessionLost);
            }
            for (p, st) in writes {
                out.emit(format!(
                    "partition {topic}-{p} leader={} leader_epoch={} isr={} controller_epoch={epoch}",
                    st.leader.map_or("none".to_string(), |l| l.to_string()),
                    st.leader_epoch,
                    list(&st.isr)
                ));
            }
        }
        tokio::select! {
            _ = cluster.watcher.changed() => {}
            _ = ticker.tick() => {}
            s = state_watch.changed() => {
                if s != SessionState::SyncConnected {
                    // Disconnected or expired: only a fenced write tells
                    // whether we still hold the epoch.
                    if let Err(why) = fence.write(&BTreeMap::new(), true).await {
                        out.emit(format!("fenced write refused epoch={epoch}: {why}"));
                        return Ok(Ended::SessionLost);
                    }
                }
            }
        }
    }
}

/// Writes under the controller epoch: every `multi` starts with a check of
/// `/controller_epoch`'s version.
struct Fence<'a> {
    client: &'a Client,
    topic: &'a str,
    assigned: &'a BTreeMap<u32, Vec<BrokerId>>,
    epoch: i64,
    epoch_version: i32,
}

impl Fence<'_> {
    /// Writes `states` (and the topic when it does not exist yet) in one
    /// fenced `multi`; with nothing to write it is the check alone.
    async fn write(
        &self,
        states: &BTreeMap<u32, &PartitionState>,
        topic_exists: bool,
    ) -> Result<(), String> {
        let client = self.client;
        let mut multi = client.new_multi_writer();
        let add = |r: Result<(), ZkError>| r.map_err(|e| e.to_string());
        add(multi.add_check_version(CONTROLLER_EPOCH_PATH, self.epoch_version))?;
        let base = format!("/brokers/topics/{}", self.topic);
        if !topic_exists {
            let parts: serde_json::Map<String, Value> = self
                .assigned
                .iter()
                .map(|(p, r)| (p.to_string(), json!(r)))
                .collect();
            let topic_json = json!({"version": 2, "partitions": parts, "adding_replicas": {}, "removing_replicas": {}});
            add(multi.add_create(&base, topic_json.to_string().as_bytes(), &persistent()))?;
            add(multi.add_create(&format!("{base}/partitions"), b"", &persistent()))?;
            for p in self.assigned.keys() {
                add(multi.add_create(&format!("{base}/partitions/{p}"), b"", &persistent()))?;
            }
        }
        for (p, st) in states {
            let data = json!({
                "controller_epoch": self.epoch,
                "leader": st.leader.map_or(-1, |l| l as i64),
                "version": 1,
                "leader_epoch": st.leader_epoch,
                "isr": st.isr,
            })
            .to_string();
            let path = partition_path(self.topic, *p);
            let exists = topic_exists
                && client
                    .check_stat(&path)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some();
            if exists {
                add(multi.add_set_data(&path, data.as_bytes(), None))?;
            } else {
                add(multi.add_create(&path, data.as_bytes(), &persistent()))?;
            }
        }
        match multi.commit().await {
            Ok(_) => Ok(()),
            Err(MultiWriteError::OperationFailed { index: 0, source }) => Err(format!(
                "/controller_epoch is no longer at version {} ({source}): a newer controller exists",
                self.epoch_version
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn list(v: &[BrokerId]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zk_urls_need_a_chroot_of_our_own() {
        assert_eq!(
            parse_zk_url("zk://127.0.0.1:1,127.0.0.1:2/rsentinel/kafka").unwrap(),
            ("127.0.0.1:1,127.0.0.1:2".into(), "/rsentinel/kafka".into())
        );
        for bad in [
            "zk://h:1",
            "zk://h:1/",
            "redis://h:1/x",
            "zk:///x",
            "zk://h:1/a//b",
        ] {
            assert!(
                matches!(parse_zk_url(bad), Err(ElectError::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn assignments_rotate_the_broker_list() {
        let a = assignment(&[1, 2, 3], 4);
        assert_eq!(a[&0], vec![1, 2, 3]);
        assert_eq!(a[&1], vec![2, 3, 1]);
        assert_eq!(a[&3], vec![1, 2, 3]);
    }
}
