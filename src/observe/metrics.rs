//! The Prometheus metrics: one `prometheus-client` registry holding what the
//! hooks count as things happen (events, failovers, votes, link round
//! trips, config flushes, commands) and the gauges refreshed from a
//! topology snapshot at each scrape (masters, states, clients, process).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use super::timeline::Observation;
use super::topology::Topology;

/// Label pairs; the keys are fixed names.
pub type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Every metric rsentinel exports (names in the README).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    masters: Gauge,
    current_epoch: Gauge,
    tilt: Gauge,
    tilt_entries: Counter,
    master_state: Family<Labels, Gauge>,
    master_config_epoch: Family<Labels, Gauge>,
    master_quorum_reachable: Family<Labels, Gauge>,
    master_replicas: Family<Labels, Gauge>,
    master_sentinels: Family<Labels, Gauge>,
    events: Family<Labels, Counter>,
    failovers: Family<Labels, Counter>,
    phases: Histograms,
    votes: Family<Labels, Counter>,
    pub(super) link_rtt: Histograms,
    pub(super) links_up: Family<Labels, Gauge>,
    pub(super) link_connects: Family<Labels, Counter>,
    pub(super) link_disconnects: Family<Labels, Counter>,
    pub(super) flush_seconds: Histogram,
    pub(super) flush_errors: Counter,
    scripts_running: Gauge,
    scripts_queued: Gauge,
    pub(super) script_results: Family<Labels, Counter>,
    connected_clients: Gauge,
    pub(super) commands: Family<Labels, Counter>,
    cpu_seconds: Counter<f64, AtomicU64>,
    resident_bytes: Gauge,
    pub(super) http_requests: Family<Labels, Counter>,
}

fn phase_histogram() -> Histogram {
    // 10 ms .. ~160 s: detection is down-after-milliseconds, a whole
    // failover at most failover-timeout.
    Histogram::new(doubling_buckets(0.01, 15))
}

fn rtt_histogram() -> Histogram {
    // 50 µs .. ~1.6 s: loopback PINGs to far links.
    Histogram::new(doubling_buckets(0.00005, 16))
}

/// `count` bucket bounds from `start`, each twice the last: the same as
/// `exponential_buckets(start, 2.0, count)`, but by multiplication (exact
/// for a factor of 2) rather than `powf`, which was the only thing the
/// binary took from libm. Without it the linker drops libm, and a running
/// sentinel no longer maps its ~0.5 MiB of pages.
fn doubling_buckets(start: f64, count: usize) -> impl Iterator<Item = f64> {
    std::iter::successors(Some(start), |b| Some(b * 2.0)).take(count)
}

