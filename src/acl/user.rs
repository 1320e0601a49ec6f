//! An ACL user: on/off, passwords (SHA-256), flags, the root selector and
//! extra `(...)` selectors, with Redis's rule syntax and descriptions.

use sha2::{Digest, Sha256};

use super::selector::{RuleError, Selector};

/// SHA-256 of a password as 64 lower-case hex digits, the form Redis stores
/// and shows (`#<hash>`).
pub fn hash_password(pass: &[u8]) -> String {
    Sha256::digest(pass)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_valid_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `sanitize-payload` / `skip-sanitize-payload` (only stored and shown: a
/// sentinel has no payloads to sanitize).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitize {
    Sanitize,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// Password hashes, in the order they were added.
    pub passwords: Vec<String>,
    pub sanitize: Option<Sanitize>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: `off resetchannels -@all`.
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            sanitize: None,
            root: Selector::default(),
            selectors: Vec::new(),
        }
    }

    /// The built-in `default` user: `on nopass ~* &* +@all`.
    pub fn new_default() -> User {
        let mut u = User::new("default");
        for op in ["on", "nopass", "~*", "&*", "+@all"] {
            u.apply(op).expect("default rules are valid");
        }
        u
    }

    /// Apply one rule (after selector arguments were merged).
    pub fn apply(&mut self, op: &str) -> Result<(), RuleError> {
        match op {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "sanitize-payload" => self.sanitize = Some(Sanitize::Sanitize),
            "skip-sanitize-payload" => self.sanitize = Some(Sanitize::Skip),
            "clearselectors" => self.selectors.clear(),
            "reset" => {
                for op in [
                    "resetpass",
                    "resetkeys",
                    "resetchannels",
                    "off",
                    "clearselectors",
                    "-@all",
                    "sanitize-payload",
                ] {
                    self.apply(op)?;
                }
            }
            _ if op.starts_with('>') => {
                self.add_hash(hash_password(&op.as_bytes()[1..]));
            }
            _ if op.starts_with('#') => {
                if !is_valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                self.add_hash(op[1..].to_string());
            }
            _ if op.starts_with('<') => {
                self.remove_hash(&hash_password(&op.as_bytes()[1..]))?;
            }
            _ if op.starts_with('!') => {
                if !is_valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                self.remove_hash(&op[1..])?;
            }
            _ if op.starts_with('(') && op.ends_with(')') && op.len() >= 2 => {
                let mut sel = Selector::default();
                for inner in op[1..op.len() - 1].split(' ') {
                    sel.apply(inner)?;
                }
                self.selectors.push(sel);
            }
            _ => self.root.apply(op)?,
        }
        Ok(())
    }

    fn add_hash(&mut self, h: String) {
        self.nopass = false;
        if !self.passwords.contains(&h) {
            self.passwords.push(h);
        }
    }

    fn remove_hash(&mut self, h: &str) -> Result<(), RuleError> {
        let before = self.passwords.len();
        self.passwords.retain(|p| p != h);
        if self.passwords.len() == before {
            return Err(RuleError::NoSuchPassword);
        }
        self.nopass = false;
        Ok(())
    }

    /// Whether `pass` opens this user (disabled users never authenticate).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&hash_password(pass)))
    }

    /// The flags `ACL GETUSER` lists, in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(Sanitize::Skip) => f.push("skip-sanitize-payload"),
            Some(Sanitize::Sanitize) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// The `ACL LIST` / config-file line: `user default on nopass ~* &* +@all`.
    pub fn describe(&self) -> String {
        let mut parts = vec!["user".to_string(), self.name.clone()];
        parts.extend(self.flags().iter().map(|f| f.to_string()));
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        parts.push(self.root.describe());
        parts.extend(self.selectors.iter().map(|s| format!("({})", s.describe())));
        parts.join(" ")
    }
}

/// Join arguments that belong to one `(...)` selector, as Redis does when a
/// selector was split on spaces (`(~x`, `+ping)` → `(~x +ping)`).
pub fn merge_selector_args(args: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None; // (first arg, joined)
    for a in args {
        match &mut open {
            Some((_, joined)) => {
                joined.push(' ');
                joined.push_str(a);
                if a.ends_with(')') {
                    out.push(open.take().unwrap().1);
                }
            }
            None if a.starts_with('(') && !a.ends_with(')') => {
                open = Some((a.clone(), a.clone()));
            }
            None => out.push(a.clone()),
        }
    }
    if let Some((first, _)) = open {
        return Err(format!(
            "Unmatched parenthesis in acl selector starting at '{first}'."
        ));
    }
    Ok(out)
}
