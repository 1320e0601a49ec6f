//! The monitoring half of the Sentinel core, driven with explicit `now`
//! values: which commands go out when, and exactly when SDOWN, ODOWN and
//! TILT are declared.

use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{Channel, LinkId, Tag, Target};
use rsentinel_core::sentinel::{Action, Event, Sentinel};
use rsentinel_core::time::Millis;

const PEER: &str = "1111111111111111111111111111111111111111";

fn sentinel(lines: &[&str]) -> Sentinel {
    let mut s = Sentinel::new(7, 26379);
    for l in lines {
        let args: Vec<String> = l.split_whitespace().map(String::from).collect();
        s.apply_directive(Millis(0), &args).unwrap();
    }
    s.ensure_myid();
    drain(&mut s);
    s
}

fn basic() -> Sentinel {
    sentinel(&[
        "monitor mymaster 127.0.0.1 6379 2",
        "down-after-milliseconds mymaster 1000",
    ])
}

fn drain(s: &mut Sentinel) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

fn events(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(Event { kind, msg, .. }) => Some(format!("{kind} {msg}")),
            _ => None,
        })
        .collect()
}

fn sent(actions: &[Action]) -> Vec<(LinkId, Tag, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) => Some((
                o.link.clone(),
                o.tag.clone(),
                o.args
                    .iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
            _ => None,
        })
        .collect()
}

fn master() -> Target {
    Target::Master("mymaster".into())
}

/// The links `actions` ask to open.
fn connects(actions: &[Action]) -> Vec<LinkId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { link, .. } => Some(link.clone()),
            _ => None,
        })
        .collect()
}

/// Connects both links of the master at `now`, answering nothing yet.
fn connect_master(s: &mut Sentinel, now: Millis) -> Vec<Action> {
    s.handle_timeout(now);
    let mut out = drain(s);
    for link in connects(&out) {
        s.link_connected(now, link, "127.0.0.1".into());
    }
    out.extend(drain(s));
    out
}

#[test]
fn first_tick_connects_command_and_pubsub_links() {
    let mut s = basic();
    s.handle_timeout(Millis(0));
    let links: Vec<LinkId> = drain(&mut s)
        .into_iter()
        .filter_map(|a| match a {
            Action::Connect { link, .. } => Some(link),
            _ => None,
        })
        .collect();
    assert_eq!(links, vec![LinkId::cmd(master()), LinkId::pubsub(master())]);
}

#[test]
fn connected_links_are_named_pinged_and_subscribed() {
    let mut s = basic();
    let out = sent(&connect_master(&mut s, Millis(0)));
    let cmds: Vec<&str> = out.iter().map(|(_, _, c)| c.as_str()).collect();
    let id8 = &s.myid()[..8];
    assert!(cmds.contains(&format!("CLIENT SETNAME sentinel-{id8}-cmd").as_str()));
    assert!(cmds.contains(&format!("CLIENT SETNAME sentinel-{id8}-pubsub").as_str()));
    assert!(cmds.contains(&"PING"));
    assert!(cmds.contains(&"SUBSCRIBE __sentinel__:hello"));
}

#[test]
fn info_and_hello_are_sent_once_connected() {
    let mut s = basic();
    let connected = sent(&connect_master(&mut s, Millis(0)));
    let infos = |out: &[(LinkId, Tag, String)]| {
        out.iter()
            .filter(|(_, t, c)| *t == Tag::Info && c == "INFO")
            .count()
    };
    assert_eq!(infos(&connected), 1, "{connected:?}");
    s.handle_timeout(Millis(100));
    let out = sent(&drain(&mut s));
    // The INFO asked on connecting is still unanswered: not asked again.
    assert_eq!(infos(&out), 0, "{out:?}");
    let hello = out
        .iter()
        .find(|(_, t, _)| matches!(t, Tag::Hello(_)))
        .expect("a hello");
    let expected = format!(
        "PUBLISH __sentinel__:hello 127.0.0.1,26379,{},0,mymaster,127.0.0.1,6379,0",
        s.myid()
    );
    assert_eq!(hello.2, expected);
}

