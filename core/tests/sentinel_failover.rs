//! A whole failover through the Sentinel core, driven by hand: the master
//! stops answering, peers agree it is down and vote for us, the best
//! replica is promoted, the other one reconfigured, and the master address
//! switches — with the exact events Redis emits, in order.

use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{LinkId, Tag, Target};
use rsentinel_core::sentinel::{Action, Event, Sentinel};
use rsentinel_core::time::Millis;

const ME: &str = "0000000000000000000000000000000000000000";
const PEER_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PEER_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

struct World {
    s: Sentinel,
    log: Vec<Action>,
    /// The virtual time of the current step.
    now: u64,
    /// A master told `FAILOVER TO` hands over from this time on (it waits
    /// for the replica's acknowledgement on its own schedule).
    handover_at: u64,
    /// The master refuses this many `FAILOVER TO`s first (as Redis does
    /// while the target is not yet an online replica in its eyes).
    refuse_failovers: usize,
    /// What the refusals say.
    refusal: &'static str,
}

impl World {
    fn new(extra: &[&str]) -> World {
        let mut s = Sentinel::new(3, 26379);
        let mut lines = vec![
            format!("myid {ME}"),
            "monitor mymaster 127.0.0.1 6379 2".into(),
            "down-after-milliseconds mymaster 1000".into(),
            "known-replica mymaster 127.0.0.1 6380".into(),
            "known-replica mymaster 127.0.0.1 6381".into(),
            format!("known-sentinel mymaster 127.0.0.1 26380 {PEER_A}"),
            format!("known-sentinel mymaster 127.0.0.1 26381 {PEER_B}"),
        ];
        lines.extend(extra.iter().map(|l| l.to_string()));
        for l in &lines {
            let args: Vec<String> = l.split_whitespace().map(String::from).collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        World {
            s,
            log: Vec::new(),
            now: 0,
            handover_at: 0,
            refuse_failovers: 0,
            refusal: "ERR FAILOVER target replica is not online.",
        }
    }

    fn drain(&mut self) -> Vec<Action> {
        let out: Vec<Action> = std::iter::from_fn(|| self.s.poll_action()).collect();
        self.log.extend(out.iter().cloned());
        out
    }

    /// Connects every link the core asks for and answers PINGs with PONG
    /// except for targets in `dead`.
    fn step(&mut self, now: u64, dead: &[Target]) {
        self.now = now;
        let now = Millis(now);
        self.s.handle_timeout(now);
        for _ in 0..5 {
            let actions = self.drain();
            if actions.is_empty() {
                break;
            }
            for a in actions {
                match a {
                    Action::Connect { link, .. } if !dead.contains(&link.target) => {
                        self.s.link_connected(now, link, "127.0.0.1".into());
                    }
                    Action::Connect { link, .. } => self.s.link_closed(now, link),
                    Action::Send(o) if dead.contains(&o.link.target) => {}
                    Action::Send(o) => {
                        if let Some(r) = self.answer(&o.link.target, &o.tag, &o.args) {
                            self.s.handle_reply(now, &o.link, o.tag, r);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn answer(&self, target: &Target, tag: &Tag, args: &[Vec<u8>]) -> Option<Reply> {
        let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        match (tag, target) {
            // REPLCONF GETACK: a replica answers nothing.
            (Tag::NoReply, _) => None,
            (Tag::FailoverTo(_), _) if self.failover_sends() <= self.refuse_failovers => {
                Some(Reply::Array(vec![
                    Reply::ok(),
                    Reply::Error(self.refusal.into()),
                ]))
            }
            (Tag::Ping, _) => Some(Reply::Simple("PONG".into())),
            (Tag::Info, Target::Master(_)) => Some(Reply::bulk(
                "run_id:1234567890123456789012345678901234567890\r\nrole:master\r\n\
                 master_failover_state:no-failover\r\n\
                 slave0:ip=127.0.0.1,port=6380,state=online,offset=100,lag=0\r\n\
                 slave1:ip=127.0.0.1,port=6381,state=online,offset=50,lag=0\r\n",
            )),
            (Tag::Info, Target::Replica { key, .. }) => Some(Reply::bulk(self.replica_info(key))),
            (Tag::AskMasterState(..), Target::Sentinel(_)) => {
                let epoch = String::from_utf8_lossy(&args[4]).into_owned();
                let voter = String::from_utf8_lossy(&args[5]).into_owned();
                let leader = if voter == "*" { "*".to_string() } else { voter };
                Some(Reply::Array(vec![
                    Reply::Int(1),
                    Reply::bulk(&leader),
                    Reply::Int(if leader == "*" {
                        0
                    } else {
                        epoch.parse().unwrap()
                    }),
                ]))
            }
            _ if cmd == "PUBLISH" => Some(Reply::Int(1)),
            _ => Some(Reply::ok()),
        }
    }

    /// 6380 turns master once SLAVEOF NO ONE was sent; 6381 follows 6380
    /// once told to.
    fn replica_info(&self, key: &str) -> String {
        let slaveof = |k: &str| -> Option<String> {
            self.log.iter().rev().find_map(|a| match a {
                Action::Send(o)
                    if matches!(&o.link.target, Target::Replica { key, .. } if key == k)
                        && (o.args[0].eq_ignore_ascii_case(b"SLAVEOF")
                            || o.args[0] == b"my-slaveof") =>
                {
                    Some(
                        o.args[1..]
                            .iter()
                            .map(|x| String::from_utf8_lossy(x).into_owned())
                            .collect::<Vec<_>>()
                            .join(" "),
                    )
                }
                _ => None,
            })
        };
        let port = key.rsplit(':').next().unwrap();
        // `FAILOVER TO <host> <port>` sent to the master hands over to it
        // (unless refused).
        let handed_over = self.failover_sends() > self.refuse_failovers
            && self.log.iter().any(|a| {
                matches!(a, Action::Send(o) if o.link.target == master()
                    && o.args[0] == b"FAILOVER"
                    && o.args.get(3).map(|p| p.as_slice()) == Some(port.as_bytes()))
            });
        if handed_over && self.now >= self.handover_at && slaveof(key).is_none() {
            return format!(
                "run_id:{port}00000000000000000000000000000000000000\r\nrole:master\r\n"
            );
        }
        match slaveof(key).as_deref() {
            Some("NO ONE") => format!("run_id:{port}00000000000000000000000000000000000000\r\nrole:master\r\n"),
            Some(to) => {
                let mport = to.rsplit(' ').next().unwrap();
                format!("run_id:{port}00000000000000000000000000000000000000\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{mport}\r\nmaster_link_status:up\r\nslave_repl_offset:100\r\nslave_priority:100\r\n")
            }
            None => format!("run_id:{port}00000000000000000000000000000000000000\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:{}\r\nslave_priority:100\r\n", if port == "6380" { 100 } else { 50 }),
        }
    }

    /// How many `FAILOVER` commands went to the master so far.
    fn failover_sends(&self) -> usize {
        self.log
            .iter()
            .filter(|a| {
                matches!(a, Action::Send(o) if o.link.target == master() && o.args[0] == b"FAILOVER")
            })
            .count()
    }

    fn events(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|a| match a {
                Action::Event(Event { kind, msg, .. }) => Some(format!("{kind} {msg}")),
                _ => None,
            })
            .collect()
    }
}

fn master() -> Target {
    Target::Master("mymaster".into())
}

fn run_until_switch(w: &mut World) -> u64 {
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    // The master dies; its links drop.
    w.s.link_closed(Millis(3000), LinkId::cmd(master()));
    w.s.link_closed(Millis(3000), LinkId::pubsub(master()));
    let mut t = 3000;
    while t < 20_000 {
        w.step(t, &[master()]);
        if w.events().iter().any(|e| e.starts_with("+switch-master")) {
            return t;
        }
        t += 50;
    }
    panic!("no switch; events: {:#?}", w.events());
}

#[test]
fn killed_master_is_replaced_by_the_best_replica() {
    let mut w = World::new(&[]);
    let t = run_until_switch(&mut w);
    let ev = w.events();
    let expected_order = [
        "+sdown master mymaster 127.0.0.1 6379",
        "+odown master mymaster 127.0.0.1 6379 #quorum",
        "+new-epoch 1",
        "+try-failover master mymaster 127.0.0.1 6379",
        &format!("+vote-for-leader {ME} 1"),
        "+elected-leader master mymaster 127.0.0.1 6379",
        "+failover-state-select-slave master mymaster 127.0.0.1 6379",
        "+selected-slave slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379",
        "+failover-state-send-slaveof-noone slave 127.0.0.1:6380",
        "+failover-state-wait-promotion slave 127.0.0.1:6380",
        "+promoted-slave slave 127.0.0.1:6380",
        "+failover-state-reconf-slaves master mymaster",
        "+slave-reconf-sent slave 127.0.0.1:6381",
        "+slave-reconf-inprog slave 127.0.0.1:6381",
        "+slave-reconf-done slave 127.0.0.1:6381",
        "+failover-end master mymaster 127.0.0.1 6379",
        "+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380",
    ];
    let mut at = 0;
    for want in expected_order {
        match ev[at..].iter().position(|e| e.starts_with(want)) {
            Some(i) => at += i + 1,
            None => panic!("missing `{want}` after position {at} in {ev:#?}"),
        }
    }
    // Down-after is 1000 ms: the switch follows within a few ticks.
    assert!(t <= 3000 + 1000 + 500, "switched at {t}: {ev:#?}");
    let reply = w.s.command(
        Millis(t),
        &[b"get-master-addr-by-name".to_vec(), b"mymaster".to_vec()],
    );
    assert_eq!(
        reply.reply,
        Reply::Array(vec![Reply::bulk("127.0.0.1"), Reply::bulk("6380")])
    );
    // The config now remembers the old master as a replica, at epoch 1.
    let lines: Vec<String> =
        w.s.config_lines()
            .iter()
            .map(|l| String::from_utf8(l.joined()).unwrap())
            .collect();
    assert!(lines.contains(&"sentinel monitor mymaster 127.0.0.1 6380 2".to_string()));
    assert!(lines.contains(&"sentinel known-replica mymaster 127.0.0.1 6379".to_string()));
    assert!(lines.contains(&"sentinel config-epoch mymaster 1".to_string()));
}

#[test]
fn the_promotion_uses_the_exact_slaveof_transaction() {
    let mut w = World::new(&[]);
    run_until_switch(&mut w);
    let sent: Vec<String> = w
        .log
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) if matches!(&o.link.target, Target::Replica { key, .. } if key == "127.0.0.1:6380") => {
                Some(o.args.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect::<Vec<_>>().join(" "))
            }
            _ => None,
        })
        .collect();
    let start = sent.iter().position(|c| c == "MULTI").expect("MULTI sent");
    assert_eq!(
        &sent[start..start + 6],
        &[
            "MULTI",
            "SLAVEOF NO ONE",
            "CONFIG REWRITE",
            "CLIENT KILL TYPE normal",
            "CLIENT KILL TYPE pubsub",
            "EXEC"
        ]
    );
}

#[test]
fn renamed_commands_are_used_in_the_transaction() {
    let mut w = World::new(&[
        "rename-command mymaster SLAVEOF my-slaveof",
        "rename-command mymaster CONFIG my-config",
    ]);
    run_until_switch(&mut w);
    let sent: Vec<String> = w
        .log
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) => Some(String::from_utf8_lossy(&o.args[0]).into_owned()),
            _ => None,
        })
        .collect();
    assert!(sent.iter().any(|c| c == "my-slaveof"));
    assert!(sent.iter().any(|c| c == "my-config"));
    assert!(!sent.iter().any(|c| c == "SLAVEOF"));
}

