//! Reading `sentinel.conf` (plus command-line options) into ordered
//! directives, and the order in which `sentinel` directives must be applied.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cmdline::CommandLine;
use super::error::{strerror, ConfigError};
use crate::resp::split_args::split_args;

/// `include` files nested deeper than this are refused rather than followed
/// forever (Redis would recurse until it crashes on an include loop).
const MAX_INCLUDE_DEPTH: usize = 16;

/// One non-blank, non-comment config line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// 1-based line number within the file it came from (an included file
    /// counts its own lines, as Redis does; command-line options continue
    /// the main file's numbering after one separator line).
    pub line_no: usize,
    /// The line with surrounding whitespace trimmed, as echoed in errors.
    pub line: String,
    /// The split arguments, the directive name first, read as text (see
    /// [`text_args`]): for options whose values are names, numbers, paths.
    pub args: Vec<String>,
    /// The file the line belongs to (the config file, or an `include`d
    /// one), named in addition to Redis's FATAL CONFIG FILE ERROR lines.
    pub file: Arc<str>,
    /// The same arguments as the exact bytes written: passwords and ACL
    /// rules are read from these, so that any byte survives.
    pub raw_args: Vec<Vec<u8>>,
}

impl Directive {
    /// Whether this is a `sentinel ...` line (name compared case-insensitively).
    pub fn is_sentinel(&self) -> bool {
        self.args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case("sentinel"))
    }

    /// The arguments after `sentinel` (`["monitor", "mymaster", ...]`), or
    /// all arguments for a generic directive.
    pub fn sentinel_args(&self) -> &[String] {
        if self.is_sentinel() {
            &self.args[1..]
        } else {
            &self.args
        }
    }

    /// [`Directive::sentinel_args`] as the exact bytes written.
    pub fn sentinel_raw_args(&self) -> &[Vec<u8>] {
        if self.is_sentinel() {
            &self.raw_args[1..]
        } else {
            &self.raw_args
        }
    }
}

/// Config arguments read as text, bytes that are not UTF-8 replaced. Only
/// for values that are names, numbers or paths: secrets and ACL rules are
/// taken from the raw bytes instead.
pub fn text_args<A: AsRef<[u8]>>(raw: &[A]) -> Vec<String> {
    raw.iter()
        .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
        .collect()
}

/// A successfully read configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    /// The config file made absolute, so a later `dir` change does not
    /// redirect rewrites; `None` when only stdin and options were given
    /// (redis-sentinel loads them, then refuses to run without a file).
    pub path: Option<PathBuf>,
    /// How errors name the config: the absolute path, or where the text
    /// came from when there is no file.
    pub origin: Arc<str>,
    /// Generic server directives in file order (includes expanded, then the
    /// command-line options).
    pub generic: Vec<Directive>,
    /// `sentinel ...` directives in file order; apply them in
    /// [`sentinel_load_order`].
    pub sentinel: Vec<Directive>,
}

/// Reads the config file named on the command line, then standard input
/// (`read_stdin` is called only when the command line asks for it), then
/// the command-line options, as redis-sentinel does at startup: the file and
/// stdin are joined as they are, the options after one more newline, and
/// the lines are numbered through all three.
pub fn load(
    cmdline: &CommandLine,
    read_stdin: impl FnOnce() -> Vec<u8>,
) -> Result<LoadedConfig, ConfigError> {
    let mut text = Vec::new();
    let path = match cmdline.config_file.as_deref() {
        Some(given) => {
            let path = absolute_path(given).map_err(|e| ConfigError::cant_open(given, &e))?;
            text = std::fs::read(&path).map_err(|e| ConfigError::cant_open(&path, &e))?;
            Some(path)
        }
        None => None,
    };
    if cmdline.stdin {
        text.extend_from_slice(&read_stdin());
    }
    if !cmdline.options.is_empty() {
        text.push(b'\n');
        text.extend_from_slice(cmdline.options.as_bytes());
    }
    let origin: Arc<str> = match (&path, cmdline.stdin) {
        (Some(path), _) => path.display().to_string().into(),
        (None, true) => "(standard input)".into(),
        (None, false) => "(command line)".into(),
    };
    let mut directives = Vec::new();
    let mut cwd = std::env::current_dir().unwrap_or_default();
    parse_into(&text, 0, &origin, &mut cwd, &mut directives)?;
    let (sentinel, generic) = directives.into_iter().partition(Directive::is_sentinel);
    Ok(LoadedConfig {
        path,
        origin,
        generic,
        sentinel,
    })
}

