//! The `sentinel ...` lines a config rewrite must contain, in Redis's
//! emission order. The shell quotes and places them in the file.

use super::instance::Master;
use super::timing::{DEFAULT_DOWN_AFTER, DEFAULT_FAILOVER_TIMEOUT};
use super::Sentinel;

/// A config snapshot: lines of tokens, each line starting with `sentinel`.
/// Tokens are bytes: a password or user name is written exactly as
/// configured.
///
/// Stored flat (every token in one buffer, where each token and each line
/// ends), so a snapshot is three allocations: at 1 000 masters one is
/// about 7 000 lines, and a `Vec` per line and per token had been some
/// 40 000 small allocations per snapshot, interleaved with the driver's
/// long-lived ones and freed by the config writer, leaving the heap full
/// of holes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigLines {
    bytes: Vec<u8>,
    /// Where each token ends in `bytes`.
    token_ends: Vec<u32>,
    /// Where each line's tokens end in `token_ends`.
    line_ends: Vec<u32>,
}

/// One line of a [`ConfigLines`].
#[derive(Debug, Clone, Copy)]
pub struct ConfigLine<'a> {
    bytes: &'a [u8],
    /// The ends of this line's tokens, and the end of the token before it.
    ends: &'a [u32],
    first: usize,
}

impl ConfigLines {
    /// Adds a line made of `tokens`.
    pub fn push<'a>(&mut self, tokens: impl IntoIterator<Item = &'a [u8]>) {
        for token in tokens {
            self.bytes.extend_from_slice(token);
            self.token_ends.push(offset(self.bytes.len()));
        }
        self.line_ends.push(offset(self.token_ends.len()));
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.line_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.line_ends.is_empty()
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl Iterator<Item = ConfigLine<'_>> + '_ {
        (0..self.len()).map(|i| {
            let first = if i == 0 {
                0
            } else {
                self.line_ends[i - 1] as usize
            };
            let end = self.line_ends[i] as usize;
            let (ends, first) = match first.checked_sub(1) {
                Some(before) => (&self.token_ends[before..end], 1),
                None => (&self.token_ends[..end], 0),
            };
            ConfigLine {
                bytes: &self.bytes,
                ends,
                first,
            }
        })
    }
}

/// Offsets are kept as `u32`: a snapshot is far below 4 GiB.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a config snapshot under 4 GiB")
}

impl<'a> ConfigLine<'a> {
    /// The tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (bytes, ends, first) = (self.bytes, self.ends, self.first);
        (first..ends.len()).map(move |i| {
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            &bytes[start..ends[i] as usize]
        })
    }

    /// Token `i`, if the line has that many.
    pub fn token(&self, i: usize) -> Option<&'a [u8]> {
        self.tokens().nth(i)
    }

    /// The tokens joined by one space, unquoted (for tests and messages).
    pub fn joined(&self) -> Vec<u8> {
        self.tokens().collect::<Vec<_>>().join(&b' ')
    }
}

impl Sentinel {
    /// The state lines, each starting with `sentinel`.
    pub fn config_lines(&self) -> ConfigLines {
        // Two writers share the list: `line` for text tokens, `secret_line`
        // for a line ending in a credential (any bytes).
        let out = std::cell::RefCell::new(ConfigLines::default());
        let push = |parts: &[&str], secret: Option<&[u8]>| {
            let head = std::iter::once(&b"sentinel"[..]);
            let parts = parts.iter().map(|s| s.as_bytes());
            out.borrow_mut().push(head.chain(parts).chain(secret));
        };
        let line = |parts: &[&str]| push(parts, None);
        let secret_line = |parts: &[&str], secret: &[u8]| push(parts, Some(secret));
        line(&["myid", self.myid()]);
        if !self.settings.deny_scripts_reconfig {
            line(&["deny-scripts-reconfig", "no"]);
        }
        if self.settings.resolve_hostnames {
            line(&["resolve-hostnames", "yes"]);
        }
        if self.settings.announce_hostnames {
            line(&["announce-hostnames", "yes"]);
        }
        for m in self.masters.values() {
            master_lines(m, self.settings.announce_hostnames, &line, &secret_line);
        }
        line(&[
            "current-epoch",
            &self.settings.current_epoch.current().to_string(),
        ]);
        if let Some(ip) = &self.settings.announce_ip {
            line(&["announce-ip", ip]);
        }
        if self.settings.announce_port != 0 {
            line(&["announce-port", &self.settings.announce_port.to_string()]);
        }
        if let Some(u) = &self.settings.sentinel_user {
            secret_line(&["sentinel-user"], u);
        }
        if let Some(p) = &self.settings.sentinel_pass {
            secret_line(&["sentinel-pass"], p);
        }
        out.into_inner()
    }
}