#[test]
fn sdown_exactly_after_down_after_milliseconds() {
    let mut s = basic();
    connect_master(&mut s, Millis(0));
    s.handle_timeout(Millis(1000));
    assert!(events(&drain(&mut s))
        .iter()
        .all(|e| !e.starts_with("+sdown")));
    s.handle_timeout(Millis(1001));
    assert_eq!(
        events(&drain(&mut s)),
        vec!["+sdown master mymaster 127.0.0.1 6379"]
    );
}

fn answer_ping(s: &mut Sentinel, now: Millis, reply: Reply) {
    s.handle_reply(now, &LinkId::cmd(master()), Tag::Ping, reply);
}

#[test]
fn pong_keeps_the_master_up_and_clears_sdown() {
    let mut s = basic();
    connect_master(&mut s, Millis(0));
    s.handle_timeout(Millis(1500));
    assert!(events(&drain(&mut s)).contains(&"+sdown master mymaster 127.0.0.1 6379".to_string()));
    answer_ping(&mut s, Millis(1600), Reply::Simple("PONG".into()));
    s.handle_timeout(Millis(1700));
    assert!(events(&drain(&mut s)).contains(&"-sdown master mymaster 127.0.0.1 6379".to_string()));
}

#[test]
fn loading_counts_as_healthy_but_busy_and_noauth_do_not() {
    for (reply, healthy) in [
        (
            Reply::Error("LOADING Redis is loading the dataset in memory".into()),
            true,
        ),
        (
            Reply::Error("MASTERDOWN Link with MASTER is down".into()),
            true,
        ),
        (
            Reply::Error("BUSY Redis is busy running a script.".into()),
            false,
        ),
        (
            Reply::Error("NOAUTH Authentication required.".into()),
            false,
        ),
    ] {
        let mut s = basic();
        connect_master(&mut s, Millis(0));
        answer_ping(&mut s, Millis(900), reply.clone());
        s.handle_timeout(Millis(1200));
        let ev = events(&drain(&mut s));
        let down = ev.iter().any(|e| e.starts_with("+sdown"));
        assert_eq!(down, !healthy, "{reply:?} → {ev:?}");
    }
}

fn hello_from_peer(s: &mut Sentinel, now: Millis) {
    s.process_hello(
        now,
        &format!("127.0.0.1,26380,{PEER},0,mymaster,127.0.0.1,6379,0"),
    );
}

#[test]
fn hello_introduces_a_sentinel_and_persists_it() {
    let mut s = basic();
    hello_from_peer(&mut s, Millis(10));
    let out = drain(&mut s);
    assert!(events(&out).contains(&format!(
        "+sentinel sentinel {PEER} 127.0.0.1 26380 @ mymaster 127.0.0.1 6379"
    )));
    assert!(out.iter().any(|a| matches!(a, Action::Persist(_))));
    assert!(s.config_lines().iter().any(|l| l.joined()
        == format!("sentinel known-sentinel mymaster 127.0.0.1 26380 {PEER}").as_bytes()));
    // The same hello again changes nothing.
    hello_from_peer(&mut s, Millis(20));
    assert!(events(&drain(&mut s)).is_empty());
}

/// A sentinel with one connected peer whose master went SDOWN at 1 001 ms,
/// and the question it then sent that peer.
fn sdown_and_peer_asked() -> (Sentinel, (LinkId, Tag, String)) {
    let mut s = basic();
    hello_from_peer(&mut s, Millis(0));
    connect_master(&mut s, Millis(0));
    s.link_connected(
        Millis(0),
        LinkId::cmd(Target::Sentinel(PEER.into())),
        "127.0.0.1".into(),
    );
    drain(&mut s);
    s.handle_timeout(Millis(1001));
    let out = drain(&mut s);
    let ask = sent(&out)
        .into_iter()
        .find(|(_, t, _)| matches!(t, Tag::AskMasterState(..)))
        .expect("peer asked as soon as SDOWN begins");
    (s, ask)
}

