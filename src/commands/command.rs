//! The `COMMAND` command: introspection of the sentinel command table
//! (`COUNT`, `LIST`, `INFO`, `DOCS`, `GETKEYS[ANDFLAGS]`, `HELP`), replying
//! with the same shapes redis-sentinel 7.0 does.

use rsentinel_core::glob::glob_match;
use rsentinel_core::reply::Reply;

use super::resolve::{unknown_subcommand, wrong_arity};
use super::table::{
    all_commands, lookup, lookup_listed, Arg, BeginSearch, CommandDocs, CommandSpec, FindKeys,
    KeySpec, COMMANDS,
};

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// Answer `COMMAND ...` (`args` includes the word COMMAND). Arity and
/// subcommand errors are normally caught by `resolve` first; they are
/// re-checked here so the handler is safe to call on its own.
pub fn command(args: &[Vec<u8>], resp3: bool) -> Reply {
    let out = Out { resp3 };
    if args.len() < 2 {
        return Reply::Array(COMMANDS.iter().map(|c| out.info(c)).collect());
    }
    let Some(sub) = lookup("command").and_then(|c| c.subcommand(&text(&args[1]))) else {
        return unknown_subcommand(&args[0], &args[1]);
    };
    if !sub.arity_ok(args.len()) {
        return wrong_arity(sub.full_name);
    }
    let names = &args[2..];
    match sub.name {
        "count" => Reply::Int(COMMANDS.len() as i64),
        "list" => list(names),
        "info" if names.is_empty() => Reply::Array(COMMANDS.iter().map(|c| out.info(c)).collect()),
        "info" => Reply::Array(
            names
                .iter()
                .map(|n| lookup_listed(&text(n)).map_or(Reply::Null, |c| out.info(c)))
                .collect(),
        ),
        "docs" if names.is_empty() => out.map(
            COMMANDS
                .iter()
                .map(|c| (Reply::bulk(c.full_name), out.docs(c)))
                .collect(),
        ),
        // Unknown names are left out of DOCS, unlike INFO's null entries.
        "docs" => out.map(
            names
                .iter()
                .filter_map(|n| lookup_listed(&text(n)))
                .map(|c| (Reply::bulk(c.full_name), out.docs(c)))
                .collect(),
        ),
        "getkeys" | "getkeysandflags" => getkeys(names),
        _ => Reply::Array(HELP.iter().map(|l| Reply::Simple(l.to_string())).collect()),
    }
}

/// `COMMAND LIST [FILTERBY MODULE|ACLCAT|PATTERN x]`: full names of every
/// command and subcommand that passes the filter.
fn list(rest: &[Vec<u8>]) -> Reply {
    let filter: Box<dyn Fn(&CommandSpec) -> bool> = match rest {
        [] => Box::new(|_| true),
        [by, kind, value] if by.eq_ignore_ascii_case(b"filterby") => {
            let value = text(value);
            if kind.eq_ignore_ascii_case(b"module") {
                // No module commands exist in a sentinel.
                Box::new(|_| false)
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                let cat = value.to_ascii_lowercase();
                Box::new(move |c| c.in_category(&cat))
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                Box::new(move |c| glob_match(value.as_bytes(), c.full_name.as_bytes(), true))
            } else {
                return Reply::err("syntax error");
            }
        }
        _ => return Reply::err("syntax error"),
    };
    Reply::Array(
        all_commands()
            .filter(|c| !c.is_valkey_alias() && filter(c))
            .map(|c| Reply::bulk(c.full_name))
            .collect(),
    )
}

