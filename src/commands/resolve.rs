//! Turning a request's argv into a command of the table, with Redis's exact
//! errors for unknown commands, unknown subcommands and wrong arity.

use rsentinel_core::reply::Reply;

use super::table::{lookup_bytes, CommandSpec};

/// Redis prints at most this many bytes of a user-supplied name, and stops
/// appending arguments once the argument list reaches it.
const SHOWN_BYTES: usize = 128;

/// Find the command (and subcommand) `args` names and check its arity, in the
/// order Redis does: unknown command, then unknown subcommand, then arity of
/// whichever was found. A container called without a subcommand (`SENTINEL`)
/// resolves to the container itself and so fails its arity check.
pub fn resolve(
    args: &[Vec<u8>],
) -> Result<(&'static CommandSpec, Option<&'static CommandSpec>), Reply> {
    let Some(name) = args.first() else {
        return Err(unknown_command(b"", &[]));
    };
    let Some(cmd) = lookup_bytes(name) else {
        return Err(unknown_command(name, &args[1..]));
    };
    if cmd.is_container() && args.len() >= 2 {
        let Some(sub) = cmd.subcommand_bytes(&args[1]) else {
            return Err(unknown_subcommand(name, &args[1]));
        };
        if !sub.accepts_argc(args.len()) {
            return Err(wrong_arity(sub.full_name));
        }
        return Ok((cmd, Some(sub)));
    }
    if !cmd.arity_ok(args.len()) {
        return Err(wrong_arity(cmd.full_name));
    }
    Ok((cmd, None))
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' ` — each
/// argument quoted and followed by a space, appended while the list is
/// shorter than 128 bytes, each cut to what is left of those 128.
pub fn unknown_command(name: &[u8], args: &[Vec<u8>]) -> Reply {
    let mut shown: Vec<u8> = Vec::new();
    for arg in args {
        if shown.len() >= SHOWN_BYTES {
            break;
        }
        let room = SHOWN_BYTES - shown.len();
        shown.push(b'\'');
        shown.extend_from_slice(c_str_prefix(arg, room));
        shown.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(c_str_prefix(name, SHOWN_BYTES));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&shown);
    Reply::Error(error_text(msg))
}

/// `ERR unknown subcommand 'x'. Try SENTINEL HELP.` — the container name is
/// upper-cased as the client typed it.
pub fn unknown_subcommand(cmd: &[u8], sub: &[u8]) -> Reply {
    let mut msg = b"ERR unknown subcommand '".to_vec();
    msg.extend_from_slice(c_str_prefix(sub, SHOWN_BYTES));
    msg.extend_from_slice(b"'. Try ");
    msg.extend(c_str_prefix(cmd, usize::MAX).to_ascii_uppercase());
    msg.extend_from_slice(b" HELP.");
    Reply::Error(error_text(msg))
}

/// `ERR wrong number of arguments for 'sentinel|set' command`.
pub fn wrong_arity(full_name: &str) -> Reply {
    Reply::err(format!(
        "wrong number of arguments for '{full_name}' command"
    ))
}

/// What C's `%.Ns` prints of a byte string: up to the first NUL, at most
/// `max` bytes.
fn c_str_prefix(s: &[u8], max: usize) -> &[u8] {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(max);
    &s[..end]
}

/// Redis replaces CR and LF in error text with spaces so that user input
/// cannot break the protocol. Non-UTF-8 bytes cannot live in a `Reply`
/// string and are replaced.
fn error_text(mut msg: Vec<u8>) -> String {
    for b in &mut msg {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    String::from_utf8_lossy(&msg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn err_of(words: &[&str]) -> String {
        match resolve(&argv(words)) {
            Err(Reply::Error(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_command_lists_quoted_args_with_trailing_space() {
        assert_eq!(
            err_of(&["foo", "a", "b"]),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            err_of(&["Foo"]),
            "ERR unknown command 'Foo', with args beginning with: "
        );
    }

    #[test]
    fn unknown_command_truncates_at_128_bytes() {
        let long = "x".repeat(200);
        assert_eq!(
            err_of(&["foo", &long, "b"]),
            format!(
                "ERR unknown command 'foo', with args beginning with: '{}' ",
                "x".repeat(128)
            )
        );
        assert_eq!(
            err_of(&[&long]),
            format!(
                "ERR unknown command '{}', with args beginning with: ",
                "x".repeat(128)
            )
        );
        let many: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        let mut words = vec!["foo"];
        words.extend(many.iter().map(|s| s.as_str()));
        let shown: String = (0..28).map(|i| format!("'{i}' ")).collect();
        assert_eq!(
            err_of(&words),
            format!("ERR unknown command 'foo', with args beginning with: {shown}")
        );
    }

    #[test]
    fn newlines_in_args_become_spaces() {
        assert_eq!(
            err_of(&["foo", "a\r\nb"]),
            "ERR unknown command 'foo', with args beginning with: 'a  b' "
        );
    }

    #[test]
    fn quit_is_unknown_in_sentinel_mode() {
        assert_eq!(
            err_of(&["quit"]),
            "ERR unknown command 'quit', with args beginning with: "
        );
    }

    #[test]
    fn unknown_subcommand_names_the_container_in_upper_case() {
        assert_eq!(
            err_of(&["Sentinel", "nosuch", "x"]),
            "ERR unknown subcommand 'nosuch'. Try SENTINEL HELP."
        );
        assert_eq!(
            err_of(&["client", "x"]),
            "ERR unknown subcommand 'x'. Try CLIENT HELP."
        );
    }

    #[test]
    fn arity_errors_use_the_full_name() {
        assert_eq!(
            err_of(&["sentinel", "SET", "x", "y"]),
            "ERR wrong number of arguments for 'sentinel|set' command"
        );
        assert_eq!(
            err_of(&["role", "x"]),
            "ERR wrong number of arguments for 'role' command"
        );
        // PING's table arity is -1: its handler, not the table, rejects
        // `PING a b` (with the same wording, via `wrong_arity`).
        assert!(resolve(&argv(&["ping", "a", "b"])).is_ok());
        assert_eq!(
            err_of(&["sentinel"]),
            "ERR wrong number of arguments for 'sentinel' command"
        );
    }

    #[test]
    fn valid_requests_resolve_to_command_and_subcommand() {
        let (c, s) = resolve(&argv(&["SENTINEL", "primary", "mymaster"])).unwrap();
        assert_eq!((c.name, s.unwrap().name), ("sentinel", "primary"));
        let (c, s) = resolve(&argv(&["ping"])).unwrap();
        assert_eq!(c.name, "ping");
        assert!(s.is_none());
        // Non-container commands do not look at their first argument.
        assert!(resolve(&argv(&["info", "a", "b"])).is_ok());
    }
}