pub fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            masters: Gauge::default(),
            current_epoch: Gauge::default(),
            tilt: Gauge::default(),
            tilt_entries: Counter::default(),
            master_state: Family::default(),
            master_config_epoch: Family::default(),
            master_quorum_reachable: Family::default(),
            master_replicas: Family::default(),
            master_sentinels: Family::default(),
            events: Family::default(),
            failovers: Family::default(),
            phases: Family::new_with_constructor(phase_histogram),
            votes: Family::default(),
            link_rtt: Family::new_with_constructor(rtt_histogram),
            links_up: Family::default(),
            link_connects: Family::default(),
            link_disconnects: Family::default(),
            flush_seconds: Histogram::new(doubling_buckets(0.0001, 16)),
            flush_errors: Counter::default(),
            scripts_running: Gauge::default(),
            scripts_queued: Gauge::default(),
            script_results: Family::default(),
            connected_clients: Gauge::default(),
            commands: Family::default(),
            cpu_seconds: Counter::default(),
            resident_bytes: Gauge::default(),
            http_requests: Family::default(),
        };
        m.register();
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "process_cpu_seconds",
            "User and system CPU time spent",
            self.cpu_seconds.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident memory size",
            self.resident_bytes.clone(),
        );
        let r = r.sub_registry_with_prefix("rsentinel");
        r.register(
            "build",
            "rsentinel version and the redis-sentinel version it behaves as",
            Info::new(labels(&[
                ("version", env!("CARGO_PKG_VERSION")),
                ("redis_version", crate::REDIS_VERSION),
            ])),
        );
        r.register("masters", "Monitored masters", self.masters.clone());
        r.register(
            "current_epoch",
            "Highest epoch this sentinel has seen",
            self.current_epoch.clone(),
        );
        r.register("tilt", "1 while in TILT mode", self.tilt.clone());
        r.register(
            "tilt_entries",
            "Times TILT mode was entered",
            self.tilt_entries.clone(),
        );
        r.register(
            "master_state",
            "1 for the master's current state (ok, sdown, odown, failover)",
            self.master_state.clone(),
        );
        r.register(
            "master_config_epoch",
            "The master's config epoch",
            self.master_config_epoch.clone(),
        );
        r.register(
            "master_quorum_reachable",
            "1 when SENTINEL CKQUORUM answers OK",
            self.master_quorum_reachable.clone(),
        );
        r.register(
            "master_replicas",
            "Replicas of the master by state (ok, sdown, disconnected)",
            self.master_replicas.clone(),
        );
        r.register(
            "master_sentinels",
            "Other sentinels of the master by state (ok, sdown, disconnected)",
            self.master_sentinels.clone(),
        );
        r.register("events", "Published events by name", self.events.clone());
        r.register(
            "failovers",
            "Failovers finished, by this sentinel's role and the result",
            self.failovers.clone(),
        );
        r.register(
            "failover_phase_seconds",
            "Duration of each failover phase (detect, elect, promote, reconfigure)",
            self.phases.clone(),
        );
        r.register(
            "leader_votes",
            "Leader votes granted or refused to peers, elections won or lost",
            self.votes.clone(),
        );
        r.register(
            "link_rtt_seconds",
            "PING round trip on links, by kind (master, replica, sentinel)",
            self.link_rtt.clone(),
        );
        r.register(
            "links_up",
            "Links connected now, by kind",
            self.links_up.clone(),
        );
        r.register(
            "link_connects",
            "Link connections made (each reconnect counts), by kind",
            self.link_connects.clone(),
        );
        r.register(
            "link_disconnects",
            "Link connections lost or closed, by kind",
            self.link_disconnects.clone(),
        );
        r.register(
            "config_flush_seconds",
            "Time taken to rewrite the config file",
            self.flush_seconds.clone(),
        );
        r.register(
            "config_flush_errors",
            "Config rewrites that failed",
            self.flush_errors.clone(),
        );
        r.register(
            "scripts_running",
            "Scripts running now",
            self.scripts_running.clone(),
        );
        r.register(
            "scripts_queued",
            "Scripts waiting to run",
            self.scripts_queued.clone(),
        );
        r.register(
            "script_results",
            "Script runs by result (ok, retry, error)",
            self.script_results.clone(),
        );
        r.register(
            "connected_clients",
            "Client connections",
            self.connected_clients.clone(),
        );
        r.register(
            "commands",
            "Commands processed by name",
            self.commands.clone(),
        );
        r.register(
            "http_requests",
            "Requests to this HTTP listener by path (other paths as \"other\")",
            self.http_requests.clone(),
        );
    }

    /// Counts one published event and what the timeline derived from it.
    pub fn event(&self, kind: &str, msg: &str, observations: &[Observation]) {
        self.events.get_or_create(&labels(&[("event", kind)])).inc();
        if kind == "+new-epoch" {
            if let Ok(epoch) = msg.trim().parse() {
                self.saw_epoch(epoch);
            }
        }
        for o in observations {
            match o {
                Observation::Failover { role, result } => {
                    self.failovers
                        .get_or_create(&labels(&[("role", role), ("result", result)]))
                        .inc();
                }
                Observation::PhaseDone { phase, seconds } => {
                    self.phases
                        .get_or_create(&labels(&[("phase", phase.label())]))
                        .observe(*seconds);
                }
                Observation::Election { won } => self.vote(if *won { "won" } else { "lost" }),
                Observation::TiltEntered => {
                    self.tilt_entries.inc();
                }
            }
        }
    }

    /// `granted`, `refused` (our answers to peers), `won`, `lost`.
    pub fn vote(&self, outcome: &str) {
        self.votes
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    /// Raises `current_epoch` to `epoch` if it is higher.
    pub fn saw_epoch(&self, epoch: i64) {
        if epoch > self.current_epoch.get() {
            self.current_epoch.set(epoch);
        }
    }

    pub fn current_epoch(&self) -> i64 {
        self.current_epoch.get()
    }

    /// Refreshes the gauges from a snapshot, then renders the exposition.
    pub fn render(&self, topo: &Topology, clients: usize) -> String {
        self.masters.set(topo.masters.len() as i64);
        self.tilt.set(i64::from(topo.tilt));
        self.scripts_running.set(topo.scripts_running);
        self.scripts_queued.set(topo.scripts_queued);
        self.connected_clients.set(clients as i64);
        // Masters removed since the last scrape must disappear.
        for f in [
            &self.master_state,
            &self.master_config_epoch,
            &self.master_quorum_reachable,
            &self.master_replicas,
            &self.master_sentinels,
        ] {
            f.clear();
        }
        for m in &topo.masters {
            let base = labels(&[("master_name", &m.name), ("master_address", &m.address)]);
            let with = |k: &'static str, v: &str| {
                let mut l = base.clone();
                l.push((k, v.to_string()));
                l
            };
            for state in ["ok", "sdown", "odown", "failover"] {
                self.master_state
                    .get_or_create(&with("state", state))
                    .set(i64::from(m.state == state));
            }
            self.master_config_epoch
                .get_or_create(&base)
                .set(m.config_epoch);
            self.saw_epoch(m.config_epoch);
            self.master_quorum_reachable
                .get_or_create(&base)
                .set(i64::from(m.quorum_ok));
            for state in ["ok", "sdown", "disconnected"] {
                let count = |list: &[super::topology::Node]| {
                    list.iter().filter(|n| n.state == state).count() as i64
                };
                self.master_replicas
                    .get_or_create(&with("state", state))
                    .set(count(&m.replicas));
                self.master_sentinels
                    .get_or_create(&with("state", state))
                    .set(count(&m.sentinels));
            }
        }
        if let Some(p) = super::process::read() {
            let delta = p.cpu_seconds - self.cpu_seconds.get();
            if delta > 0.0 {
                self.cpu_seconds.inc_by(delta);
            }
            self.resident_bytes.set(p.resident_bytes as i64);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::super::timeline::Phase;
    use super::super::topology::{MasterView, Node};
    use super::*;

    #[test]
    fn doubling_buckets_are_the_crates_exponential_buckets() {
        use prometheus_client::metrics::histogram::exponential_buckets;
        for (start, count) in [(0.01, 15), (0.00005, 16), (0.0001, 16)] {
            let ours: Vec<f64> = doubling_buckets(start, count).collect();
            let theirs: Vec<f64> = exponential_buckets(start, 2.0, count as u16).collect();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn the_exposition_has_the_documented_names_and_labels() {
        let m = Metrics::new();
        m.event("+new-epoch", "7", &[]);
        m.event(
            "+switch-master",
            "mymaster 127.0.0.1 6379 127.0.0.1 6380",
            &[
                Observation::PhaseDone {
                    phase: Phase::Detect,
                    seconds: 0.25,
                },
                Observation::Failover {
                    role: "observer",
                    result: "success".into(),
                },
            ],
        );
        m.vote("granted");
        let node = |state: &str| Node {
            address: "127.0.0.1:1".into(),
            state: state.into(),
            fields: Default::default(),
        };
        let topo = Topology {
            masters: vec![MasterView {
                name: "mymaster".into(),
                address: "127.0.0.1:6380".into(),
                state: "odown".into(),
                config_epoch: 3,
                quorum_ok: true,
                replicas: vec![node("ok"), node("sdown")],
                sentinels: vec![node("ok")],
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = m.render(&topo, 5);
        let labels = r#"master_name="mymaster",master_address="127.0.0.1:6380""#;
        for line in [
            format!(
                r#"rsentinel_build_info{{version="{}",redis_version="{}"}} 1"#,
                env!("CARGO_PKG_VERSION"),
                crate::REDIS_VERSION
            ),
            "rsentinel_masters 1".into(),
            "rsentinel_current_epoch 7".into(),
            format!(r#"rsentinel_master_state{{{labels},state="odown"}} 1"#),
            format!(r#"rsentinel_master_state{{{labels},state="ok"}} 0"#),
            format!("rsentinel_master_config_epoch{{{labels}}} 3"),
            format!("rsentinel_master_quorum_reachable{{{labels}}} 1"),
            format!(r#"rsentinel_master_replicas{{{labels},state="sdown"}} 1"#),
            format!(r#"rsentinel_master_sentinels{{{labels},state="ok"}} 1"#),
            r#"rsentinel_events_total{event="+switch-master"} 1"#.into(),
            r#"rsentinel_failovers_total{role="observer",result="success"} 1"#.into(),
            r#"rsentinel_failover_phase_seconds_count{phase="detect"} 1"#.into(),
            r#"rsentinel_leader_votes_total{outcome="granted"} 1"#.into(),
            "rsentinel_connected_clients 5".into(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.contains("process_resident_memory_bytes "));
        assert!(text.ends_with("# EOF\n"));
    }
}
