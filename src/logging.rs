//! Log output on top of `tracing`, where Redis puts it: Redis-shaped lines
//! (`<pid>:X <dd Mon yyyy HH:MM:SS.mmm> <level-char> <message>`, local time)
//! or JSON lines (`RSENTINEL_LOG_FORMAT=json`), to the `logfile` (opened
//! for every line, so logrotate can simply rename it) or to stdout, and
//! with `syslog-enabled yes` every line to syslog as well.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Local, TimeZone};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::ServerOptions;

/// Environment variable choosing the line format: `redis` (default) or
/// `json`.
pub const FORMAT_ENV: &str = "RSENTINEL_LOG_FORMAT";
/// Environment variable naming the syslog datagram socket (default
/// [`DEFAULT_SYSLOG_SOCKET`]).
pub const SYSLOG_SOCKET_ENV: &str = "RSENTINEL_SYSLOG_SOCKET";
/// Where libc's `syslog(3)` sends, as Redis does.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("Can't open the log file: {path}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{FORMAT_ENV} must be 'redis' or 'json', not '{0}'")]
    Format(String),
}

/// The shape of each log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Redis,
    Json,
}

impl LogFormat {
    /// From [`FORMAT_ENV`]; unset or empty is `redis`.
    pub fn from_env() -> Result<LogFormat, LogError> {
        match std::env::var(FORMAT_ENV) {
            Err(_) => Ok(LogFormat::Redis),
            Ok(v) if v.is_empty() || v.eq_ignore_ascii_case("redis") => Ok(LogFormat::Redis),
            Ok(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Ok(v) => Err(LogError::Format(v)),
        }
    }
}

/// Redis's `loglevel` values mapped onto tracing levels: warning → WARN,
/// notice → INFO, verbose → DEBUG, debug → TRACE.
pub fn level_for(loglevel: &str) -> Option<Level> {
    match loglevel.to_ascii_lowercase().as_str() {
        "warning" => Some(Level::WARN),
        "notice" => Some(Level::INFO),
        "verbose" => Some(Level::DEBUG),
        "debug" => Some(Level::TRACE),
        "nothing" => Some(Level::ERROR),
        _ => None,
    }
}

/// The character Redis prints for a level.
fn level_char(level: &Level) -> char {
    match *level {
        Level::ERROR | Level::WARN => '#',
        Level::INFO => '*',
        Level::DEBUG => '-',
        Level::TRACE => '.',
    }
}

/// The syslog severity Redis uses for a level (its `syslogLevelMap`).
fn syslog_severity(level: &Level) -> libc::c_int {
    match *level {
        Level::ERROR | Level::WARN => libc::LOG_WARNING,
        Level::INFO => libc::LOG_NOTICE,
        Level::DEBUG => libc::LOG_INFO,
        Level::TRACE => libc::LOG_DEBUG,
    }
}

/// The facility code of a `syslog-facility` name.
fn syslog_facility(name: &str) -> libc::c_int {
    match name {
        "user" => libc::LOG_USER,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => libc::LOG_LOCAL0,
    }
}

/// `24 Nov 2026 08:16:35.123`: Redis's timestamp, in the zone of `t`.
pub fn timestamp<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: fmt::Display,
{
    t.format("%d %b %Y %H:%M:%S%.3f").to_string()
}

/// Redis's line, `<pid>:X <time> <level-char> <message>\n`, or for
/// syslog, which adds a header of its own, just the message.
enum RedisFormat {
    Line { pid: u32 },
    MessageOnly,
}

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let RedisFormat::Line { pid } = self else {
            return ctx.field_format().format_fields(writer.by_ref(), event);
        };
        write!(
            writer,
            "{pid}:X {} {} ",
            timestamp(&Local::now()),
            level_char(event.metadata().level())
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Where one event's finished text goes.
trait Deliver {
    fn deliver(&self, text: &[u8]);
}

/// One event's text, delivered in one piece when the fmt layer drops the
/// writer at the end of the event.
struct Buffered<D: Deliver> {
    to: D,
    buf: Vec<u8>,
}

impl<D: Deliver> Buffered<D> {
    fn new(to: D) -> Self {
        Buffered {
            to,
            buf: Vec::new(),
        }
    }
}

impl<D: Deliver> Write for Buffered<D> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<D: Deliver> Drop for Buffered<D> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.to.deliver(&self.buf);
        }
    }
}

/// Where log lines go: stdout, or a file path opened in append mode for
/// every line, as Redis does, so that after logrotate renames the file the
/// next line creates a new one (Debian's rule has no copytruncate and no
/// postrotate).
#[derive(Clone)]
enum Sink {
    Stdout,
    File(Arc<PathBuf>),
}

