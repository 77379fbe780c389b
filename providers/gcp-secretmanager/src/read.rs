//! What a secret holds, read in one pass: its metadata, its newest version, the versions
//! rotor's aliases name (or the newest one's document), and the state of the versions a
//! write in progress retires; and the key set they make.

use rotor_provider::{Error, Key, KeySet, Result, Target as _};

use crate::GcpSecretManagerTarget;
use crate::config::Layout;
use crate::layout::{ANN_ROTATED_AT, ANN_ROTATION_ID, Held, parse_document};

impl GcpSecretManagerTarget {
    /// What the secret holds now (nothing: no such secret).
    ///
    /// A read takes several calls: the aliases first, then the versions they name. A
    /// writer that moves the aliases and disables a version in between makes that
    /// version unreadable: when a version cannot be read and the secret's etag has moved
    /// since, the read starts again (at most three times).
    pub(crate) async fn held(&self) -> Result<Held> {
        let mut tries = 0;
        loop {
            let mut etag = String::new();
            match self.held_once(&mut etag).await {
                Err(e @ Error::Invalid { .. }) if tries < 3 => {
                    let moved = self.get_secret().await?.is_none_or(|now| now.etag != etag);
                    if !moved {
                        return Err(e);
                    }
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    async fn held_once(&self, etag: &mut String) -> Result<Held> {
        let Some(meta) = self.get_secret().await? else {
            return Ok(Held::default());
        };
        etag.clone_from(&meta.etag);
        let mut held = Held {
            etag: meta.etag,
            aliases: meta.aliases,
            annotations: meta.annotations,
            ..Held::default()
        };
        held.latest = self.latest().await?;
        match self.config.layout {
            Layout::Aliases => {
                let names = self.config.aliases.in_order();
                let mut read: Vec<i64> = Vec::new();
                for name in names {
                    if let Some(&n) = held.aliases.get(name)
                        && !read.contains(&n)
                    {
                        let text = self.access(n, &format!("the alias {name}")).await?;
                        held.keys.push((n, Key::new(text)));
                        read.push(n);
                    }
                }
                // During a write, the newest version may be the one it added and has not
                // named yet: read it, so a lost answer can be seen to have landed.
                if let Some(n) = held.latest
                    && held.writing().is_some()
                    && !read.contains(&n)
                {
                    match self.access(n, "the newest version").await {
                        Ok(text) => held.keys.push((n, Key::new(text))),
                        Err(Error::Invalid { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Layout::Json => {
                if let Some(n) = held.latest {
                    let text = self.access(n, "the newest version").await?;
                    held.doc = parse_document(&text).map_err(|detail| Error::Invalid {
                        location: self.location(),
                        detail: format!("version {n}: {detail}"),
                    })?;
                }
            }
        }
        for n in held.retiring_listed() {
            let enabled = self
                .version_state(n)
                .await?
                .is_some_and(|s| s == "ENABLED" || (self.destroys() && s == "DISABLED"));
            held.retiring.push((n, enabled));
        }
        Ok(held)
    }

    /// The key set `held` makes (`None`: the store holds none).
    pub(crate) fn key_set(&self, held: &Held) -> Result<Option<KeySet>> {
        if self.config.layout == Layout::Json {
            return Ok(held.doc.clone());
        }
        let names = self.config.aliases.in_order();
        let key = |slot: usize| -> Option<Key> {
            let n = held.aliases.get(names[slot])?;
            held.keys
                .iter()
                .find(|(m, _)| m == n)
                .map(|(_, k)| k.clone())
        };
        let rotation_id = held.annotations.get(ANN_ROTATION_ID).cloned();
        let Some(current) = key(0) else {
            let partial = rotor_provider::keyset::Partial {
                previous: key(1),
                pending: key(2),
                rotation_id: rotation_id.clone(),
            };
            if let Some(detail) = partial.into_error() {
                return Err(Error::Invalid {
                    location: self.location(),
                    detail,
                });
            }
            if held.latest.is_some() && held.writing().is_none() {
                return Err(Error::Invalid {
                    location: self.location(),
                    detail: format!(
                        "the secret has versions but no `{}` alias, so rotor cannot tell which key services use; \
                         point the alias at it (`gcloud secrets update {} --project {} --update-version-aliases={}=N`)",
                        names[0], self.config.secret, self.config.project, names[0]
                    ),
                });
            }
            return Ok(None);
        };
        let rotated_at = match held.annotations.get(ANN_ROTATED_AT) {
            None => None,
            Some(t) => Some(t.parse().map_err(|e| Error::Invalid {
                location: self.location(),
                detail: format!("the annotation {ANN_ROTATED_AT} is not an RFC 3339 time: {e}"),
            })?),
        };
        Ok(Some(KeySet {
            current,
            previous: key(1),
            pending: key(2),
            rotated_at,
            rotation_id,
        }))
    }
}
