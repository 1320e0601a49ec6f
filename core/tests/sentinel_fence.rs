//! Write fencing in the core: which `CONFIG GET`/`CONFIG SET` commands an
//! INFO reply leads to, through rename-command, and what is logged.

use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::fence::fence_update;
use rsentinel_core::sentinel::links::{LinkId, Outgoing, Tag, Target};
use rsentinel_core::sentinel::{Action, Event, FencePolicy, Sentinel};
use rsentinel_core::time::Millis;

const POLICY: FencePolicy = FencePolicy {
    min_replicas: 1,
    max_lag: 2,
};

fn fenced(extra: &[&str]) -> Sentinel {
    let mut s = Sentinel::new(7, 26379);
    let lines = ["monitor mymaster 127.0.0.1 6379 2"].iter().chain(extra);
    for l in lines {
        let args: Vec<String> = l.split_whitespace().map(String::from).collect();
        s.apply_directive(Millis(0), &args).unwrap();
    }
    s.ensure_myid();
    s.set_write_fence(Some(POLICY));
    let link = master_link();
    s.link_connected(Millis(10), link, "127.0.0.1".into());
    std::iter::from_fn(|| s.poll_action()).for_each(drop);
    s
}

fn master_link() -> LinkId {
    LinkId::cmd(Target::Master("mymaster".into()))
}

fn info(s: &mut Sentinel, now: u64) -> Vec<Action> {
    let text = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
    s.handle_reply(Millis(now), &master_link(), Tag::Info, Reply::bulk(text));
    std::iter::from_fn(|| s.poll_action()).collect()
}

/// `(tag, command line)` of every Send with a fencing tag.
fn fence_sends(actions: &[Action]) -> Vec<(Tag, String)> {
    let fencing = |o: &Outgoing| matches!(o.tag, Tag::FenceGet | Tag::FenceSet);
    let line = |o: &Outgoing| String::from_utf8_lossy(&o.args.join(&b' ')).into_owned();
    let sends = actions.iter().filter_map(|a| match a {
        Action::Send(o) => Some(o),
        _ => None,
    });
    sends
        .filter(|o| fencing(o))
        .map(|o| (o.tag.clone(), line(o)))
        .collect()
}

fn config_get_reply(to_write: &str, lag: &str) -> Reply {
    Reply::Array(vec![
        Reply::bulk("min-replicas-to-write"),
        Reply::bulk(to_write),
        Reply::bulk("min-replicas-max-lag"),
        Reply::bulk(lag),
    ])
}

fn answer(s: &mut Sentinel, tag: Tag, reply: Reply) -> Vec<Action> {
    s.handle_reply(Millis(100), &master_link(), tag, reply);
    std::iter::from_fn(|| s.poll_action()).collect()
}

#[test]
fn info_leads_to_config_get_then_set_of_what_differs() {
    let mut s = fenced(&[]);
    let sent = fence_sends(&info(&mut s, 50));
    assert_eq!(
        sent,
        vec![(Tag::FenceGet, "CONFIG GET min-replicas-*".to_string())]
    );
    let actions = answer(&mut s, Tag::FenceGet, config_get_reply("0", "10"));
    assert_eq!(
        fence_sends(&actions),
        vec![
            (
                Tag::FenceSet,
                "CONFIG SET min-replicas-to-write 1".to_string()
            ),
            (
                Tag::FenceSet,
                "CONFIG SET min-replicas-max-lag 2".to_string()
            ),
        ]
    );
    let event = actions.iter().find_map(|a| match a {
        Action::Event(Event { kind, msg, .. }) if kind == "+fence-writes" => Some(msg.clone()),
        _ => None,
    });
    assert_eq!(
        event.as_deref(),
        Some(
            "master mymaster 127.0.0.1 6379 min-replicas-to-write 1 (was 0) \
             min-replicas-max-lag 2 (was 10)"
        )
    );
}

#[test]
fn settings_already_in_place_change_nothing_and_checks_are_throttled() {
    let mut s = fenced(&[]);
    info(&mut s, 50);
    let actions = answer(&mut s, Tag::FenceGet, config_get_reply("1", "2"));
    assert!(fence_sends(&actions).is_empty());
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::Event(e) if e.kind == "+fence-writes")));
    // Within the check period: no new CONFIG GET; after it: one.
    assert!(fence_sends(&info(&mut s, 900)).is_empty());
    assert_eq!(fence_sends(&info(&mut s, 1100)).len(), 1);
}

#[test]
fn only_the_wrong_setting_is_changed() {
    let mut s = fenced(&[]);
    info(&mut s, 50);
    let actions = answer(&mut s, Tag::FenceGet, config_get_reply("1", "10"));
    assert_eq!(
        fence_sends(&actions),
        vec![(
            Tag::FenceSet,
            "CONFIG SET min-replicas-max-lag 2".to_string()
        )]
    );
}

#[test]
fn commands_go_through_rename_command() {
    let mut s = fenced(&["rename-command mymaster CONFIG GUESSME"]);
    let sent = fence_sends(&info(&mut s, 50));
    assert_eq!(sent[0].1, "GUESSME GET min-replicas-*");
    let actions = answer(&mut s, Tag::FenceGet, config_get_reply("0", "10"));
    assert!(fence_sends(&actions)
        .iter()
        .all(|(_, c)| c.starts_with("GUESSME SET ")));
}

#[test]
fn failures_are_logged_once_until_it_works() {
    let mut s = fenced(&[]);
    info(&mut s, 50);
    let err = Reply::Error("ERR unknown command 'CONFIG'".into());
    let logs = |actions: &[Action]| {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Log { .. }))
            .count()
    };
    assert_eq!(logs(&answer(&mut s, Tag::FenceGet, err.clone())), 1);
    info(&mut s, 1200);
    assert_eq!(logs(&answer(&mut s, Tag::FenceGet, err.clone())), 0);
    info(&mut s, 2400);
    answer(&mut s, Tag::FenceGet, config_get_reply("0", "10"));
    assert_eq!(logs(&answer(&mut s, Tag::FenceSet, Reply::ok())), 0);
    assert_eq!(logs(&answer(&mut s, Tag::FenceSet, err)), 1);
}

#[test]
fn without_a_policy_nothing_is_asked() {
    let mut s = fenced(&[]);
    s.set_write_fence(None);
    assert!(fence_sends(&info(&mut s, 50)).is_empty());
}

#[test]
fn decision_reads_resp3_maps_and_rejects_other_replies() {
    let map = Reply::Map(vec![
        (Reply::bulk("min-replicas-max-lag"), Reply::bulk("2")),
        (Reply::bulk("min-replicas-to-write"), Reply::bulk("1")),
    ]);
    assert_eq!(fence_update(POLICY, &map), Some(vec![]));
    assert_eq!(fence_update(POLICY, &Reply::ok()), None);
    let missing = Reply::Array(vec![]);
    assert_eq!(fence_update(POLICY, &missing).map(|c| c.len()), Some(2));
}
