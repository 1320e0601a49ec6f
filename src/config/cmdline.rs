//! redis-sentinel's command line: `rsentinel <config-file> [--<directive> <args>...] [-]`,
//! where the options become extra config lines appended after the file, and
//! a lone `-` first or last appends standard input.

use std::path::PathBuf;

use crate::resp::split_args::{repr, split_args};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandLine {
    /// The config file, as given (not yet made absolute).
    pub config_file: Option<PathBuf>,
    /// A lone `-` as the first or the last argument: standard input is read
    /// and appended to the file's text, before the options.
    pub stdin: bool,
    /// The options rendered as config text, one directive per line, exactly
    /// as Redis builds it (arguments quoted with `sdscatrepr`). Empty when
    /// there are none.
    pub options: String,
}

impl CommandLine {
    /// Parses the arguments after the program name. The first argument is
    /// the config file unless it starts with `-`.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> CommandLine {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let (config_file, rest) = match args.first() {
            Some(first) if !first.starts_with('-') => (Some(PathBuf::from(first)), &args[1..]),
            _ => (None, &args[..]),
        };
        // Redis takes `-` for stdin only as the very first argument or the
        // last one; anywhere else it is an option value like any other.
        let stdin_at = (0..rest.len()).find(|&i| {
            rest[i] == "-" && ((i == 0 && config_file.is_none()) || i + 1 == rest.len())
        });
        CommandLine {
            config_file,
            stdin: stdin_at.is_some(),
            options: options_text(rest, stdin_at),
        }
    }
}

/// Turns `--name value...` arguments into config lines the way Redis 7.0
/// does, so line numbers and echoed lines in errors match. The argument at
/// `stdin_at` is the stdin marker: skipped, yet still seen by the look-ahead
/// of the option before it, as in Redis.
fn options_text(args: &[&str], stdin_at: Option<usize>) -> String {
    let mut out = String::new();
    // Whether the last option already has a value: only then does a `--x`
    // start a new option; otherwise it is taken as a value (`--port --x`).
    let mut last_has_value = true;
    for (i, arg) in args.iter().enumerate() {
        if Some(i) == stdin_at {
            continue;
        }
        let next_is_option = args.get(i + 1).is_some_and(|n| n.starts_with("--"));
        let is_last = i + 1 == args.len();
        if last_has_value && arg.starts_with("--") {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&arg[2..]);
            out.push(' ');
            let words = split_args(arg.as_bytes()).map_or(0, |w| w.len());
            last_has_value = words != 1;
            if words == 1 {
                // `--save` and `--sentinel` may stand alone (Redis keeps the
                // pre-7.0.1 behaviour for them): `--save` means `save ""`.
                let name = arg.to_ascii_lowercase();
                if name == "--save" && (next_is_option || is_last) {
                    out.push_str("\"\"");
                    last_has_value = true;
                } else if name == "--sentinel" && next_is_option {
                    last_has_value = true;
                }
            }
        } else {
            out.push_str(&repr(arg.as_bytes()));
            out.push(' ');
            last_has_value = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_argument_is_the_config_file() {
        let cl = CommandLine::parse(&["s.conf", "--port", "5"]);
        assert_eq!(cl.config_file, Some(PathBuf::from("s.conf")));
        assert_eq!(cl.options, "port \"5\" ");
    }

    #[test]
    fn no_config_file_when_first_argument_is_an_option() {
        let cl = CommandLine::parse(&["--port", "5"]);
        assert_eq!(cl.config_file, None);
        assert_eq!(cl.options, "port \"5\" ");
        assert_eq!(CommandLine::parse::<&str>(&[]), CommandLine::default());
    }

    #[test]
    fn options_become_one_line_each_with_quoted_values() {
        let cl = CommandLine::parse(&["f", "--port", "1", "2", "--maxclients", "a b"]);
        assert_eq!(cl.options, "port \"1\" \"2\" \nmaxclients \"a b\" ");
    }

    #[test]
    fn option_without_value_swallows_the_next_dashed_word() {
        let cl = CommandLine::parse(&["f", "--port", "--loglevel", "x"]);
        assert_eq!(cl.options, "port \"--loglevel\" \"x\" ");
    }

    #[test]
    fn name_and_value_in_one_argument_stay_unquoted() {
        let cl = CommandLine::parse(&["f", "--port abc", "--hz", "5"]);
        assert_eq!(cl.options, "port abc \nhz \"5\" ");
    }

    #[test]
    fn bare_sentinel_and_save_options_stand_alone() {
        let cl = CommandLine::parse(&["f", "--sentinel", "--port", "1"]);
        assert_eq!(cl.options, "sentinel \nport \"1\" ");
        let cl = CommandLine::parse(&["f", "--save"]);
        assert_eq!(cl.options, "save \"\"");
    }

    #[test]
    fn a_lone_dash_first_or_last_means_stdin() {
        let cl = CommandLine::parse(&["-"]);
        assert_eq!(
            (cl.config_file, cl.stdin, cl.options.as_str()),
            (None, true, "")
        );
        let cl = CommandLine::parse(&["-", "--port", "1"]);
        assert_eq!(
            (cl.config_file, cl.stdin, cl.options.as_str()),
            (None, true, "port \"1\" ")
        );
        let cl = CommandLine::parse(&["f", "--port", "1", "-"]);
        assert!(cl.stdin);
        assert_eq!(cl.options, "port \"1\" ");
        let cl = CommandLine::parse(&["f", "-"]);
        assert_eq!((cl.stdin, cl.options.as_str()), (true, ""));
    }

    #[test]
    fn a_dash_in_the_middle_is_an_option_value() {
        // redis-sentinel echoes it as line `"-"` in its FATAL block.
        let cl = CommandLine::parse(&["f", "-", "--loglevel", "verbose"]);
        assert!(!cl.stdin);
        assert_eq!(cl.options, "\"-\" \nloglevel \"verbose\" ");
    }
}