/// Splits config text into directives, expanding `include <file>` lines.
/// Blank lines and `#` comments are skipped, as is a bare `sentinel`.
pub fn parse(text: &[u8]) -> Result<Vec<Directive>, ConfigError> {
    let mut directives = Vec::new();
    let mut cwd = std::env::current_dir().unwrap_or_default();
    parse_into(text, 0, &"(config text)".into(), &mut cwd, &mut directives)?;
    Ok(directives)
}

/// `cwd` is where Redis would be while reading this line: it `chdir`s on
/// each `dir` line as it reads, so a later relative `include` is found
/// inside that directory. (Whether `dir` itself is valid is checked with
/// the other options; an invalid one is fatal there.)
fn parse_into(
    text: &[u8],
    depth: usize,
    file: &Arc<str>,
    cwd: &mut PathBuf,
    out: &mut Vec<Directive>,
) -> Result<(), ConfigError> {
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let trimmed = trim(raw);
        if trimmed.is_empty() || trimmed[0] == b'#' {
            continue;
        }
        let line_no = index + 1;
        let line = String::from_utf8_lossy(trimmed).into_owned();
        let raw_args = match split_args(trimmed) {
            Ok(args) => args,
            Err(_) => {
                return Err(ConfigError::Line {
                    line_no,
                    line,
                    reason: "Unbalanced quotes in configuration line".into(),
                    file: file.to_string(),
                })
            }
        };
        if raw_args.is_empty() {
            // Nothing before a NUL byte: skipped, as Redis skips `argc == 0`.
            continue;
        }
        let directive = Directive {
            line_no,
            line,
            args: text_args(&raw_args),
            raw_args,
            file: Arc::clone(file),
        };
        let name = directive.args[0].to_ascii_lowercase();
        if name == "include" && directive.args.len() == 2 {
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(ConfigError::at(&directive, "Too many nested include files"));
            }
            let included = Path::new(&directive.args[1]);
            let resolved = cwd.join(included);
            let body =
                std::fs::read(&resolved).map_err(|e| ConfigError::cant_open(included, &e))?;
            let name: Arc<str> = resolved.display().to_string().into();
            parse_into(&body, depth + 1, &name, cwd, out)?;
        } else if name == "dir" && directive.args.len() == 2 {
            let next = cwd.join(&directive.args[1]);
            if next.is_dir() {
                *cwd = next;
            }
            out.push(directive);
        } else if name == "sentinel" && directive.args.len() == 1 {
            // Redis ignores a bare `sentinel` (what `--sentinel` produces).
        } else {
            out.push(directive);
        }
    }
    Ok(())
}

/// Redis trims these from both ends of every config line.
pub(crate) fn trim(line: &[u8]) -> &[u8] {
    let is_trimmed = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = line
        .iter()
        .position(|c| !is_trimmed(c))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|c| !is_trimmed(c))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

/// Sentinel sub-directives applied before any `monitor` line.
const PRE_MONITOR: &[&str] = &[
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
];

/// The order redis-sentinel applies `sentinel` directives in: global
/// pre-monitor settings, then every `monitor`, then the rest (so per-master
/// lines may precede their `monitor` line), each pass in file order.
pub fn sentinel_load_order(sentinel: &[Directive]) -> Vec<&Directive> {
    let pass = |d: &Directive| {
        let sub = d
            .args
            .get(1)
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        if PRE_MONITOR.contains(&sub.as_str()) {
            0
        } else if sub == "monitor" {
            1
        } else {
            2
        }
    };
    let mut ordered: Vec<&Directive> = sentinel.iter().collect();
    // A stable sort keeps file order within each pass.
    ordered.sort_by_key(|d| pass(d));
    ordered
}

/// `path` made absolute against the current directory (not canonicalized,
/// like Redis's `getAbsolutePath`).
pub fn absolute_path(path: &Path) -> io::Result<PathBuf> {
    std::path::absolute(path)
}

