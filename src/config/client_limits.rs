//! The per-client limits of `sentinel.conf`: `timeout`, `tcp-keepalive`,
//! `client-query-buffer-limit` and `client-output-buffer-limit`, parsed with
//! Redis's memory units and messages, and written back as Redis's rewrite
//! does.

use std::time::Duration;

use super::rewrite::RewriteLine;

const KB: u64 = 1024;
const MB: u64 = 1024 * KB;
const GB: u64 = 1024 * MB;

/// The client classes that have their own output buffer limit. Sentinel
/// has no replicas, but Redis accepts (and rewrites) their limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    Normal,
    Replica,
    Pubsub,
}

impl ClientClass {
    const ALL: [ClientClass; 3] = [
        ClientClass::Normal,
        ClientClass::Replica,
        ClientClass::Pubsub,
    ];

    /// How the rewrite spells it.
    fn as_str(self) -> &'static str {
        ["normal", "replica", "pubsub"][self as usize]
    }

    /// Redis's `getClientTypeByName`, minus `master` (no limit of its own).
    fn parse(name: &str) -> Option<ClientClass> {
        match name.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "slave" | "replica" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::Pubsub),
            _ => None,
        }
    }
}

/// One class's output buffer limit: closed at once past `hard`, or once
/// past `soft` for more than `soft_seconds`. Zero disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl OutputBufferLimit {
    const fn new(hard: u64, soft: u64, soft_seconds: u64) -> OutputBufferLimit {
        OutputBufferLimit {
            hard,
            soft,
            soft_seconds,
        }
    }
}

/// Redis's defaults, by [`ClientClass`].
const DEFAULT_OUTPUT_LIMITS: [OutputBufferLimit; 3] = [
    OutputBufferLimit::new(0, 0, 0),
    OutputBufferLimit::new(256 * MB, 64 * MB, 60),
    OutputBufferLimit::new(32 * MB, 8 * MB, 60),
];

/// The smallest `client-query-buffer-limit` Redis accepts.
const MIN_QUERY_BUFFER_LIMIT: u64 = MB;
const DEFAULT_QUERY_BUFFER_LIMIT: u64 = GB;
const DEFAULT_TCP_KEEPALIVE: u32 = 300;

/// The per-client limits with Redis's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLimits {
    /// `timeout`: seconds a normal client may stay idle; 0 = forever.
    pub timeout: u32,
    /// `tcp-keepalive`: keepalive idle seconds on accepted sockets; 0 = off.
    pub tcp_keepalive: u32,
    pub query_buffer: u64,
    output: [OutputBufferLimit; 3],
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            timeout: 0,
            tcp_keepalive: DEFAULT_TCP_KEEPALIVE,
            query_buffer: DEFAULT_QUERY_BUFFER_LIMIT,
            output: DEFAULT_OUTPUT_LIMITS,
        }
    }
}

impl ClientLimits {
    pub fn output(&self, class: ClientClass) -> OutputBufferLimit {
        self.output[class as usize]
    }

    /// `timeout` as a duration, `None` when clients may idle forever.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.timeout > 0).then(|| Duration::from_secs(u64::from(self.timeout)))
    }

    /// `client-query-buffer-limit <memory>`.
    pub fn set_query_buffer(&mut self, value: &str) -> Result<(), String> {
        let limit = parse_memory(value).ok_or("argument must be a memory value")?;
        if !(MIN_QUERY_BUFFER_LIMIT..=i64::MAX as u64).contains(&limit) {
            return Err(format!(
                "argument must be between {MIN_QUERY_BUFFER_LIMIT} and {} inclusive",
                i64::MAX
            ));
        }
        self.query_buffer = limit;
        Ok(())
    }

    /// `client-output-buffer-limit (<class> <hard> <soft> <seconds>)...`:
    /// all quadruples are checked before any is applied.
    pub fn set_output(&mut self, values: &[String]) -> Result<(), String> {
        if !values.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut output = self.output;
        for quad in values.chunks(4) {
            let class = ClientClass::parse(&quad[0])
                .ok_or("Invalid client class specified in buffer limit configuration.")?;
            let limit = match (
                parse_memory(&quad[1]),
                parse_memory(&quad[2]),
                parse_seconds(&quad[3]),
            ) {
                (Some(hard), Some(soft), Some(soft_seconds)) => {
                    OutputBufferLimit::new(hard, soft, soft_seconds)
                }
                _ => return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                ),
            };
            output[class as usize] = limit;
        }
        self.output = output;
        Ok(())
    }

    /// The lines a flush writes, each forced only when not at Redis's
    /// default: so, as in Redis, an old `client-output-buffer-limit` line is
    /// taken over by the `normal` class even when another class was set.
    pub fn rewrite_lines(&self) -> Vec<RewriteLine> {
        let line = |key: &str, value: String, force: bool| RewriteLine {
            key: key.to_string(),
            text: format!("{key} {value}").into_bytes(),
            force,
        };
        let mut out = vec![
            line("timeout", self.timeout.to_string(), self.timeout != 0),
            line(
                "tcp-keepalive",
                self.tcp_keepalive.to_string(),
                self.tcp_keepalive != DEFAULT_TCP_KEEPALIVE,
            ),
            line(
                "client-query-buffer-limit",
                format_memory(self.query_buffer),
                self.query_buffer != DEFAULT_QUERY_BUFFER_LIMIT,
            ),
        ];
        for class in ClientClass::ALL {
            let l = self.output(class);
            out.push(line(
                "client-output-buffer-limit",
                format!(
                    "{} {} {} {}",
                    class.as_str(),
                    format_memory(l.hard),
                    format_memory(l.soft),
                    l.soft_seconds
                ),
                l != DEFAULT_OUTPUT_LIMITS[class as usize],
            ));
        }
        out
    }
}

