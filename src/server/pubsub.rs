//! One connection's channel and pattern subscriptions: the exact
//! (P)SUBSCRIBE / (P)UNSUBSCRIBE confirmations Redis sends, and which
//! `message` / `pmessage` frames a published event becomes.

use std::collections::BTreeSet;

use rsentinel_core::glob::glob_match;
use rsentinel_core::reply::Reply;

use crate::driver::handle::PubMessage;

#[derive(Debug, Default, Clone)]
pub struct Subscriptions {
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
}

/// `[kind, name-or-null, count]` as a push frame (a plain array in RESP2).
fn confirmation(kind: &str, name: Option<&[u8]>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(kind),
        name.map_or(Reply::Null, Reply::bulk),
        Reply::Int(count as i64),
    ])
}

impl Subscriptions {
    /// Channels plus patterns: the count every confirmation carries.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    pub fn patterns(&self) -> usize {
        self.patterns.len()
    }

    /// One confirmation per argument, even for a channel already subscribed.
    pub fn subscribe(&mut self, names: &[Vec<u8>]) -> Vec<Reply> {
        names
            .iter()
            .map(|n| {
                self.channels.insert(n.clone());
                confirmation("subscribe", Some(n), self.count())
            })
            .collect()
    }

    pub fn psubscribe(&mut self, names: &[Vec<u8>]) -> Vec<Reply> {
        names
            .iter()
            .map(|n| {
                self.patterns.insert(n.clone());
                confirmation("psubscribe", Some(n), self.count())
            })
            .collect()
    }

    /// Without arguments: every channel, or one `[unsubscribe, nil, 0]`
    /// when there is none.
    pub fn unsubscribe(&mut self, names: &[Vec<u8>]) -> Vec<Reply> {
        Self::drop_some(names, |s| &mut s.channels, self, "unsubscribe")
    }

    pub fn punsubscribe(&mut self, names: &[Vec<u8>]) -> Vec<Reply> {
        Self::drop_some(names, |s| &mut s.patterns, self, "punsubscribe")
    }

    fn drop_some(
        names: &[Vec<u8>],
        set: fn(&mut Subscriptions) -> &mut BTreeSet<Vec<u8>>,
        subs: &mut Subscriptions,
        kind: &str,
    ) -> Vec<Reply> {
        let names: Vec<Vec<u8>> = if names.is_empty() {
            set(subs).iter().cloned().collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            return vec![confirmation(kind, None, subs.count())];
        }
        names
            .iter()
            .map(|n| {
                set(subs).remove(n);
                confirmation(kind, Some(n), subs.count())
            })
            .collect()
    }

    /// The frames `msg` becomes for this client: a `message` if subscribed
    /// to its channel, then one `pmessage` per matching pattern.
    pub fn deliver(&self, msg: &PubMessage) -> Vec<Reply> {
        let channel = msg.channel.as_bytes();
        let mut out = Vec::new();
        if self.channels.contains(channel) {
            out.push(Reply::Push(vec![
                Reply::bulk("message"),
                Reply::bulk(channel),
                Reply::bulk(&msg.message),
            ]));
        }
        for p in &self.patterns {
            if glob_match(p, channel, false) {
                out.push(Reply::Push(vec![
                    Reply::bulk("pmessage"),
                    Reply::bulk(p),
                    Reply::bulk(channel),
                    Reply::bulk(&msg.message),
                ]));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn counts(replies: &[Reply]) -> Vec<i64> {
        replies
            .iter()
            .map(|r| match r {
                Reply::Push(items) => match items[2] {
                    Reply::Int(n) => n,
                    _ => panic!(),
                },
                _ => panic!(),
            })
            .collect()
    }

    #[test]
    fn counts_cover_channels_and_patterns_together() {
        let mut s = Subscriptions::default();
        assert_eq!(counts(&s.psubscribe(&v(&["a*", "b"]))), vec![1, 2]);
        assert_eq!(counts(&s.psubscribe(&v(&["a*"]))), vec![2]);
        assert_eq!(counts(&s.punsubscribe(&v(&["b", "c"]))), vec![1, 1]);
        assert_eq!(counts(&s.subscribe(&v(&["x"]))), vec![2]);
        assert_eq!(counts(&s.punsubscribe(&[])), vec![1]);
        assert_eq!(counts(&s.unsubscribe(&v(&["x", "y"]))), vec![0, 0]);
    }

    #[test]
    fn unsubscribe_all_with_nothing_names_a_null_channel() {
        let mut s = Subscriptions::default();
        assert_eq!(
            s.unsubscribe(&[]),
            vec![Reply::Push(vec![
                Reply::bulk("unsubscribe"),
                Reply::Null,
                Reply::Int(0)
            ])]
        );
    }

    #[test]
    fn delivery_sends_message_then_each_matching_pattern() {
        let mut s = Subscriptions::default();
        s.subscribe(&v(&["+sdown"]));
        s.psubscribe(&v(&["*", "+s*", "-*"]));
        let msg = PubMessage {
            channel: "+sdown".into(),
            message: "master m 1.2.3.4 6379".into(),
        };
        let got = s.deliver(&msg);
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            Reply::Push(vec![
                Reply::bulk("message"),
                Reply::bulk("+sdown"),
                Reply::bulk("master m 1.2.3.4 6379")
            ])
        );
        let patterns: Vec<&Reply> = got[1..]
            .iter()
            .map(|r| match r {
                Reply::Push(items) => &items[1],
                _ => panic!(),
            })
            .collect();
        assert_eq!(patterns, vec![&Reply::bulk("*"), &Reply::bulk("+s*")]);
        assert!(s
            .deliver(&PubMessage {
                channel: "+odown".into(),
                message: String::new()
            })
            .iter()
            .all(|r| !matches!(r, Reply::Push(i) if i[0] == Reply::bulk("message"))));
    }
}
