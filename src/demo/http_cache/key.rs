//! Turning an HTTP request into a cache key: one key per *meaning*, not per spelling. The method
//! and host are case-folded, escapes of plain characters decoded, cache-busters dropped, hex values
//! (addresses, tx hashes) lower-cased and the query parameters sorted; a long result is hashed.

use anyhow::{Result, bail};

use sha2::{Digest, Sha256};

/// Query parameters that change on every call without changing the answer (cache-busters, request
/// timestamps, nonces): they are left out of the key.
pub const VOLATILE_PARAMS: &[&str] = &["_", "t", "ts", "timestamp", "nonce"];
/// Keys up to this many bytes stay readable; longer ones become `http:{host}:sha256:{digest}`.
pub const MAX_READABLE_KEY: usize = 100;

/// A request in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Upper case: `GET`.
    pub method: String,
    /// Lower case, default port dropped: `https`, `www.oklink.com`.
    pub scheme: String,
    pub host: String,
    /// Escapes normalised; never empty (`/` at least).
    pub path: String,
    /// Volatile parameters dropped, sorted by name (repeated names keep their order).
    pub params: Vec<(String, String)>,
}

impl Request {
    /// Parse `url` (`scheme://host[:port]/path?query#fragment`) and normalise it.
    pub fn parse(method: &str, url: &str) -> Result<Request> {
        let method = method.trim().to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            bail!("{method:?} is not an HTTP method");
        }
        let Some((scheme, rest)) = url.trim().split_once("://") else {
            bail!("{url:?} is not an absolute URL (no scheme://)");
        };
        let scheme = scheme.to_ascii_lowercase();
        // The fragment never reaches the server.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, path_and_query) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let mut host = authority.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => Some(":443"),
            "http" => Some(":80"),
            _ => None,
        };
        if let Some(port) = default_port
            && host.ends_with(port)
        {
            host.truncate(host.len() - port.len());
        }
        if host.is_empty() {
            bail!("{url:?} has no host");
        }
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let path = if path.is_empty() { "/".to_string() } else { normalise_escapes(path) };
        let mut params: Vec<(String, String)> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (normalise_escapes(name), normalise_value(&normalise_escapes(value)))
            })
            .filter(|(name, _)| !VOLATILE_PARAMS.contains(&name.as_str()))
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Request { method, scheme, host, path, params })
    }

    /// `GET https://host/path?a=1&b=2`: the text a key is made of.
    pub fn canonical(&self) -> String {
        format!("{} {}://{}{}", self.method, self.scheme, self.host, self.path_and_query())
    }

    /// `/path?a=1&b=2`.
    pub fn path_and_query(&self) -> String {
        if self.params.is_empty() {
            return self.path.clone();
        }
        let query: Vec<String> = self.params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        format!("{}?{}", self.path, query.join("&"))
    }

    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The key (before the run's namespace): `http:{host}:{METHOD} {path?query}` when short,
    /// `http:{host}:sha256:{digest of the canonical request}` when long. The host stays readable so
    /// that one API's entries can be found (SCAN MATCH) and counted.
    pub fn cache_key(&self) -> String {
        let readable = format!("http:{}:{} {}", self.host, self.method, self.path_and_query());
        if readable.len() <= MAX_READABLE_KEY {
            readable
        } else {
            format!("http:{}:sha256:{}", self.host, hex_digest(self.canonical().as_bytes()))
        }
    }
}

/// The key a cache that does not normalise would use: the raw text, as it came.
pub fn naive_key(method: &str, url: &str) -> String {
    format!("http-raw:{method} {url}")
}

