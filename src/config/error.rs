//! Fatal configuration errors, worded and shaped exactly like redis-sentinel's.

use std::io;
use std::path::Path;

use super::read::Directive;

/// The one line rsentinel adds to Redis's FATAL CONFIG FILE ERROR block:
/// Redis does not say which file it was reading.
const FILE_LINE: &str = "Config file: ";

/// A reason to refuse to start. `Display` is the exact text redis-sentinel
/// prints (the FATAL blocks with one line added, `Config file: <path>`);
/// [`ConfigError::printed_to_stderr`] tells where it goes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A configuration line was rejected. Displays as Redis's whole block
    /// (leading blank line included), plus one last line of ours naming the
    /// file; print it with `eprintln!`.
    #[error(
        "\n*** FATAL CONFIG FILE ERROR (Redis {version}) ***\n\
         Reading the configuration file, at line {line_no}\n\
         >>> '{line}'\n\
         {reason}\n\
         {FILE_LINE}{file}",
        version = crate::REDIS_VERSION
    )]
    Line {
        line_no: usize,
        line: String,
        reason: String,
        file: String,
    },
    /// The whole configuration was rejected after its last line (Redis's
    /// block then has no line part), e.g. a log file that cannot be opened.
    #[error(
        "\n*** FATAL CONFIG FILE ERROR (Redis {version}) ***\n\
         {reason}\n\
         {FILE_LINE}{file}",
        version = crate::REDIS_VERSION
    )]
    Whole { reason: String, file: String },
    /// No config file on the command line (checked once everything given
    /// was loaded, like Redis).
    #[error("Sentinel needs config file on disk to save state. Exiting...")]
    NoConfigFile,
    /// The config file (or an `include`d one) could not be read.
    #[error("Fatal error, can't open config file '{path}': {reason}")]
    CantOpen { path: String, reason: String },
    /// The config file exists but this process may not write it.
    #[error("Sentinel config file {path} is not writable: {reason}. Exiting...")]
    NotWritable { path: String, reason: String },
}

impl ConfigError {
    /// The error for a directive the caller rejected with Redis's `reason`
    /// text (used by the sentinel-directive loader).
    pub fn at(directive: &Directive, reason: impl Into<String>) -> Self {
        ConfigError::Line {
            line_no: directive.line_no,
            line: directive.line.clone(),
            reason: reason.into(),
            file: directive.file.to_string(),
        }
    }

    /// Redis writes the FATAL CONFIG FILE ERROR block raw to stderr; the other
    /// errors are ordinary WARNING log lines (stdout or the logfile).
    pub fn printed_to_stderr(&self) -> bool {
        matches!(self, ConfigError::Line { .. } | ConfigError::Whole { .. })
    }

    pub(crate) fn cant_open(path: &Path, err: &io::Error) -> Self {
        ConfigError::CantOpen {
            path: path.display().to_string(),
            reason: strerror(err),
        }
    }
}

/// The C library's wording of an I/O error (`No such file or directory`),
/// without the ` (os error N)` suffix Rust adds, because Redis prints
/// `strerror(errno)`.
pub fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if err.raw_os_error().is_some() => text[..at].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_error_displays_as_redis_fatal_block() {
        let d = Directive {
            line_no: 3,
            line: "sentinel monitor mymaster 127.0.0.1 6379 0".into(),
            args: vec![],
            file: "/etc/redis/sentinel.conf".into(),
            raw_args: vec![],
        };
        let e = ConfigError::at(&d, "Quorum must be 1 or greater.");
        assert_eq!(
            e.to_string(),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             Reading the configuration file, at line 3\n\
             >>> 'sentinel monitor mymaster 127.0.0.1 6379 0'\n\
             Quorum must be 1 or greater.\n\
             Config file: /etc/redis/sentinel.conf"
        );
        assert!(e.printed_to_stderr());
        assert!(!ConfigError::NoConfigFile.printed_to_stderr());
    }

    #[test]
    fn whole_config_error_has_no_line_part() {
        let e = ConfigError::Whole {
            reason: "Can't open the log file: No such file or directory".into(),
            file: "/s.conf".into(),
        };
        assert_eq!(
            e.to_string(),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             Can't open the log file: No such file or directory\n\
             Config file: /s.conf"
        );
        assert!(e.printed_to_stderr());
    }

    #[test]
    fn strerror_drops_the_os_error_suffix() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(strerror(&e), "No such file or directory");
        let custom = io::Error::other("boom");
        assert_eq!(strerror(&custom), "boom");
    }
}