/// Sentinel refuses to run on a config file it could not save state to.
pub fn ensure_writable(path: &Path) -> Result<(), ConfigError> {
    let not_writable = |reason: String| ConfigError::NotWritable {
        path: path.display().to_string(),
        reason,
    };
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| not_writable("Invalid argument".into()))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::access(c_path.as_ptr(), libc::W_OK) };
    if rc == 0 {
        Ok(())
    } else {
        Err(not_writable(strerror(&io::Error::last_os_error())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directives(text: &str) -> Vec<Directive> {
        parse(text.as_bytes()).unwrap()
    }

    fn line_error(text: &str) -> (usize, String, String) {
        match parse(text.as_bytes()).unwrap_err() {
            ConfigError::Line {
                line_no,
                line,
                reason,
                ..
            } => (line_no, line, reason),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_line_empty_before_a_nul_byte_is_skipped() {
        // Found by fuzzing: such a line used to panic the reader.
        let d = parse(b"\x00junk\nport 1\n").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].args, ["port", "1"]);
        assert_eq!(d[0].line_no, 2);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_but_counted() {
        let d = directives("# c\n\n   \n  port 1 \r\n\t# indented\nhz 5");
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].line_no, d[0].line.as_str()), (4, "port 1"));
        assert_eq!(d[0].args, vec!["port", "1"]);
        assert_eq!(d[1].line_no, 6);
    }

    #[test]
    fn quoted_arguments_are_unquoted() {
        let d = directives(r#"requirepass "a b\x41" 'it\'s'"#);
        assert_eq!(d[0].args, vec!["requirepass", "a bA", "it's"]);
        assert_eq!(d[0].raw_args, [&b"requirepass"[..], b"a bA", b"it's"]);
        assert_eq!(d[0].line, r#"requirepass "a b\x41" 'it\'s'"#);
    }

    #[test]
    fn raw_arguments_keep_bytes_that_are_not_utf8() {
        let d = parse(b"requirepass \"\\xff\\xfe\"\nuser u on >\x80\x81\n").unwrap();
        assert_eq!(d[0].raw_args[1], b"\xff\xfe");
        assert_eq!(d[1].raw_args[3], b">\x80\x81");
    }

    #[test]
    fn unbalanced_quotes_are_fatal_with_the_line_number() {
        let (n, line, reason) = line_error("port 1\n  port 1 \"abc\n");
        assert_eq!((n, line.as_str()), (2, "port 1 \"abc"));
        assert_eq!(reason, "Unbalanced quotes in configuration line");
        assert_eq!(line_error("x \"a\"b").0, 1);
    }

    #[test]
    fn bare_sentinel_lines_are_ignored() {
        let d = directives("sentinel\nSENTINEL myid x\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].is_sentinel());
        assert_eq!(d[0].sentinel_args(), ["myid", "x"]);
    }

    #[test]
    fn command_line_options_continue_numbering_after_a_separator_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        std::fs::write(&file, "port 26999\n").unwrap();
        let cl = CommandLine::parse(&[file.to_str().unwrap(), "--port", "abc"]);
        let loaded = load(&cl, Vec::new).unwrap();
        let last = loaded.generic.last().unwrap();
        // "port 26999\n" + "\n" + options: the option is line 3, like Redis.
        assert_eq!((last.line_no, last.line.as_str()), (3, "port \"abc\""));

        std::fs::write(&file, "port 26999").unwrap();
        let loaded = load(&cl, Vec::new).unwrap();
        assert_eq!(loaded.generic.last().unwrap().line_no, 2);
    }

    #[test]
    fn load_splits_generic_and_sentinel_and_makes_the_path_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        std::fs::write(&file, "port 1\nSentinel monitor m 1.2.3.4 6379 2\nhz 5\n").unwrap();
        let loaded = load(&CommandLine::parse(&[file.to_str().unwrap()]), Vec::new).unwrap();
        assert!(loaded.path.unwrap().is_absolute());
        assert_eq!(loaded.generic.len(), 2);
        assert_eq!(loaded.sentinel.len(), 1);
        assert_eq!(loaded.sentinel[0].line_no, 2);
    }

    #[test]
    fn a_missing_config_file_is_fatal_with_redis_wording() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.conf");
        let err = load(&CommandLine::parse(&[missing.to_str().unwrap()]), Vec::new).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Fatal error, can't open config file '{}': No such file or directory",
                missing.display()
            )
        );
    }

    #[test]
    fn without_a_file_stdin_and_options_are_still_read() {
        // redis-sentinel loads them (reporting a bad line first), and only
        // then refuses to run without a file to save state in.
        let loaded = load(&CommandLine::parse(&["-", "--hz", "5"]), || {
            b"port 7\n".to_vec()
        })
        .unwrap();
        assert_eq!(loaded.path, None);
        assert_eq!(&*loaded.origin, "(standard input)");
        let lines: Vec<_> = loaded
            .generic
            .iter()
            .map(|d| (d.line_no, d.line.as_str()))
            .collect();
        assert_eq!(lines, vec![(1, "port 7"), (3, "hz \"5\"")]);
    }

    #[test]
    fn stdin_is_appended_to_the_file_as_is_and_numbered_through() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        std::fs::write(&file, "port 1\nbind 127.0.0.1\n").unwrap();
        let cl = CommandLine::parse(&[file.to_str().unwrap(), "--loglevel", "verbose", "-"]);
        let loaded = load(&cl, || b"frob 1\n".to_vec()).unwrap();
        let lines: Vec<_> = loaded
            .generic
            .iter()
            .map(|d| (d.line_no, d.line.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (1, "port 1"),
                (2, "bind 127.0.0.1"),
                (3, "frob 1"),
                (5, "loglevel \"verbose\"")
            ]
        );
        assert_eq!(&*loaded.generic[0].file, file.to_str().unwrap());
    }

    #[test]
    fn a_relative_include_after_dir_is_read_inside_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("inst")).unwrap();
        std::fs::write(dir.path().join("inst/inc.conf"), "hz 7\n").unwrap();
        let text = format!("dir {}\ndir inst\ninclude inc.conf\n", dir.path().display());
        let d = directives(&text);
        assert_eq!(d.last().unwrap().args, ["hz", "7"]);
        assert_eq!(
            &*d.last().unwrap().file,
            dir.path().join("inst/inc.conf").to_str().unwrap()
        );
        // A missing include is named as written, like Redis does.
        let err = parse(format!("dir {}\ninclude nope.conf", dir.path().display()).as_bytes());
        assert!(matches!(err, Err(ConfigError::CantOpen { ref path, .. }) if path == "nope.conf"));
    }

    #[test]
    fn include_expands_in_place_with_its_own_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "\nhz 7\nsentinel myid abc\n").unwrap();
        let text = format!("port 1\ninclude {}\nmaxclients 5\n", inc.display());
        let d = directives(&text);
        let names: Vec<_> = d.iter().map(|d| (d.args[0].as_str(), d.line_no)).collect();
        assert_eq!(
            names,
            vec![("port", 1), ("hz", 2), ("sentinel", 3), ("maxclients", 3)]
        );
    }

    #[test]
    fn missing_include_is_fatal_and_include_loops_stop() {
        let err = parse(b"include /nonexistent/x.conf").unwrap_err();
        assert!(
            matches!(err, ConfigError::CantOpen { ref path, .. } if path == "/nonexistent/x.conf")
        );
        let dir = tempfile::tempdir().unwrap();
        let me = dir.path().join("loop.conf");
        std::fs::write(&me, format!("include {}\n", me.display())).unwrap();
        assert!(matches!(
            parse(format!("include {}", me.display()).as_bytes()),
            Err(ConfigError::Line { .. })
        ));
    }

    #[test]
    fn sentinel_directives_load_in_three_passes_keeping_file_order() {
        let d = directives(
            "sentinel down-after-milliseconds m1 5000\n\
             sentinel monitor m1 1.1.1.1 6379 2\n\
             sentinel myid abc\n\
             sentinel known-replica m1 2.2.2.2 6379\n\
             sentinel MONITOR m2 1.1.1.2 6379 2\n\
             sentinel Announce-IP 1.2.3.4\n\
             sentinel current-epoch 3\n",
        );
        let order: Vec<usize> = sentinel_load_order(&d).iter().map(|d| d.line_no).collect();
        assert_eq!(order, vec![3, 6, 7, 2, 5, 1, 4]);
    }

    #[test]
    fn writable_check_reports_strerror() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        std::fs::write(&file, "").unwrap();
        assert_eq!(ensure_writable(&file), Ok(()));
        let missing = dir.path().join("nope.conf");
        assert_eq!(
            ensure_writable(&missing).unwrap_err().to_string(),
            format!(
                "Sentinel config file {} is not writable: No such file or directory. Exiting...",
                missing.display()
            )
        );
    }
}