/// Keys a flush owns for these options.
pub const REWRITE_KEYS: &[&str] = &[
    "timeout",
    "tcp-keepalive",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
];

/// Redis's `memtoull`: digits then an optional unit, `k`/`m`/`g` powers of
/// 1000 and `kb`/`mb`/`gb` powers of 1024, any case. No sign; no digits at
/// all reads as 0, as in Redis.
pub fn parse_memory(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => KB,
        "m" => 1000 * 1000,
        "mb" => MB,
        "g" => 1000 * 1000 * 1000,
        "gb" => GB,
        _ => return None,
    };
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    Some(n.wrapping_mul(mul))
}

/// `soft_seconds` as Redis's `strtoll` reads it: an optional sign, digits,
/// nothing after them (an empty string is 0); negative is refused.
fn parse_seconds(s: &str) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    let n: i64 = s.parse().ok()?;
    u64::try_from(n).ok().filter(|n| *n <= i32::MAX as u64)
}

/// Redis's rewrite spelling of a memory value: the largest of `gb`, `mb`,
/// `kb` that divides it, else bytes.
pub fn format_memory(bytes: u64) -> String {
    for (unit, size) in [("gb", GB), ("mb", MB), ("kb", KB)] {
        if bytes != 0 && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn memory_units_are_redis_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kB"), Some(1024));
        assert_eq!(parse_memory("32MB"), Some(32 * MB));
        assert_eq!(parse_memory("1g"), Some(1_000_000_000));
        assert_eq!(parse_memory("mb"), Some(0));
        assert_eq!(parse_memory("7"), Some(7));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1x"), None);
        assert_eq!(parse_memory("1 mb"), None);
    }

    #[test]
    fn memory_is_rewritten_in_the_largest_exact_unit() {
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(GB), "1gb");
        assert_eq!(format_memory(1025 * KB), "1025kb");
        assert_eq!(format_memory(3 * MB), "3mb");
        assert_eq!(format_memory(1000), "1000");
    }

    #[test]
    fn output_limits_take_several_classes_or_none() {
        let mut l = ClientLimits::default();
        l.set_output(&args("normal 3gb 1025 5 slave 0 0 0 pubsub 1mb 512kb 10"))
            .unwrap();
        assert_eq!(
            l.output(ClientClass::Normal),
            OutputBufferLimit::new(3 * GB, 1025, 5)
        );
        assert_eq!(
            l.output(ClientClass::Replica),
            OutputBufferLimit::new(0, 0, 0)
        );
        assert_eq!(
            l.output(ClientClass::Pubsub),
            OutputBufferLimit::new(MB, 512 * KB, 10)
        );
        let before = l.clone();
        let err = |line: &str, l: &mut ClientLimits| l.set_output(&args(line)).unwrap_err();
        assert_eq!(
            err("pubsub 1mb 512kb", &mut l),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            err("normal 1 1 1 master 1 1 1", &mut l),
            "Invalid client class specified in buffer limit configuration."
        );
        for bad in [
            "pubsub 1x 1 1",
            "pubsub -1 1 1",
            "pubsub 1 1 -1",
            "pubsub 1 1 1s",
        ] {
            assert_eq!(
                err(bad, &mut l),
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            );
        }
        assert_eq!(l, before, "a refused line changes nothing");
    }

    #[test]
    fn query_buffer_limit_has_redis_bounds() {
        let mut l = ClientLimits::default();
        assert_eq!(
            l.set_query_buffer("1000").unwrap_err(),
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            l.set_query_buffer("1x").unwrap_err(),
            "argument must be a memory value"
        );
        l.set_query_buffer("2mb").unwrap();
        assert_eq!(l.query_buffer, 2 * MB);
    }

    #[test]
    fn only_non_default_values_are_forced_into_the_rewrite() {
        let mut l = ClientLimits::default();
        let forced = |l: &ClientLimits| -> Vec<String> {
            l.rewrite_lines()
                .into_iter()
                .filter(|r| r.force)
                .map(|r| String::from_utf8_lossy(&r.text).into_owned())
                .collect()
        };
        assert!(forced(&l).is_empty());
        l.timeout = 5;
        l.set_query_buffer("2mb").unwrap();
        l.set_output(&args("pubsub 1mb 512kb 10")).unwrap();
        assert_eq!(
            forced(&l),
            vec![
                "timeout 5",
                "client-query-buffer-limit 2mb",
                "client-output-buffer-limit pubsub 1mb 512kb 10"
            ]
        );
        let all = l.rewrite_lines();
        assert_eq!(all[3].text, b"client-output-buffer-limit normal 0 0 0");
        assert_eq!(
            all[4].text,
            b"client-output-buffer-limit replica 256mb 64mb 60"
        );
    }
}