impl Deliver for Sink {
    fn deliver(&self, text: &[u8]) {
        // A line that cannot be written is dropped, as Redis drops it: the
        // log must never take the sentinel down.
        let _ = match self {
            Sink::Stdout => std::io::stdout().lock().write_all(text),
            Sink::File(path) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(path.as_path())
                .and_then(|mut f| f.write_all(text)),
        };
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Buffered<Sink>;
    fn make_writer(&'a self) -> Self::Writer {
        Buffered::new(self.clone())
    }
}

/// The syslog destination: like glibc's `syslog(3)`, an RFC 3164 line
/// `<PRI>Mon dd HH:MM:SS ident[pid]: message` sent as one datagram. It is
/// sent to the socket path every time rather than over a connection made
/// once, so a syslog daemon that starts late or restarts loses nothing
/// after it is back, and a missing socket is not an error (Redis opens the
/// log with `LOG_NDELAY` and glibc drops what it cannot send).
struct Syslog {
    socket: Option<UnixDatagram>,
    path: PathBuf,
    ident: String,
    facility: libc::c_int,
    pid: u32,
}

#[derive(Clone)]
struct SyslogSink(Arc<Syslog>);

/// One event on its way to syslog, with the severity of its level.
struct SyslogEvent {
    to: Arc<Syslog>,
    severity: libc::c_int,
}

impl Deliver for SyslogEvent {
    fn deliver(&self, text: &[u8]) {
        let s = &self.to;
        let Some(socket) = &s.socket else {
            return;
        };
        let mut line = format!(
            "<{}>{} {}[{}]: ",
            s.facility | self.severity,
            Local::now().format("%b %e %H:%M:%S"),
            s.ident,
            s.pid
        )
        .into_bytes();
        line.extend_from_slice(text);
        let _ = socket.send_to(&line, &s.path);
    }
}

impl<'a> MakeWriter<'a> for SyslogSink {
    type Writer = Buffered<SyslogEvent>;
    fn make_writer(&'a self) -> Self::Writer {
        // Only called for output not tied to an event; the fmt layer asks
        // with the event's metadata.
        Buffered::new(SyslogEvent {
            to: Arc::clone(&self.0),
            severity: libc::LOG_NOTICE,
        })
    }
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Buffered::new(SyslogEvent {
            to: Arc::clone(&self.0),
            severity: syslog_severity(meta.level()),
        })
    }
}

/// Installs the global subscriber from `logfile` (empty = stdout),
/// `loglevel` and the `syslog-*` options, in the format [`FORMAT_ENV`]
/// asks for.
pub fn init(options: &ServerOptions) -> Result<(), LogError> {
    let format = LogFormat::from_env()?;
    let level = level_for(options.loglevel.as_str()).unwrap_or(Level::INFO);
    let sink = if options.logfile.is_empty() {
        Sink::Stdout
    } else {
        let open_error = |source| LogError::Open {
            path: options.logfile.clone(),
            source,
        };
        // Absolute now, so that later lines still reach this file after
        // the process changes directory.
        let path = std::path::absolute(&options.logfile).map_err(open_error)?;
        // Opened once now so a bad path fails at start, not silently.
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(open_error)?;
        Sink::File(Arc::new(path))
    };
    let pid = std::process::id();
    let main = match format {
        LogFormat::Redis => tracing_subscriber::fmt::layer()
            .event_format(RedisFormat::Line { pid })
            .with_writer(sink)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(sink)
            .boxed(),
    };
    let syslog = options.syslog_enabled.then(|| {
        let path = std::env::var_os(SYSLOG_SOCKET_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| DEFAULT_SYSLOG_SOCKET.into());
        tracing_subscriber::fmt::layer()
            .event_format(RedisFormat::MessageOnly)
            .with_writer(SyslogSink(Arc::new(Syslog {
                socket: UnixDatagram::unbound().ok(),
                path,
                ident: options.syslog_ident.clone(),
                facility: syslog_facility(options.syslog_facility),
                pid,
            })))
    });
    let subscriber = tracing_subscriber::registry()
        .with(main)
        .with(syslog)
        .with(LevelFilter::from_level(level));
    // A second init (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn timestamps_look_like_redis_in_the_given_zone() {
        let t = Utc.timestamp_millis_opt(1_795_508_195_123).unwrap();
        assert_eq!(timestamp(&t), "24 Nov 2026 08:16:35.123");
        let kolkata = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        assert_eq!(
            timestamp(&t.with_timezone(&kolkata)),
            "24 Nov 2026 13:46:35.123"
        );
        assert_eq!(
            timestamp(&Utc.timestamp_millis_opt(0).unwrap()),
            "01 Jan 1970 00:00:00.000"
        );
    }

    #[test]
    fn loglevels_map_to_tracing_and_syslog() {
        assert_eq!(level_for("notice"), Some(Level::INFO));
        assert_eq!(level_for("WARNING"), Some(Level::WARN));
        assert_eq!(level_for("loud"), None);
        assert_eq!(syslog_severity(&Level::WARN), libc::LOG_WARNING);
        assert_eq!(syslog_severity(&Level::INFO), libc::LOG_NOTICE);
        assert_eq!(syslog_severity(&Level::DEBUG), libc::LOG_INFO);
        assert_eq!(syslog_severity(&Level::TRACE), libc::LOG_DEBUG);
        assert_eq!(syslog_facility("local3"), 19 << 3);
        assert_eq!(syslog_facility("user"), 1 << 3);
    }
}