#[test]
fn odown_when_a_fresh_reply_reaches_the_quorum() {
    let (mut s, ask) = sdown_and_peer_asked();
    assert_eq!(ask.2, "SENTINEL is-master-down-by-addr 127.0.0.1 6379 0 *");
    s.handle_reply(
        Millis(1010),
        &ask.0,
        ask.1,
        Reply::Array(vec![Reply::Int(1), Reply::bulk("*"), Reply::Int(0)]),
    );
    s.handle_timeout(Millis(1020));
    assert!(events(&drain(&mut s))
        .contains(&"+odown master mymaster 127.0.0.1 6379 #quorum 2/2".to_string()));
    // Replies older than 5 ask periods stop counting.
    for t in (1100..=6300).step_by(100) {
        s.handle_timeout(Millis(t));
    }
    assert!(events(&drain(&mut s)).contains(&"-odown master mymaster 127.0.0.1 6379".to_string()));
}

/// A peer asks only about a master it sees down: its question (run id
/// `*`, from its link named `sentinel-<id8>-cmd`) is its "down" answer, so
/// the quorum completes the moment the peer sees the failure, not when we
/// next ask it (our own question, sent before the peer saw it, was
/// answered "not down").
#[test]
fn a_peers_question_about_a_master_completes_the_quorum_at_once() {
    let (mut s, ask) = sdown_and_peer_asked();
    s.handle_reply(
        Millis(1002),
        &ask.0,
        ask.1,
        Reply::Array(vec![Reply::Int(0), Reply::bulk("*"), Reply::Int(0)]),
    );
    assert!(!events(&drain(&mut s))
        .iter()
        .any(|e| e.starts_with("+odown")));
    // A prefix matching no peer, or too short to tell peers apart, and a
    // question about an address we do not monitor change nothing.
    s.handle_peer_question(Millis(1010), "ffffffff", "127.0.0.1", 6379);
    s.handle_peer_question(Millis(1010), &PEER[..4], "127.0.0.1", 6379);
    s.handle_peer_question(Millis(1010), &PEER[..8], "127.0.0.1", 6380);
    assert!(!events(&drain(&mut s))
        .iter()
        .any(|e| e.starts_with("+odown")));
    s.handle_peer_question(
        Millis(1011),
        &PEER[..8].to_ascii_uppercase(),
        "127.0.0.1",
        6379,
    );
    assert!(events(&drain(&mut s))
        .contains(&"+odown master mymaster 127.0.0.1 6379 #quorum 2/2".to_string()));
}

#[test]
fn master_info_reveals_replicas() {
    let mut s = basic();
    connect_master(&mut s, Millis(0));
    s.handle_reply(
        Millis(50),
        &LinkId::cmd(master()),
        Tag::Info,
        Reply::bulk("role:master\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=1,lag=0\r\n"),
    );
    let out = drain(&mut s);
    assert!(events(&out).contains(
        &"+slave slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379".to_string()
    ));
    assert!(out.iter().any(|a| matches!(a, Action::Persist(_))));
    // The replica is then connected like any instance, at once rather
    // than at the next tick.
    assert!(out.iter().any(|a| matches!(a, Action::Connect { link, .. }
        if link.channel == Channel::Cmd && matches!(&link.target, Target::Replica { key, .. } if key == "127.0.0.1:6380"))));
}

#[test]
fn a_long_gap_between_ticks_enters_tilt_and_it_ends_after_the_period() {
    let mut s = basic();
    s.handle_timeout(Millis(0));
    s.handle_timeout(Millis(2500));
    assert!(events(&drain(&mut s)).contains(&"+tilt #tilt mode entered".to_string()));
    assert!(s.in_tilt());
    let mut t = 2600;
    while t <= 32_600 {
        s.handle_timeout(Millis(t));
        t += 100;
    }
    assert!(events(&drain(&mut s)).contains(&"-tilt #tilt mode exited".to_string()));
}

#[test]
fn no_sdown_is_declared_during_tilt() {
    let mut s = basic();
    connect_master(&mut s, Millis(0));
    s.handle_timeout(Millis(2500));
    let ev = events(&drain(&mut s));
    assert!(ev.contains(&"+tilt #tilt mode entered".to_string()));
    assert!(!ev.iter().any(|e| e.starts_with("+sdown")));
}

