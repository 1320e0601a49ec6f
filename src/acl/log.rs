//! The ACL log (`ACL LOG`): recent denials, grouped the way Redis 7.0
//! groups them, with times passed in by the caller.

use std::collections::VecDeque;

use rsentinel_core::reply::Reply;
use rsentinel_core::time::Millis;

/// Redis keeps at most this many entries (`acllog-max-len` default).
const MAX_ENTRIES: usize = 128;
/// A denial repeating an entry younger than this bumps its count instead of
/// adding a new one...
const GROUPING_WINDOW: Millis = Millis(60_000);
/// ...when that entry is among the most recent few.
const GROUPING_SCAN: usize = 10;

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialReason {
    Command,
    Channel,
    Auth,
}

impl DenialReason {
    fn as_str(self) -> &'static str {
        match self {
            DenialReason::Command => "command",
            DenialReason::Channel => "channel",
            DenialReason::Auth => "auth",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub count: u64,
    pub reason: DenialReason,
    /// Command full name, channel, or `AUTH`.
    pub object: String,
    pub username: String,
    pub created: Millis,
    /// The `CLIENT INFO` line of the refused client, from the caller.
    pub client_info: String,
}

/// Newest entry first.
#[derive(Debug, Clone, Default)]
pub struct AclLog {
    entries: VecDeque<LogEntry>,
}

impl AclLog {
    pub fn record(
        &mut self,
        reason: DenialReason,
        object: &str,
        username: &str,
        client_info: &str,
        now: Millis,
    ) {
        let similar = self.entries.iter().take(GROUPING_SCAN).position(|e| {
            e.reason == reason
                && e.object == object
                && e.username == username
                && now.since(e.created) <= GROUPING_WINDOW
        });
        let entry = match similar.and_then(|i| self.entries.remove(i)) {
            Some(mut e) => {
                e.count += 1;
                e.created = now;
                e.client_info = client_info.to_string();
                e
            }
            None => LogEntry {
                count: 1,
                reason,
                object: object.to_string(),
                username: username.to_string(),
                created: now,
                client_info: client_info.to_string(),
            },
        };
        self.entries.push_front(entry);
        self.entries.truncate(MAX_ENTRIES);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// The `ACL LOG [count]` reply, newest first.
    pub fn reply(&self, count: usize, now: Millis) -> Reply {
        Reply::Array(
            self.entries
                .iter()
                .take(count)
                .map(|e| {
                    let age = now.since(e.created).as_u64() as f64 / 1000.0;
                    Reply::map_of(vec![
                        ("count", Reply::Int(e.count as i64)),
                        ("reason", Reply::bulk(e.reason.as_str())),
                        // A sentinel has no MULTI or scripts: always top level.
                        ("context", Reply::bulk("toplevel")),
                        ("object", Reply::bulk(&e.object)),
                        ("username", Reply::bulk(&e.username)),
                        // Redis sends a double; `Reply` has none, so this
                        // is its RESP2 form, a bulk string.
                        ("age-seconds", Reply::Double(format_double(age))),
                        ("client-info", Reply::bulk(&e.client_info)),
                    ])
                })
                .collect(),
        )
    }
}

/// C's `%.17g`, which Redis uses to print doubles.
pub fn format_double(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("scientific format");
    let exp: i32 = exp.parse().expect("exponent");
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if !(-4..17).contains(&exp) {
        let m = trim(mantissa.to_string());
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        trim(format!("{v:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_c_percent_17g() {
        assert_eq!(format_double(0.0), "0");
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(1.234), "1.234");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(2.001), "2.0009999999999999");
        assert_eq!(format_double(123456789.123), "123456789.123");
        assert_eq!(format_double(12.0), "12");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1.0000000000000001e-05");
    }

    #[test]
    fn repeated_denials_within_a_minute_are_grouped() {
        let mut log = AclLog::default();
        log.record(
            DenialReason::Command,
            "ping",
            "alice",
            "id=1",
            Millis(1_000),
        );
        log.record(DenialReason::Channel, "zz", "alice", "id=1", Millis(2_000));
        log.record(
            DenialReason::Command,
            "ping",
            "alice",
            "id=2",
            Millis(3_000),
        );
        let e: Vec<_> = log.entries().collect();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].object.as_str(), e[0].count), ("ping", 2));
        assert_eq!(e[0].client_info, "id=2");
        log.record(
            DenialReason::Command,
            "ping",
            "alice",
            "id=3",
            Millis(100_000),
        );
        assert_eq!(log.entries().count(), 3);
    }

    #[test]
    fn log_reply_is_newest_first_with_age_in_seconds() {
        let mut log = AclLog::default();
        log.record(DenialReason::Auth, "AUTH", "bob", "id=9", Millis(0));
        log.record(DenialReason::Command, "role", "bob", "id=9", Millis(500));
        let Reply::Array(items) = log.reply(1, Millis(1_500)) else {
            panic!("not an array")
        };
        assert_eq!(items.len(), 1);
        let Reply::Map(fields) = &items[0] else {
            panic!("not a map")
        };
        let names: Vec<_> = fields.iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "count",
                "reason",
                "context",
                "object",
                "username",
                "age-seconds",
                "client-info"
            ]
        );
        assert_eq!(fields[3].1, Reply::bulk("role"));
        assert_eq!(fields[5].1, Reply::Double("1".into()));
    }
}
