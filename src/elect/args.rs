//! A small `--flag value` parser for the elect subcommands.

use std::collections::BTreeMap;

use super::error::ElectError;

/// Parsed flags: `--name value` pairs and bare `--switch`es.
#[derive(Debug, Default)]
pub struct Flags {
    values: BTreeMap<String, String>,
    switches: Vec<String>,
}

impl Flags {
    /// `switches` lists the flags that take no value.
    pub fn parse(args: &[String], switches: &[&str]) -> Result<Flags, ElectError> {
        let mut flags = Flags::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(ElectError::Usage(format!("unexpected argument '{a}'")));
            };
            if switches.contains(&name) {
                flags.switches.push(name.to_string());
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| ElectError::Usage(format!("--{name} needs a value")))?;
            flags.values.insert(name.to_string(), value.clone());
        }
        Ok(flags)
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name) || self.switches.iter().any(|s| s == name)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn num(&self, name: &str) -> Result<Option<u64>, ElectError> {
        self.str(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| ElectError::Usage(format!("--{name} needs a number, got '{v}'")))
            })
            .transpose()
    }

    pub fn num_or(&self, name: &str, default: u64) -> Result<u64, ElectError> {
        Ok(self.num(name)?.unwrap_or(default))
    }

    /// Rejects flags outside `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ElectError> {
        for name in self.values.keys().chain(self.switches.iter()) {
            if !allowed.contains(&name.as_str()) {
                return Err(ElectError::Usage(format!("unknown option --{name}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn values_and_switches() {
        let f = Flags::parse(&args("--nodes 5 --kill-leader --seed 9"), &["kill-leader"]).unwrap();
        assert_eq!(f.num("nodes").unwrap(), Some(5));
        assert!(f.has("kill-leader"));
        assert_eq!(f.num_or("seed", 1).unwrap(), 9);
        assert!(f.only(&["nodes", "seed"]).is_err());
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        assert!(Flags::parse(&args("nodes 5"), &[]).is_err());
        assert!(Flags::parse(&args("--nodes"), &[]).is_err());
        let f = Flags::parse(&args("--nodes x"), &[]).unwrap();
        assert!(f.num("nodes").is_err());
    }
}