#[test]
fn poll_timeout_names_the_moment_sdown_becomes_due() {
    let mut s = basic();
    // Before any tick, one is due at once.
    assert_eq!(s.poll_timeout(Millis(0)), Millis(0));
    connect_master(&mut s, Millis(0));
    // A tick is due one timer period after the last one.
    assert_eq!(s.poll_timeout(Millis(10)), Millis(50));
    // The PING sent at connect is unanswered: SDOWN is due just after
    // down-after-milliseconds, sooner than the next period would be.
    s.handle_timeout(Millis(990));
    assert_eq!(s.poll_timeout(Millis(990)), Millis(1001));
    s.handle_reply(
        Millis(995),
        &LinkId::cmd(master()),
        Tag::Ping,
        Reply::Simple("PONG".into()),
    );
    assert_eq!(s.poll_timeout(Millis(995)), Millis(1040));
}

#[test]
fn an_answer_about_a_master_switched_since_never_counts() {
    let mut s = basic();
    hello_from_peer(&mut s, Millis(0));
    connect_master(&mut s, Millis(0));
    let peer_link = LinkId::cmd(Target::Sentinel(PEER.into()));
    s.link_connected(Millis(0), peer_link, "127.0.0.1".into());
    drain(&mut s);
    s.handle_timeout(Millis(1001));
    let ask = sent(&drain(&mut s))
        .into_iter()
        .find(|(_, t, _)| matches!(t, Tag::AskMasterState(..)))
        .expect("peer asked");
    // Before the answer arrives, the peer announces that 6380 replaced the
    // master (config epoch 1): the question was about 6379.
    s.process_hello(
        Millis(1005),
        &format!("127.0.0.1,26380,{PEER},1,mymaster,127.0.0.1,6380,1"),
    );
    assert!(events(&drain(&mut s))
        .iter()
        .any(|e| e.starts_with("+switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380")));
    // The late "down" (and vote) about 6379 arrives.
    s.handle_reply(
        Millis(1010),
        &ask.0,
        ask.1,
        Reply::Array(vec![Reply::Int(1), Reply::bulk(PEER), Reply::Int(1)]),
    );
    let peer = |s: &mut Sentinel| {
        let r = s.command(Millis(1010), &[b"sentinels".to_vec(), b"mymaster".to_vec()]);
        let Reply::Array(peers) = r.reply else {
            panic!("{:?}", r.reply)
        };
        let Some(Reply::Map(fields)) = peers.first() else {
            panic!("{peers:?}")
        };
        fields
            .iter()
            .find(|(k, _)| k.as_str() == Some("flags"))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let state = peer(&mut s);
    assert!(!state.contains("master_down"), "{state}");
    // The new master goes down for us alone: one vote, quorum 2 — no ODOWN
    // may come from the stale answer.
    connect_master(&mut s, Millis(1010));
    for t in (1100..=3500).step_by(100) {
        s.handle_timeout(Millis(t));
    }
    let ev = events(&drain(&mut s));
    assert!(
        ev.iter()
            .any(|e| e.starts_with("+sdown master mymaster 127.0.0.1 6380")),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| e.starts_with("+odown")), "{ev:?}");
}

