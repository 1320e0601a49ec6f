//! The failover timeline: every published event kept in a bounded ring (for
//! `/api/events` and the page), and a small per-master state machine that
//! turns the event stream into what Prometheus counts — a failover's role
//! and result, each phase's duration, election wins and losses. Pure: the
//! caller passes the time, so it is tested without a clock.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// Events kept for the page; older ones are dropped (their counters stay).
pub const KEEP_EVENTS: usize = 2000;

/// One published event as `/api/events` returns it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Entry {
    /// Increasing from 1; `/api/events?since=N` returns entries after N.
    pub seq: u64,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The event type (its pub/sub channel), e.g. `+sdown`.
    pub kind: String,
    /// The event's message, as published.
    pub msg: String,
    /// The master the event is about, when the message names one.
    pub master: Option<String>,
}

/// A failover phase whose duration is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `+sdown` → `+odown` of the master.
    Detect,
    /// `+odown` → `+elected-leader`.
    Elect,
    /// `+elected-leader` → `+promoted-slave` (the replica is the master now).
    Promote,
    /// `+promoted-slave` → `+failover-end` (replicas pointed at it).
    Reconfigure,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Detect => "detect",
            Phase::Elect => "elect",
            Phase::Promote => "promote",
            Phase::Reconfigure => "reconfigure",
        }
    }
}

/// Something the metrics count, derived from one event.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// A failover finished on this sentinel: `role` is `leader` (it ran it)
    /// or `observer` (it learned the new master from a peer).
    Failover {
        role: &'static str,
        result: String,
    },
    PhaseDone {
        phase: Phase,
        seconds: f64,
    },
    /// This sentinel won (`true`) or lost an election it stood in.
    Election {
        won: bool,
    },
    TiltEntered,
}

/// What is known of one master's current incident (monotonic ms).
#[derive(Default, Debug)]
struct Track {
    sdown: Option<u64>,
    odown: Option<u64>,
    elected: Option<u64>,
    promoted: Option<u64>,
    /// Set by `+failover-end-for-timeout`: the leader's result.
    timed_out: bool,
}

/// An [`Entry`] as the ring keeps it: kind and message in one allocation
/// (the master is found again when asked for). Three strings an entry had
/// been half a MiB of a sentinel's heap once 2 000 events had passed.
#[derive(Debug)]
struct Stored {
    seq: u64,
    time_ms: u64,
    /// The kind, then the message.
    text: Box<str>,
    kind_len: usize,
}

impl Stored {
    fn entry(&self) -> Entry {
        let (kind, msg) = self.text.split_at(self.kind_len);
        Entry {
            seq: self.seq,
            time_ms: self.time_ms,
            kind: kind.to_string(),
            msg: msg.to_string(),
            master: master_of(kind, msg),
        }
    }
}

/// The event ring and the per-master state machines.
#[derive(Debug)]
pub struct Timeline {
    entries: VecDeque<Stored>,
    /// How many events the ring keeps (see [`Timeline::keep_events`]).
    keep: usize,
    next_seq: u64,
    tracks: BTreeMap<String, Track>,
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline {
            entries: VecDeque::new(),
            keep: KEEP_EVENTS,
            next_seq: 0,
            tracks: BTreeMap::new(),
        }
    }
}

