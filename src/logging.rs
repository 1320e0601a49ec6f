//! Redis-shaped log lines on top of `tracing`:
//! `<pid>:X <dd Mon yyyy HH:MM:SS.mmm> <level-char> <message>`, written to
//! the `logfile` or to stdout when it is empty.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

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

struct RedisFormat {
    pid: u32,
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
        write!(
            writer,
            "{}:X {} {} ",
            self.pid,
            timestamp(SystemTime::now()),
            level_char(event.metadata().level())
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// `24 Nov 2026 08:16:35.123` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        day,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic
/// Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Where log lines go: a file opened in append mode, or stdout.
#[derive(Clone)]
enum Sink {
    Stdout,
    File(Arc<Mutex<std::fs::File>>),
}

struct SinkWriter(Sink);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Sink::Stdout => std::io::stdout().write(buf),
            Sink::File(f) => f
                .lock()
                .map_err(|_| std::io::Error::other("log lock"))?
                .write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &self.0 {
            Sink::Stdout => std::io::stdout().flush(),
            Sink::File(f) => f
                .lock()
                .map_err(|_| std::io::Error::other("log lock"))?
                .flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter(self.clone())
    }
}

/// Installs the global subscriber. `logfile` empty means stdout.
pub fn init(logfile: &str, level: Level) -> std::io::Result<()> {
    let sink = if logfile.is_empty() {
        Sink::Stdout
    } else {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(Path::new(logfile))?;
        Sink::File(Arc::new(Mutex::new(f)))
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(sink)
        .event_format(RedisFormat {
            pid: std::process::id(),
        })
        .finish();
    // A second init (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_look_like_redis() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_508_195_123);
        assert_eq!(timestamp(t), "24 Nov 2026 08:16:35.123");
        assert_eq!(timestamp(UNIX_EPOCH), "01 Jan 1970 00:00:00.000");
    }

    #[test]
    fn loglevels_map_to_tracing() {
        assert_eq!(level_for("notice"), Some(Level::INFO));
        assert_eq!(level_for("WARNING"), Some(Level::WARN));
        assert_eq!(level_for("loud"), None);
    }
}