/// Runs `basic()` for `until` ms, ticking every 10 ms; every command on
/// the master's command link is answered `delay` ms after it was sent, in
/// order, as long as it was sent before `hang_at` (links are accepted at
/// once, also while hung). Returns (time of the first +sdown, PINGs sent
/// before `hang_at`).
fn ping_answered_after(delay: u64, hang_at: u64, until: u64) -> (Option<u64>, usize) {
    type Pending = std::collections::VecDeque<(u64, Tag)>;
    let mut s = basic();
    let mut pending = Pending::new();
    let mut pings = 0;
    let mut sdown = None;
    let mut note = |now: u64, actions: Vec<Action>, pending: &mut Pending| {
        for (link, tag, _) in sent(&actions) {
            if link == LinkId::cmd(master()) {
                if tag == Tag::Ping && now < hang_at {
                    pings += 1;
                }
                pending.push_back((now, tag));
            }
        }
        let closed = LinkId::cmd(master());
        if actions
            .iter()
            .any(|a| matches!(a, Action::Close(l) if *l == closed))
        {
            // What was sent on the closed link is never answered.
            pending.clear();
        }
        if sdown.is_none() && events(&actions).iter().any(|e| e.starts_with("+sdown")) {
            sdown = Some(now);
        }
    };
    let first = connect_master(&mut s, Millis(0));
    note(0, first, &mut pending);
    let mut now = 0;
    while now < until {
        now += 10;
        while pending
            .front()
            .is_some_and(|(t, _)| *t < hang_at && t + delay <= now)
        {
            let Some((sent_at, tag)) = pending.pop_front() else {
                break;
            };
            let reply = match tag {
                Tag::Ping => Reply::Simple("PONG".into()),
                Tag::Info => Reply::bulk("# Replication\r\nrole:master\r\n"),
                _ => Reply::Int(1),
            };
            s.handle_reply(Millis(sent_at + delay), &LinkId::cmd(master()), tag, reply);
        }
        s.handle_timeout(Millis(now));
        let mut actions = drain(&mut s);
        for link in connects(&actions) {
            s.link_connected(Millis(now), link, "127.0.0.1".into());
            actions.extend(drain(&mut s));
        }
        note(now, actions, &mut pending);
    }
    (sdown, pings)
}

#[test]
fn a_master_answering_slowly_but_within_down_after_is_never_sdown() {
    // D = 1000: every command answered 450 ms late, for 40 s. (Slower
    // than D / 2 and the command link is recycled as quiet, as in Redis.)
    let (sdown, _) = ping_answered_after(450, u64::MAX, 40_000);
    assert_eq!(sdown, None);
}

#[test]
fn a_hung_master_is_sdown_soon_after_down_after_from_its_last_reply() {
    // Healthy (answers in 1 ms) until 5 s, then hung. SDOWN comes at most
    // one PING gap (D / 10) plus a tick after D from the moment it stopped.
    let hang_at = 5_000;
    let (sdown, pings) = ping_answered_after(1, hang_at, 10_000);
    let at = sdown.expect("a hung master goes SDOWN");
    assert!(at > hang_at + 1000, "SDOWN at {at}: before D had passed");
    assert!(at <= hang_at + 1000 + 100 + 10, "SDOWN at {at}: late");
    // The price: at most 10 PINGs a second at D = 1000 (Redis sends 1).
    assert!(pings <= 10 * 5 + 1, "{pings} PINGs in 5 s");
}

/// The hellos this sentinel published on the master's command link.
fn hellos_to_master(actions: &[Action]) -> usize {
    sent(actions)
        .iter()
        .filter(|(link, tag, args)| {
            *link == LinkId::cmd(master())
                && matches!(tag, Tag::Hello(_))
                && args.starts_with("PUBLISH __sentinel__:hello")
        })
        .count()
}

/// Connected to the master, its periodic hellos already sent.
fn connected_after_first_hellos() -> Sentinel {
    let mut s = basic();
    connect_master(&mut s, Millis(0));
    s.handle_timeout(Millis(60));
    drain(&mut s);
    s
}

#[test]
fn a_confirmed_subscription_announces_us_at_once() {
    let mut s = connected_after_first_hellos();
    let confirm = Reply::Array(vec![
        Reply::Bulk(b"subscribe".to_vec()),
        Reply::Bulk(b"__sentinel__:hello".to_vec()),
        Reply::Int(1),
    ]);
    s.handle_reply(Millis(70), &LinkId::pubsub(master()), Tag::Ignore, confirm);
    assert_eq!(hellos_to_master(&drain(&mut s)), 1);
}

#[test]
fn a_new_peer_is_answered_with_our_hello_at_once_a_known_one_is_not() {
    let mut s = connected_after_first_hellos();
    hello_from_peer(&mut s, Millis(70));
    assert_eq!(hellos_to_master(&drain(&mut s)), 1, "new peer");
    hello_from_peer(&mut s, Millis(80));
    assert_eq!(hellos_to_master(&drain(&mut s)), 0, "known peer");
}