impl Timeline {
    /// Records an event at `wall_ms` (for display) and `mono_ms` (for
    /// durations), returning what it means for the metrics.
    pub fn record(
        &mut self,
        wall_ms: u64,
        mono_ms: u64,
        kind: &str,
        msg: &str,
    ) -> Vec<Observation> {
        let master = master_of(kind, msg);
        self.next_seq += 1;
        if self.keep > 0 {
            if self.entries.len() >= self.keep {
                self.entries.pop_front();
            }
            self.entries.push_back(Stored {
                seq: self.next_seq,
                time_ms: wall_ms,
                text: [kind, msg].concat().into_boxed_str(),
                kind_len: kind.len(),
            });
        }
        let mut out = Vec::new();
        if kind == "+tilt" {
            out.push(Observation::TiltEntered);
        }
        let Some(name) = master else {
            return out;
        };
        // +sdown/-sdown/+odown of a replica or a peer are not the master's.
        let the_master_itself = msg.starts_with("master ");
        // Only an event that starts or advances an incident makes a track
        // (not `+monitor`, `+sentinel`, ... at start-up, one per master).
        let starts = matches!(
            kind,
            "+elected-leader" | "+promoted-slave" | "+failover-end-for-timeout"
        ) || (the_master_itself && matches!(kind, "+sdown" | "+odown"));
        let mut none = Track::default();
        let t = if starts {
            self.tracks.entry(name.clone()).or_default()
        } else {
            self.tracks.get_mut(&name).unwrap_or(&mut none)
        };
        let since = |start: Option<u64>, phase: Phase| {
            start.map(|s| Observation::PhaseDone {
                phase,
                seconds: mono_ms.saturating_sub(s) as f64 / 1000.0,
            })
        };
        match kind {
            "+sdown" if the_master_itself => t.sdown = Some(mono_ms),
            "-sdown" if the_master_itself && t.elected.is_none() => {
                self.tracks.remove(&name);
            }
            "+odown" if the_master_itself => {
                out.extend(since(t.sdown.take(), Phase::Detect));
                t.odown = Some(mono_ms);
            }
            "+elected-leader" => {
                out.push(Observation::Election { won: true });
                out.extend(since(t.odown.take(), Phase::Elect));
                t.elected = Some(mono_ms);
            }
            "-failover-abort-not-elected" => out.push(Observation::Election { won: false }),
            "+promoted-slave" => {
                out.extend(since(t.elected, Phase::Promote));
                t.promoted = Some(mono_ms);
            }
            "+failover-end-for-timeout" => t.timed_out = true,
            "+failover-end" => out.extend(since(t.promoted.take(), Phase::Reconfigure)),
            "+switch-master" => {
                let role = if t.elected.is_some() {
                    "leader"
                } else {
                    "observer"
                };
                let result = if t.timed_out { "timeout" } else { "success" };
                out.push(Observation::Failover {
                    role,
                    result: result.into(),
                });
                self.tracks.remove(&name);
            }
            k if k.starts_with("-failover-abort-") && k != "-failover-abort-not-elected" => {
                if t.elected.is_some() {
                    out.push(Observation::Failover {
                        role: "leader",
                        result: k.trim_start_matches("-failover-abort-").into(),
                    });
                }
                self.tracks.remove(&name);
            }
            _ => {}
        }
        out
    }

    /// Entries after sequence number `since`, oldest first.
    pub fn since(&self, since: u64) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.seq > since)
            .map(Stored::entry)
            .collect()
    }

    /// The newest sequence number handed out (0 before any event).
    pub fn last_seq(&self) -> u64 {
        self.next_seq
    }

    /// Keeps at most `n` events for the page (0: none; the metrics still
    /// count every event). Without the HTTP server nothing reads the ring,
    /// and at 1 000 masters the start-up's `+monitor` and `+sentinel`
    /// events alone fill it: a quarter of a megabyte kept for nobody.
    pub fn keep_events(&mut self, n: usize) {
        self.keep = n;
        while self.entries.len() > n {
            self.entries.pop_front();
        }
        self.entries.shrink_to_fit();
    }
}