/// `COMMAND GETKEYS[ANDFLAGS] cmd args...`: no sentinel command has keys, so
/// after finding the command the answer is always Redis's "no key" error.
fn getkeys(full: &[Vec<u8>]) -> Reply {
    let found = lookup(&text(&full[0])).and_then(|c| {
        if c.is_container() && full.len() >= 2 {
            c.subcommand(&text(&full[1]))
                .filter(|s| !s.is_valkey_alias())
        } else {
            Some(c)
        }
    });
    match found {
        None => Reply::err("Invalid command specified"),
        Some(c) if c.key_specs.is_empty() && c.first_key == 0 => {
            Reply::err("The command has no key arguments")
        }
        Some(_) => Reply::err("Invalid number of arguments specified for command"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Builds replies for one protocol version.
struct Out {
    resp3: bool,
}

impl Out {
    /// A RESP3 map, or the flat field/value array RESP2 clients get.
    fn map(&self, pairs: Vec<(Reply, Reply)>) -> Reply {
        if self.resp3 {
            Reply::Map(pairs)
        } else {
            Reply::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
    }

    fn field_map(&self, pairs: Vec<(&str, Reply)>) -> Reply {
        self.map(
            pairs
                .into_iter()
                .map(|(k, v)| (Reply::bulk(k), v))
                .collect(),
        )
    }

    /// Redis sends flags, categories, tips and key specs as RESP3 sets
    /// (RESP2 clients receive arrays).
    fn set(&self, items: Vec<Reply>) -> Reply {
        Reply::Set(items)
    }

    fn simple_set(&self, items: impl IntoIterator<Item = String>) -> Reply {
        self.set(items.into_iter().map(Reply::Simple).collect())
    }

    /// One `COMMAND INFO` entry: the 10-element array.
    fn info(&self, c: &CommandSpec) -> Reply {
        let subcommands = if c.is_container() {
            Reply::Array(c.listed_subcommands().map(|s| self.info(s)).collect())
        } else {
            self.set(vec![])
        };
        Reply::Array(vec![
            Reply::bulk(c.full_name),
            Reply::Int(c.arity.into()),
            self.simple_set(c.flags.iter().map(|f| f.to_string())),
            Reply::Int(c.first_key.into()),
            Reply::Int(c.last_key.into()),
            Reply::Int(c.key_step.into()),
            self.simple_set(c.acl_categories.iter().map(|a| format!("@{a}"))),
            self.set(c.tips.iter().map(Reply::bulk).collect()),
            self.set(c.key_specs.iter().map(|k| self.key_spec(k)).collect()),
            subcommands,
        ])
    }

    fn key_spec(&self, k: &KeySpec) -> Reply {
        let (begin_type, begin) = match k.begin_search {
            BeginSearch::Index(i) => ("index", vec![("index", Reply::Int(i.into()))]),
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => (
                "keyword",
                vec![
                    ("keyword", Reply::bulk(keyword)),
                    ("startfrom", Reply::Int(start_from.into())),
                ],
            ),
        };
        let (find_type, find) = match k.find_keys {
            FindKeys::Range {
                last_key,
                key_step,
                limit,
            } => (
                "range",
                vec![
                    ("lastkey", Reply::Int(last_key.into())),
                    ("keystep", Reply::Int(key_step.into())),
                    ("limit", Reply::Int(limit.into())),
                ],
            ),
            FindKeys::Keynum {
                keynum_idx,
                first_key,
                key_step,
            } => (
                "keynum",
                vec![
                    ("keynumidx", Reply::Int(keynum_idx.into())),
                    ("firstkey", Reply::Int(first_key.into())),
                    ("keystep", Reply::Int(key_step.into())),
                ],
            ),
        };
        self.field_map(vec![
            (
                "flags",
                self.simple_set(k.flags.iter().map(|f| f.to_string())),
            ),
            (
                "begin_search",
                self.field_map(vec![
                    ("type", Reply::bulk(begin_type)),
                    ("spec", self.field_map(begin)),
                ]),
            ),
            (
                "find_keys",
                self.field_map(vec![
                    ("type", Reply::bulk(find_type)),
                    ("spec", self.field_map(find)),
                ]),
            ),
        ])
    }

    /// One `COMMAND DOCS` value: optional fields appear only when set, in
    /// Redis's field order.
    fn docs(&self, c: &CommandSpec) -> Reply {
        let d: &CommandDocs = &c.docs;
        let mut f = vec![
            ("summary", Reply::bulk(d.summary)),
            ("since", Reply::bulk(d.since)),
            ("group", Reply::bulk(d.group)),
        ];
        if let Some(x) = d.complexity {
            f.push(("complexity", Reply::bulk(x)));
        }
        if !d.doc_flags.is_empty() {
            f.push((
                "doc_flags",
                self.simple_set(d.doc_flags.iter().map(|s| s.to_string())),
            ));
        }
        if let Some(x) = d.deprecated_since {
            f.push(("deprecated_since", Reply::bulk(x)));
        }
        if let Some(x) = d.replaced_by {
            f.push(("replaced_by", Reply::bulk(x)));
        }
        if !d.history.is_empty() {
            let h = d
                .history
                .iter()
                .map(|(v, what)| Reply::Array(vec![Reply::bulk(v), Reply::bulk(what)]))
                .collect();
            f.push(("history", self.set(h)));
        }
        if !d.arguments.is_empty() {
            f.push(("arguments", self.args(d.arguments)));
        }
        if c.is_container() {
            let subs = c
                .listed_subcommands()
                .map(|s| (Reply::bulk(s.full_name), self.docs(s)))
                .collect();
            f.push(("subcommands", self.map(subs)));
        }
        self.field_map(f)
    }

    fn args(&self, args: &[Arg]) -> Reply {
        Reply::Array(args.iter().map(|a| self.arg(a)).collect())
    }

    fn arg(&self, a: &Arg) -> Reply {
        let mut f = vec![("name", Reply::bulk(a.name)), ("type", Reply::bulk(a.kind))];
        if let Some(i) = a.key_spec_index {
            f.push(("key_spec_index", Reply::Int(i.into())));
        }
        for (k, v) in [
            ("token", a.token),
            ("summary", a.summary),
            ("since", a.since),
            ("deprecated_since", a.deprecated_since),
        ] {
            if let Some(v) = v {
                f.push((k, Reply::bulk(v)));
            }
        }
        if !a.flags.is_empty() {
            f.push((
                "flags",
                self.simple_set(a.flags.iter().map(|s| s.to_string())),
            ));
        }
        if !a.arguments.is_empty() {
            f.push(("arguments", self.args(a.arguments)));
        }
        self.field_map(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str], resp3: bool) -> Reply {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        command(&args, resp3)
    }

    fn bulk_strings(r: &Reply) -> Vec<String> {
        match r {
            Reply::Array(items) => items
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect(),
            other => panic!("not an array: {other:?}"),
        }
    }

    #[test]
    fn count_is_the_number_of_top_level_commands() {
        assert_eq!(run(&["command", "count"], false), Reply::Int(15));
    }

    #[test]
    fn list_includes_subcommands_but_not_the_valkey_aliases() {
        let all = bulk_strings(&run(&["command", "list"], false));
        // redis-sentinel 7.0 lists exactly 72 names.
        assert_eq!(all.len(), 72);
        assert!(all.contains(&"sentinel|set".to_string()));
        assert!(!all.iter().any(|n| n.contains("primar")));
        assert_eq!(
            run(&["command", "info", "sentinel|primary"], false),
            Reply::Array(vec![Reply::Null])
        );
        assert!(all.contains(&"ping".to_string()));
        assert!(!all.contains(&"quit".to_string()));
    }

    #[test]
    fn list_filters_by_pattern_without_case() {
        let helps = bulk_strings(&run(
            &["command", "list", "FILTERBY", "pattern", "*|H?LP"],
            false,
        ));
        assert_eq!(
            helps,
            ["acl|help", "client|help", "command|help", "sentinel|help"]
        );
    }

    #[test]
    fn list_filters_by_acl_category() {
        let admin = bulk_strings(&run(
            &["command", "list", "filterby", "aclcat", "ADMIN"],
            false,
        ));
        assert!(admin.contains(&"sentinel|set".to_string()));
        assert!(!admin.contains(&"sentinel|help".to_string()));
        assert!(!admin.contains(&"ping".to_string()));
        let none = run(&["command", "list", "filterby", "aclcat", "@admin"], false);
        assert_eq!(none, Reply::Array(vec![]));
    }

    #[test]
    fn list_with_bad_filter_is_a_syntax_error() {
        for words in [
            &["command", "list", "x"][..],
            &["command", "list", "filterby", "foo", "x"],
            &["command", "list", "filterby", "aclcat", "x", "y"],
        ] {
            assert_eq!(run(words, false), Reply::err("syntax error"));
        }
    }

    #[test]
    fn info_gives_null_for_unknown_names() {
        match run(
            &["command", "info", "nosuch", "PING", "sentinel|set"],
            false,
        ) {
            Reply::Array(items) => {
                assert_eq!(items[0], Reply::Null);
                assert!(matches!(&items[1], Reply::Array(e) if e[0] == Reply::bulk("ping")));
                assert!(
                    matches!(&items[2], Reply::Array(e) if e[0] == Reply::bulk("sentinel|set") && e[1] == Reply::Int(-5))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn docs_skip_unknown_names_and_are_a_map_in_resp3() {
        match run(&["command", "docs", "nosuch", "ping"], true) {
            Reply::Map(pairs) => {
                assert_eq!(pairs.len(), 1);
                assert_eq!(pairs[0].0, Reply::bulk("ping"));
            }
            other => panic!("{other:?}"),
        }
        match run(&["command", "docs", "ping"], false) {
            Reply::Array(items) => assert_eq!(items.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn getkeys_reports_no_keys_or_invalid_command() {
        assert_eq!(
            run(&["command", "getkeys", "sentinel", "set"], false),
            Reply::err("The command has no key arguments")
        );
        assert_eq!(
            run(&["command", "getkeysandflags", "get", "k"], false),
            Reply::err("Invalid command specified")
        );
        assert_eq!(
            run(&["command", "getkeys", "sentinel", "nosuch"], false),
            Reply::err("Invalid command specified")
        );
        assert_eq!(
            run(&["command", "getkeys", "ping"], false),
            wrong_arity("command|getkeys")
        );
    }

    #[test]
    fn unknown_subcommand_points_to_command_help() {
        assert_eq!(
            run(&["command", "foo"], false),
            Reply::err("unknown subcommand 'foo'. Try COMMAND HELP.")
        );
    }
}