/// RFC 3986 §6.2.2: decode escapes of unreserved characters (`%61` → `a`) and upper-case the hex of
/// the others (`%2f` → `%2F`). Everything else stays as written: `+` and `%2B` mean different things
/// in a query, so neither is turned into the other.
fn normalise_escapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            let decoded = hi * 16 + lo;
            if is_unreserved(decoded) {
                out.push(decoded);
            } else {
                out.extend_from_slice(format!("%{decoded:02X}").as_bytes());
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // Only ASCII was decoded or added, so the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Hex values (`0x…`: addresses, tx hashes) are case-insensitive: EIP-55's mixed-case checksum
/// spelling of an address is the same address.
fn normalise_value(value: &str) -> String {
    let is_hex = value.len() > 2
        && (value.starts_with("0x") || value.starts_with("0X"))
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex { value.to_ascii_lowercase() } else { value.to_string() }
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Lower-case hex SHA-256 of `data`.
fn hex_digest(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: &str = "0x4838b106fce9647bdf1e7877bf73ce8b0bad5f97";
    const ADDR_CHECKSUM: &str = "0x4838B106FCe9647Bdf1E7877BF73cE8B0BAD5f97";

    fn key(method: &str, url: &str) -> String {
        Request::parse(method, url).unwrap().cache_key()
    }

    #[test]
    fn spellings_of_one_request_share_one_key() {
        let base =
            format!("https://www.oklink.com/api/v5/explorer/address/address-summary?chainShortName=eth&address={ADDR}");
        let spellings = [
            format!("https://www.oklink.com/api/v5/explorer/address/address-summary?address={ADDR}&chainShortName=eth"),
            format!(
                "https://WWW.OKLink.com:443/api/v5/explorer/address/address-summary?address={ADDR_CHECKSUM}&chainShortName=eth"
            ),
            format!(
                "https://www.oklink.com/api/v5/explorer/address/address-summary?chainShortName=%65th&address={ADDR}&_=1738250000123#top"
            ),
            format!(
                "https://www.oklink.com/api/v5/explorer/address/address-summary?&chainShortName=eth&t=99&address={ADDR}"
            ),
        ];
        let expected = key("GET", &base);
        for url in &spellings {
            assert_eq!(key("get", url), expected, "{url}");
        }
    }

    #[test]
    fn different_requests_keep_different_keys() {
        let a = key("GET", "https://www.oklink.com/api/x?chainShortName=eth&q=a+b");
        assert_ne!(a, key("GET", "https://www.oklink.com/api/x?chainShortName=polygon&q=a+b"));
        assert_ne!(a, key("GET", "https://www.oklink.com/api/x?chainShortName=eth&q=a%2Bb"), "+ is not %2B");
        assert_ne!(a, key("POST", "https://www.oklink.com/api/x?chainShortName=eth&q=a+b"));
        assert_ne!(a, key("GET", "https://www.oklink.com/api/X?chainShortName=eth&q=a+b"), "paths are case-sensitive");
        // Repeated parameters keep their order: ids=2&ids=1 may mean something else.
        assert_ne!(key("GET", "https://h/x?ids=1&ids=2"), key("GET", "https://h/x?ids=2&ids=1"));
    }

    #[test]
    fn short_keys_are_readable_long_ones_hashed() {
        assert_eq!(
            key("GET", "https://www.oklink.com/api/v5/explorer/blockchain/summary?chainShortName=eth"),
            "http:www.oklink.com:GET /api/v5/explorer/blockchain/summary?chainShortName=eth"
        );
        let long = key(
            "GET",
            &format!(
                "https://www.oklink.com/api/v5/explorer/address/address-summary?chainShortName=eth&address={ADDR}"
            ),
        );
        assert!(long.starts_with("http:www.oklink.com:sha256:"), "{long}");
        assert_eq!(long.len(), "http:www.oklink.com:sha256:".len() + 64);
    }

    #[test]
    fn escapes_are_normalised_not_all_decoded() {
        assert_eq!(normalise_escapes("%41%2f%7e"), "A%2F~");
        assert_eq!(normalise_escapes("a%2Bb+c"), "a%2Bb+c");
        assert_eq!(normalise_escapes("100%"), "100%");
        assert_eq!(normalise_escapes("%zz"), "%zz");
        assert_eq!(normalise_escapes("代币"), "代币");
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(Request::parse("GET", "www.oklink.com/api").is_err());
        assert!(Request::parse("GET", "https:///api").is_err());
        assert!(Request::parse("G E T", "https://h/").is_err());
        assert_eq!(Request::parse("GET", "https://h").unwrap().path, "/");
    }
}
