//! Minimal RESP framing for the elect subcommands: writing commands as
//! arrays of bulk strings and reading replies (simple, error, integer, bulk,
//! array). Sizes are bounded so a bad peer cannot make us allocate much.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

use super::error::ElectError;

const MAX_BULK: usize = 1 << 20;
const MAX_ITEMS: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The value as text (simple and bulk strings).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Simple(s) => Some(s.clone()),
            Value::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Encodes `args` as a RESP array of bulk strings.
pub fn encode<S: AsRef<str>>(args: &[S]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref().as_bytes();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn line<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<String>, ElectError> {
    let mut buf = Vec::new();
    let n = (&mut *r)
        .take(MAX_BULK as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\r\n") {
        return Err(ElectError::Protocol("line without CRLF".into()));
    }
    buf.truncate(buf.len() - 2);
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| ElectError::Protocol("non-UTF-8 header".into()))
}

fn int(s: &str) -> Result<i64, ElectError> {
    s.parse()
        .map_err(|_| ElectError::Protocol(format!("bad integer '{s}'")))
}

/// Reads one value; `Ok(None)` on a clean end of stream.
pub async fn read_value<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<Value>, ElectError> {
    let Some(head) = line(r).await? else {
        return Ok(None);
    };
    let (kind, rest) = head.split_at(head.len().min(1));
    let v = match kind {
        "+" => Value::Simple(rest.to_string()),
        "-" => Value::Error(rest.to_string()),
        ":" => Value::Int(int(rest)?),
        "$" => {
            let len = int(rest)?;
            if len < 0 {
                Value::Bulk(None)
            } else if len as usize > MAX_BULK {
                return Err(ElectError::Protocol("bulk too large".into()));
            } else {
                let mut data = vec![0; len as usize + 2];
                r.read_exact(&mut data).await?;
                data.truncate(len as usize);
                Value::Bulk(Some(data))
            }
        }
        "*" => {
            let len = int(rest)?;
            if len < 0 {
                Value::Array(None)
            } else if len as usize > MAX_ITEMS {
                return Err(ElectError::Protocol("array too long".into()));
            } else {
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    let item = Box::pin(read_value(r))
                        .await?
                        .ok_or_else(|| ElectError::Protocol("truncated array".into()))?;
                    items.push(item);
                }
                Value::Array(Some(items))
            }
        }
        _ => return Err(ElectError::Protocol(format!("unknown reply type '{head}'"))),
    };
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn encoded_commands_read_back_as_arrays_of_bulks() {
        let bytes = encode(&["SET", "/controller", "1"]);
        assert_eq!(
            bytes,
            b"*3\r\n$3\r\nSET\r\n$11\r\n/controller\r\n$1\r\n1\r\n"
        );
        let mut r = &bytes[..];
        let v = read_value(&mut r).await.unwrap().unwrap();
        let Value::Array(Some(items)) = v else {
            panic!("not an array")
        };
        let texts: Vec<String> = items.iter().filter_map(Value::text).collect();
        assert_eq!(texts, vec!["SET", "/controller", "1"]);
        assert_eq!(read_value(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn reply_kinds() {
        let mut r: &[u8] = b"+OK\r\n-ERR no\r\n:42\r\n$-1\r\n*-1\r\n*2\r\n$1\r\n7\r\n$-1\r\n";
        assert_eq!(
            read_value(&mut r).await.unwrap(),
            Some(Value::Simple("OK".into()))
        );
        assert_eq!(
            read_value(&mut r).await.unwrap(),
            Some(Value::Error("ERR no".into()))
        );
        assert_eq!(read_value(&mut r).await.unwrap(), Some(Value::Int(42)));
        assert_eq!(read_value(&mut r).await.unwrap(), Some(Value::Bulk(None)));
        assert_eq!(read_value(&mut r).await.unwrap(), Some(Value::Array(None)));
        assert_eq!(
            read_value(&mut r).await.unwrap(),
            Some(Value::Array(Some(vec![
                Value::Bulk(Some(b"7".to_vec())),
                Value::Bulk(None)
            ])))
        );
    }

    #[tokio::test]
    async fn garbage_is_a_protocol_error() {
        let mut r: &[u8] = b"?what\r\n";
        assert!(read_value(&mut r).await.is_err());
        let mut r: &[u8] = b"$5\r\nab";
        assert!(read_value(&mut r).await.is_err());
    }
}