/// One master's lines. Addresses are written in their announced form, as
/// Redis does (so `announce-hostnames no` writes the resolved IPs).
fn master_lines(
    m: &Master,
    hostnames: bool,
    line: &impl Fn(&[&str]),
    secret_line: &impl Fn(&[&str], &[u8]),
) {
    let name = m.name.as_str();
    let current = m.current_addr();
    line(&[
        "monitor",
        name,
        current.announced(hostnames),
        &current.port.to_string(),
        &m.quorum.to_string(),
    ]);
    if m.common.down_after != DEFAULT_DOWN_AFTER {
        line(&[
            "down-after-milliseconds",
            name,
            &m.common.down_after.to_string(),
        ]);
    }
    if m.failover_timeout != DEFAULT_FAILOVER_TIMEOUT {
        line(&["failover-timeout", name, &m.failover_timeout.to_string()]);
    }
    if m.parallel_syncs != 1 {
        line(&["parallel-syncs", name, &m.parallel_syncs.to_string()]);
    }
    if let Some(s) = &m.notification_script {
        line(&["notification-script", name, s]);
    }
    if let Some(s) = &m.client_reconfig_script {
        line(&["client-reconfig-script", name, s]);
    }
    if let Some(p) = &m.auth_pass {
        secret_line(&["auth-pass", name], p);
    }
    if let Some(u) = &m.auth_user {
        secret_line(&["auth-user", name], u);
    }
    if m.master_reboot_down_after_period != 0 {
        line(&[
            "master-reboot-down-after-period",
            name,
            &m.master_reboot_down_after_period.to_string(),
        ]);
    }
    line(&["config-epoch", name, &m.config_epoch.to_string()]);
    let leader_epoch = m.vote.last_epoch();
    line(&["leader-epoch", name, &leader_epoch.to_string()]);
    for r in m.replicas.values() {
        // While a promoted replica is advertised as master, the old master
        // is remembered in its place so a restart still knows it.
        let addr = if r.common.addr.same_instance(current) {
            &m.common.addr
        } else {
            &r.common.addr
        };
        line(&[
            "known-replica",
            name,
            addr.announced(hostnames),
            &addr.port.to_string(),
        ]);
    }
    for (runid, s) in &m.sentinels {
        line(&[
            "known-sentinel",
            name,
            s.common.addr.announced(hostnames),
            &s.common.addr.port.to_string(),
            runid,
        ]);
    }
    for (from, to) in &m.renamed_commands {
        line(&["rename-command", name, from, to]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Millis;

    #[test]
    fn lines_keep_their_tokens_including_empty_ones() {
        let mut lines = ConfigLines::default();
        assert!(lines.is_empty());
        lines.push([&b"sentinel"[..], b"myid", b"abc"]);
        lines.push([&b"sentinel"[..], b"sentinel-pass", b""]);
        lines.push([&b""[..], b"x"]);
        let got: Vec<Vec<&[u8]>> = lines.iter().map(|l| l.tokens().collect()).collect();
        assert_eq!(
            got,
            [
                vec![&b"sentinel"[..], b"myid", b"abc"],
                vec![&b"sentinel"[..], b"sentinel-pass", b""],
                vec![&b""[..], b"x"],
            ]
        );
        let second = lines.iter().nth(1).unwrap();
        assert_eq!(second.token(1), Some(&b"sentinel-pass"[..]));
        assert_eq!(second.token(3), None);
        assert_eq!(second.joined(), b"sentinel sentinel-pass ");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn defaults_are_not_written_but_epochs_always_are() {
        let mut s = Sentinel::new(1, 26379);
        s.apply_directive(Millis(0), &["monitor", "m", "127.0.0.1", "6379", "2"])
            .unwrap();
        s.ensure_myid();
        let lines: Vec<String> = s
            .config_lines()
            .iter()
            .map(|l| String::from_utf8(l.joined()).unwrap())
            .collect();
        assert_eq!(lines[0], format!("sentinel myid {}", s.myid()));
        s.apply_directive(Millis(0), &[&b"auth-pass"[..], b"m", b"\xff\xfe"])
            .unwrap();
        let snapshot = s.config_lines();
        let auth: Vec<&[u8]> = snapshot
            .iter()
            .find(|l| l.token(1) == Some(b"auth-pass"))
            .unwrap()
            .tokens()
            .collect();
        assert_eq!(auth, [&b"sentinel"[..], b"auth-pass", b"m", b"\xff\xfe"]);
        assert_eq!(
            &lines[1..],
            &[
                "sentinel monitor m 127.0.0.1 6379 2",
                "sentinel config-epoch m 0",
                "sentinel leader-epoch m 0",
                "sentinel current-epoch 0",
            ]
        );
    }
}
