//! Times as rotor reads and prints them: a key's age, a clock ahead of this one, and
//! durations in the `89d 23h 59m 51s` style every message uses. A leaf module: the
//! engine, the errors and the commands all print durations through it.

use std::time::Duration;

/// How far `t` is ahead of this host's clock, when more than a minute: a writer's
/// clock (or this one) is wrong, and the age of the key cannot be known.
pub fn ahead(t: jiff::Timestamp) -> Option<Duration> {
    let d = Duration::try_from(t.duration_since(jiff::Timestamp::now())).ok()?;
    (d > Duration::from_secs(60)).then_some(d)
}

/// How long ago `t` was (zero if in the future).
pub fn age(t: jiff::Timestamp) -> Duration {
    let d = jiff::Timestamp::now().duration_since(t);
    Duration::try_from(d).unwrap_or_default()
}

/// `89d 23h 59m 51s` style: days at most, zero parts left out, rounded to the second
/// (`4.9997s` is `5s`); under a second, milliseconds (`250ms`).
pub fn human(d: Duration) -> String {
    if d < Duration::from_millis(999) && !d.is_zero() {
        return format!("{}ms", d.as_millis().max(1));
    }
    let s = (d + Duration::from_millis(500)).as_secs();
    let parts = [
        (s / 86400, "d"),
        (s / 3600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if text.is_empty() {
        "0s".into()
    } else {
        text.join(" ")
    }
}
