//! API keys: who may do what. A key names one account (or none, for admin keys) and its scopes;
//! its secret signs requests (`auth`). The store is a JSON file in the data directory, written
//! atomically and readable only by its owner; secrets are never logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read the key's own account, orders and the public data.
    Read,
    /// Place, amend and cancel orders; leverage, margin mode, withdrawals.
    Trade,
    /// Everything an operator does: deposits, markets, keys, halts, oracle input.
    Admin,
}

/// One API key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    /// The public identifier sent with each request.
    pub key: String,
    /// The HMAC secret (hex). Never logged, shown once when created.
    pub secret: String,
    /// The account the key acts for (admin keys may have none).
    pub account: Option<u64>,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Revoked keys are kept (for the audit trail) but refused.
    #[serde(default)]
    pub revoked: bool,
}

impl ApiKey {
    /// Whether the key has `scope` (admin implies every scope).
    #[must_use]
    pub fn allows(&self, scope: Scope) -> bool {
        !self.revoked && (self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin))
    }
}

/// The key store.
#[derive(Debug, Default)]
pub struct KeyStore {
    path: PathBuf,
    keys: BTreeMap<String, ApiKey>,
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl KeyStore {
    /// Loads `dir/keys.json`, or starts empty.
    ///
    /// # Errors
    /// The file exists but can't be read or parsed.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let path = dir.join("keys.json");
        let keys = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Self { path, keys })
    }

    /// Whether no key exists yet (first start).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A key by its public id.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&ApiKey> {
        self.keys.get(key)
    }

    /// Creates a key with a fresh random id and secret, and saves the store.
    ///
    /// # Errors
    /// The store can't be written.
    pub fn create(&mut self, account: Option<u64>, scopes: Vec<Scope>) -> Result<ApiKey, String> {
        let key =
            ApiKey { key: format!("pk_{}", random_hex(12)), secret: random_hex(32), account, scopes, revoked: false };
        self.keys.insert(key.key.clone(), key.clone());
        self.save()?;
        Ok(key)
    }

    /// Revokes a key; `Ok(false)` if there is no such key.
    ///
    /// # Errors
    /// The store can't be written.
    pub fn revoke(&mut self, key: &str) -> Result<bool, String> {
        let Some(k) = self.keys.get_mut(key) else { return Ok(false) };
        k.revoked = true;
        self.save()?;
        Ok(true)
    }

    /// Replaces a key's secret; the new key is returned (shown once).
    ///
    /// # Errors
    /// The store can't be written.
    pub fn rotate(&mut self, key: &str) -> Result<Option<ApiKey>, String> {
        let Some(k) = self.keys.get_mut(key) else { return Ok(None) };
        if k.revoked {
            return Ok(None);
        }
        k.secret = random_hex(32);
        let k = k.clone();
        self.save()?;
        Ok(Some(k))
    }

    /// The keys, secrets blanked.
    #[must_use]
    pub fn list(&self) -> Vec<ApiKey> {
        self.keys.values().map(|k| ApiKey { secret: String::new(), ..k.clone() }).collect()
    }

    /// Writes the store atomically (temporary file, fsync, rename), owner-readable only.
    fn save(&self) -> Result<(), String> {
        use std::io::Write;
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.keys).map_err(|e| e.to_string())?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