/// The master an event's message names: `master NAME ...`, `... @ NAME ip
/// port` (replicas, sentinels), or the first word of `+switch-master`.
pub fn master_of(kind: &str, msg: &str) -> Option<String> {
    let mut words = msg.split(' ');
    if kind == "+switch-master" {
        return words.next().map(str::to_string);
    }
    if let Some(rest) = msg.split(" @ ").nth(1) {
        return rest.split(' ').next().map(str::to_string);
    }
    match (words.next(), words.next()) {
        (Some("master"), Some(name)) => Some(name.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "master mymaster 127.0.0.1 6379";

    fn run(t: &mut Timeline, steps: &[(u64, &str, &str)]) -> Vec<Observation> {
        steps
            .iter()
            .flat_map(|(at, kind, msg)| t.record(1_000_000 + at, *at, kind, msg))
            .collect()
    }

    fn phase(phase: Phase, seconds: f64) -> Observation {
        Observation::PhaseDone { phase, seconds }
    }

    #[test]
    fn a_leader_sees_every_phase_once_and_counts_one_failover() {
        let mut t = Timeline::default();
        let obs = run(
            &mut t,
            &[
                (1000, "+sdown", M),
                (1500, "+odown", &format!("{M} #quorum 2/2")),
                (1600, "+new-epoch", "1"),
                (1600, "+try-failover", M),
                (1700, "+vote-for-leader", "abc 1"),
                (2000, "+elected-leader", M),
                (
                    3000,
                    "+promoted-slave",
                    "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379",
                ),
                (4500, "+failover-end", M),
                (
                    4600,
                    "+switch-master",
                    "mymaster 127.0.0.1 6379 127.0.0.1 6380",
                ),
            ],
        );
        assert_eq!(
            obs,
            vec![
                phase(Phase::Detect, 0.5),
                Observation::Election { won: true },
                phase(Phase::Elect, 0.5),
                phase(Phase::Promote, 1.0),
                phase(Phase::Reconfigure, 1.5),
                Observation::Failover {
                    role: "leader",
                    result: "success".into()
                },
            ]
        );
        assert_eq!(t.since(0).len(), 9);
        assert_eq!(t.since(8).len(), 1);
        assert_eq!(t.since(0)[6].master.as_deref(), Some("mymaster"));
    }

    #[test]
    fn a_ring_kept_for_nobody_holds_nothing_but_the_metrics_still_count() {
        let mut t = Timeline::default();
        run(&mut t, &[(1000, "+monitor", M), (1001, "+monitor", M)]);
        t.keep_events(1);
        assert_eq!(t.since(0).len(), 1, "the newest one is kept");
        t.keep_events(0);
        let obs = run(
            &mut t,
            &[
                (2000, "+sdown", M),
                (2400, "+odown", &format!("{M} #quorum 2/2")),
            ],
        );
        assert_eq!(obs, vec![phase(Phase::Detect, 0.4)]);
        assert!(t.since(0).is_empty());
        assert_eq!(t.last_seq(), 4, "sequence numbers still advance");
    }

    #[test]
    fn an_observer_counts_the_switch_it_learned_from_a_peer() {
        let mut t = Timeline::default();
        let obs = run(
            &mut t,
            &[
                (0, "+sdown", M),
                (200, "+odown", M),
                (300, "+vote-for-leader", "abc 1"),
                (
                    900,
                    "+config-update-from",
                    "sentinel abc 127.0.0.1 26379 @ mymaster 127.0.0.1 6379",
                ),
                (
                    900,
                    "+switch-master",
                    "mymaster 127.0.0.1 6379 127.0.0.1 6380",
                ),
            ],
        );
        assert_eq!(
            obs,
            vec![
                phase(Phase::Detect, 0.2),
                Observation::Failover {
                    role: "observer",
                    result: "success".into()
                },
            ]
        );
    }

    #[test]
    fn a_lost_election_is_no_failover_and_an_abort_after_winning_is_one() {
        let mut t = Timeline::default();
        let lost = run(&mut t, &[(0, "-failover-abort-not-elected", M)]);
        assert_eq!(lost, vec![Observation::Election { won: false }]);
        let aborted = run(
            &mut t,
            &[
                (10, "+elected-leader", M),
                (20, "-failover-abort-no-good-slave", M),
            ],
        );
        assert_eq!(
            aborted[1],
            Observation::Failover {
                role: "leader",
                result: "no-good-slave".into()
            }
        );
    }

    #[test]
    fn a_replica_going_down_is_not_the_master_s_detection() {
        let mut t = Timeline::default();
        let replica = "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379";
        let obs = run(
            &mut t,
            &[
                (0, "+sdown", replica),
                (100, "+odown", M),
                (200, "+sdown", M),
                (700, "+odown", M),
            ],
        );
        assert_eq!(obs, vec![phase(Phase::Detect, 0.5)]);
    }

    #[test]
    fn the_ring_keeps_the_newest_events() {
        let mut t = Timeline::default();
        for i in 0..(KEEP_EVENTS as u64 + 5) {
            t.record(i, i, "+sdown", "slave x 1 2 @ m 1 2");
        }
        let all = t.since(0);
        assert_eq!(all.len(), KEEP_EVENTS);
        assert_eq!(all[0].seq, 6);
        assert_eq!(t.last_seq(), KEEP_EVENTS as u64 + 5);
    }

    #[test]
    fn events_outside_an_incident_leave_no_state_behind() {
        let mut t = Timeline::default();
        for m in 0..50 {
            let master = format!("master m{m} 127.0.0.1 {m}");
            t.record(0, 0, "+monitor", &format!("{master} quorum 2"));
            t.record(
                0,
                0,
                "+sentinel",
                &format!("sentinel x 1 2 @ m{m} 127.0.0.1 {m}"),
            );
            t.record(0, 0, "+sdown", &master);
            t.record(5, 5, "-sdown", &master);
        }
        assert!(t.tracks.is_empty(), "{:?}", t.tracks.keys().next());
        let e = &t.since(0)[1];
        assert_eq!(
            (e.kind.as_str(), e.master.as_deref()),
            ("+sentinel", Some("m0"))
        );
        assert_eq!(e.msg, "sentinel x 1 2 @ m0 127.0.0.1 0");
        // A switch learned with no incident on record is still an observed failover.
        let obs = t.record(9, 9, "+switch-master", "m1 127.0.0.1 1 127.0.0.1 2");
        assert_eq!(
            obs,
            vec![Observation::Failover {
                role: "observer",
                result: "success".into()
            }]
        );
    }

    #[test]
    fn masters_are_found_in_every_message_shape() {
        assert_eq!(master_of("+sdown", M).as_deref(), Some("mymaster"));
        assert_eq!(
            master_of("+switch-master", "m2 1.1.1.1 1 2.2.2.2 2").as_deref(),
            Some("m2")
        );
        assert_eq!(
            master_of("+sentinel", "sentinel id 127.0.0.1 5 @ m3 127.0.0.1 6").as_deref(),
            Some("m3")
        );
        assert_eq!(master_of("+new-epoch", "7"), None);
        assert_eq!(master_of("+tilt", "#tilt mode entered"), None);
    }
}