#[test]
fn priority_zero_replica_is_never_promoted() {
    // Only 6381 may be promoted; make 6380 priority 0 through its INFO.
    let mut w = World::new(&[]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    w.s.handle_reply(
        Millis(3000),
        &LinkId::cmd(Target::Replica {
            master: "mymaster".into(),
            key: "127.0.0.1:6380".into(),
        }),
        Tag::Info,
        Reply::bulk("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_priority:0\r\nslave_repl_offset:100\r\n"),
    );
    let m = &w.s.masters()["mymaster"];
    assert_eq!(m.replicas()["127.0.0.1:6380"].slave_priority(), 0);
    let pick = rsentinel_core::sentinel::select_replica(m, w.s.timing(), Millis(3000));
    assert_eq!(pick.as_deref(), Some("127.0.0.1:6381"));
}

#[test]
fn no_votes_means_no_failover_and_an_abort_after_the_election_timeout() {
    let mut w = World::new(&["failover-timeout mymaster 3000"]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    w.s.link_closed(Millis(3000), LinkId::cmd(master()));
    w.s.link_closed(Millis(3000), LinkId::pubsub(master()));
    // The peers are unreachable: quorum 2 can't be reached without them.
    let dead = [
        master(),
        Target::Sentinel(PEER_A.into()),
        Target::Sentinel(PEER_B.into()),
    ];
    w.s.link_closed(Millis(3000), LinkId::cmd(dead[1].clone()));
    w.s.link_closed(Millis(3000), LinkId::cmd(dead[2].clone()));
    for t in (3000..12_000).step_by(50) {
        w.step(t, &dead);
    }
    let ev = w.events();
    assert!(ev.iter().any(|e| e.starts_with("+sdown master")));
    assert!(!ev.iter().any(|e| e.starts_with("+odown")), "{ev:#?}");
    assert!(!ev.iter().any(|e| e.starts_with("+switch-master")));
}

#[test]
fn forced_failover_needs_no_votes() {
    let mut w = World::new(&[]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    let out =
        w.s.command(Millis(3000), &[b"failover".to_vec(), b"mymaster".to_vec()]);
    assert_eq!(out.reply, Reply::ok());
    let again =
        w.s.command(Millis(3000), &[b"failover".to_vec(), b"mymaster".to_vec()]);
    assert_eq!(
        again.reply,
        Reply::Error("INPROG Failover already in progress".into())
    );
    for t in (3000..8000).step_by(50) {
        w.step(t, &[]);
        if w.events().iter().any(|e| e.starts_with("+switch-master")) {
            break;
        }
    }
    assert!(
        w.events()
            .iter()
            .any(|e| e == "+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380"),
        "{:#?}",
        w.events()
    );
}

fn old_master_reports_master(w: &mut World, now: u64) {
    let old = Target::Replica {
        master: "mymaster".into(),
        key: "127.0.0.1:6379".into(),
    };
    w.s.link_connected(Millis(now), LinkId::cmd(old.clone()), "127.0.0.1".into());
    w.s.handle_reply(
        Millis(now),
        &LinkId::cmd(old),
        Tag::Info,
        Reply::bulk("run_id:9999999999999999999999999999999999999999\r\nrole:master\r\n"),
    );
    w.drain();
}

/// Runs a failover until the switch, then steps the old master (now known
/// as a replica) for 500 ms; the time reached.
fn switch_and_watch_the_old_master(w: &mut World) -> u64 {
    let t = run_until_switch(w);
    let old = Target::Replica {
        master: "mymaster".into(),
        key: "127.0.0.1:6379".into(),
    };
    for tt in (t..t + 500).step_by(50) {
        w.step(tt, std::slice::from_ref(&old));
    }
    t + 500
}

fn converted(w: &World) -> bool {
    w.events()
        .iter()
        .any(|e| e.starts_with("+convert-to-slave slave 127.0.0.1:6379"))
}

#[test]
fn a_returning_old_master_is_demoted_at_once_when_a_majority_shares_our_config() {
    let mut w = World::new(&[]);
    // The new master's INFO makes it look sane; both peers' hellos carry
    // our config epoch.
    let now = switch_and_watch_the_old_master(&mut w);
    for (peer, port) in [(PEER_A, 26380), (PEER_B, 26381)] {
        w.s.process_hello(
            Millis(now),
            &format!("127.0.0.1,{port},{peer},1,mymaster,127.0.0.1,6380,1"),
        );
    }
    old_master_reports_master(&mut w, now);
    assert!(converted(&w), "{:#?}", w.events());
}

#[test]
fn without_confirmation_the_old_master_waits_like_redis() {
    let mut w = World::new(&[]);
    let now = switch_and_watch_the_old_master(&mut w);
    // No hellos from the peers: hold back for 8 s as Redis does.
    old_master_reports_master(&mut w, now);
    assert!(!converted(&w));
}

#[test]
fn a_replica_seen_replicating_that_turns_master_waits_even_when_hellos_agree() {
    // Seen in the simulator (partition seed 1975): right after a heal, a
    // failover we have not heard of yet promotes 6381; our peers' last
    // hellos, sent before that election, still carry our config. Demoting
    // 6381 at once would undo the failover (and a second one would have
    // to repair it): like Redis, wait for the new config.
    let mut w = World::new(&[]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    let now = 3000;
    for (peer, port) in [(PEER_A, 26380), (PEER_B, 26381)] {
        w.s.process_hello(
            Millis(now),
            &format!("127.0.0.1,{port},{peer},0,mymaster,127.0.0.1,6379,0"),
        );
    }
    let promoted = LinkId::cmd(Target::Replica {
        master: "mymaster".into(),
        key: "127.0.0.1:6381".into(),
    });
    w.s.handle_reply(
        Millis(now),
        &promoted,
        Tag::Info,
        Reply::bulk("run_id:6381000000000000000000000000000000000000\r\nrole:master\r\n"),
    );
    w.drain();
    let ev = w.events();
    assert!(
        ev.iter()
            .any(|e| e.starts_with("-role-change slave 127.0.0.1:6381")),
        "the role change was seen: {ev:#?}"
    );
    assert!(
        !ev.iter().any(|e| e.starts_with("+convert-to-slave")),
        "{ev:#?}"
    );
}

fn sent_to(w: &World, target: &Target) -> Vec<String> {
    w.log
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) if &o.link.target == target => {
                Some(String::from_utf8_lossy(&o.args.join(&b' ')).into_owned())
            }
            _ => None,
        })
        .collect()
}

fn failover_cmd(w: &mut World, now: u64, extra: &[&str]) -> Reply {
    let mut args = vec![b"failover".to_vec(), b"mymaster".to_vec()];
    args.extend(extra.iter().map(|a| a.as_bytes().to_vec()));
    w.s.command(Millis(now), &args).reply
}

#[test]
fn coordinated_failover_is_handed_over_by_the_running_master() {
    let mut w = World::new(&[]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    assert_eq!(failover_cmd(&mut w, 3000, &["coordinated"]), Reply::ok());
    let flags = match w
        .s
        .command(Millis(3000), &[b"master".to_vec(), b"mymaster".to_vec()])
        .reply
    {
        Reply::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.as_str() == Some("flags"))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    assert!(flags.contains("coordinated_failover"), "{flags}");
    let mut t = 3000;
    while t < 8000 && !w.events().iter().any(|e| e.starts_with("+switch-master")) {
        t += 50;
        w.step(t, &[]);
    }
    let ev = w.events();
    for want in [
        "+try-failover master mymaster",
        "+elected-leader master mymaster",
        "+selected-slave slave 127.0.0.1:6380",
        "+failover-state-wait-promotion slave 127.0.0.1:6380",
        "+promoted-slave slave 127.0.0.1:6380",
        "+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380",
    ] {
        assert!(
            ev.iter().any(|e| e.starts_with(want)),
            "no `{want}` in {ev:#?}"
        );
    }
    // Elected like an automatic failover (peers asked for votes), never forced.
    assert!(!flags.contains("force_failover"));
    let to_master = sent_to(&w, &master());
    let at = to_master
        .iter()
        .position(|c| c.starts_with("FAILOVER TO "))
        .expect("FAILOVER TO sent to the master");
    assert_eq!(to_master[at - 2], "MULTI");
    assert!(
        to_master[at - 1].starts_with("CLIENT PAUSE "),
        "{to_master:?}"
    );
    assert!(to_master[at - 1].ends_with(" WRITE"));
    assert!(to_master[at].starts_with("FAILOVER TO 127.0.0.1 6380 TIMEOUT "));
    assert_eq!(to_master[at + 1], "EXEC");
    // After the promotion the old master's clients are released; no hello
    // (a PUBLISH, blocked by the pause) went to it in between.
    let after = &to_master[at + 2..];
    let unpause = after
        .iter()
        .position(|c| c == "CLIENT UNPAUSE")
        .expect("unpause");
    assert!(
        after[..unpause].iter().all(|c| !c.starts_with("PUBLISH")),
        "{after:?}"
    );
    assert!(after[..unpause].contains(&"CLIENT KILL TYPE normal".to_string()));
    // Nobody was promoted behind the master's back.
    let promoted = Target::Replica {
        master: "mymaster".into(),
        key: "127.0.0.1:6380".into(),
    };
    assert!(!sent_to(&w, &promoted).contains(&"SLAVEOF NO ONE".to_string()));
}

#[test]
fn a_coordinated_handover_is_seen_within_a_poll_not_at_the_next_info_period() {
    // The master swaps roles only once the replica has acknowledged every
    // write (its REPLCONF ACK comes once a second, so up to a second under
    // load, and nothing tells the sentinel): the leader polls the target's
    // INFO every 100 ms meanwhile, not at the 1 s failover INFO period.
    let mut w = World::new(&[]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    w.handover_at = 3700;
    assert_eq!(failover_cmd(&mut w, 3000, &["coordinated"]), Reply::ok());
    let mut t = 3000;
    while t < 6000 && !w.events().iter().any(|e| e.starts_with("+promoted-slave")) {
        t += 10;
        w.step(t, &[]);
    }
    assert!(
        w.events()
            .iter()
            .any(|e| e.starts_with("+failover-state-wait-promotion")),
        "{:#?}",
        w.events()
    );
    // Promotion seen within one poll period and a timer tick or two.
    assert!(
        (w.handover_at..=w.handover_at + 200).contains(&t),
        "promotion seen at {t}, handover at {}",
        w.handover_at
    );
}

#[test]
fn coordinated_failover_refuses_clearly_instead_of_a_plain_one() {
    let mut w = World::new(&[]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    assert_eq!(
        failover_cmd(&mut w, 3000, &["sideways"]),
        Reply::Error("ERR Unknown failover option specified".into())
    );
    // A master whose INFO has no master_failover_state has no FAILOVER.
    w.s.handle_reply(
        Millis(3000),
        &LinkId::cmd(master()),
        Tag::Info,
        Reply::bulk("run_id:1234567890123456789012345678901234567890\r\nrole:master\r\n"),
    );
    assert_eq!(
        failover_cmd(&mut w, 3000, &["COORDINATED"]),
        Reply::Error("NOGOODPRIMARY Primary does not support FAILOVER command".into())
    );
    w.s.link_closed(Millis(3000), LinkId::cmd(master()));
    let refused = failover_cmd(&mut w, 3000, &["coordinated"]);
    assert!(
        matches!(&refused, Reply::Error(e) if e.starts_with("NOGOODPRIMARY Primary is not reachable")),
        "{refused:?}"
    );
    // Nothing started.
    assert!(!w.events().iter().any(|e| e.starts_with("+try-failover")));
}

#[test]
fn coordinated_failover_aborts_when_the_master_never_takes_the_command() {
    let mut w = World::new(&["failover-timeout mymaster 3000"]);
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    assert_eq!(failover_cmd(&mut w, 3000, &["coordinated"]), Reply::ok());
    // The master's command link is gone from now on (it answers nothing).
    w.s.link_closed(Millis(3000), LinkId::cmd(master()));
    let mut t = 3000;
    while t < 9000 {
        t += 50;
        w.step(t, &[master()]);
    }
    let ev = w.events();
    assert!(
        ev.iter()
            .any(|e| e.starts_with("-failover-abort-master-timeout")),
        "{ev:#?}"
    );
    assert!(!ev.iter().any(|e| e.starts_with("+switch-master")));
}

fn assert_has(events: &[String], want: &str) {
    assert!(
        events.iter().any(|e| e.starts_with(want)),
        "no `{want}` in {events:#?}"
    );
}

#[test]
fn a_refused_failover_to_unpauses_the_master_and_is_asked_again() {
    let mut w = World::new(&[]);
    w.refuse_failovers = 2;
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    assert_eq!(failover_cmd(&mut w, 3000, &["coordinated"]), Reply::ok());
    let mut t = 3000;
    while t < 8000 && !w.events().iter().any(|e| e.starts_with("+switch-master")) {
        t += 50;
        w.step(t, &[]);
    }
    assert_has(
        &w.events(),
        "+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380",
    );
    assert!(!w.events().iter().any(|e| e.starts_with("-failover-abort")));
    let to_master = sent_to(&w, &master());
    let asked: Vec<usize> = to_master
        .iter()
        .enumerate()
        .filter(|(_, c)| c.starts_with("FAILOVER TO "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(asked.len(), 3, "{to_master:?}");
    // Each refusal lifted the pause its transaction took before the next
    // attempt paused again: clients are not left paused while we wait.
    for pair in asked.windows(2) {
        let between = &to_master[pair[0]..pair[1]];
        let unpause = between.iter().position(|c| c == "CLIENT UNPAUSE");
        let pause = between.iter().rposition(|c| c.starts_with("CLIENT PAUSE "));
        assert!(
            matches!((unpause, pause), (Some(u), Some(p)) if u < p),
            "{between:?}"
        );
    }
}

#[test]
fn a_lasting_failover_to_refusal_unpauses_once_and_times_out() {
    let mut w = World::new(&["failover-timeout mymaster 3000"]);
    w.refuse_failovers = usize::MAX;
    w.refusal = "NOPERM this user has no permissions to run the 'failover' command";
    for t in (0..3000).step_by(50) {
        w.step(t, &[]);
    }
    assert_eq!(failover_cmd(&mut w, 3000, &["coordinated"]), Reply::ok());
    let mut t = 3000;
    while t < 9000 {
        t += 50;
        w.step(t, &[]);
    }
    assert_has(&w.events(), "-failover-abort-slave-timeout");
    let to_master = sent_to(&w, &master());
    let count = |p: &str| to_master.iter().filter(|c| c.starts_with(p)).count();
    // Asked once, released at once, not hammered until the timeout.
    assert_eq!(count("FAILOVER TO "), 1, "{to_master:?}");
    assert_eq!(count("CLIENT UNPAUSE"), 1, "{to_master:?}");
}
