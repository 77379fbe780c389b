//! Test-only fail points at step boundaries, named by `ROTOR_FAILPOINT=ACTION@POINT`:
//!
//! - `kill@after:stage.write` — SIGKILL the process right after the store write of
//!   `stage.write`, before the journal records it (what a crash or `kill -9` does);
//! - `pause@before:promote.write` — print `rotor: paused at before:promote.write` on stderr
//!   and wait for a line on stdin, so a test can change the store in between.
//!
//! Points are `before:STEP` and `after:STEP`, and `between:publish.read.write` (a JWKS
//! place read, not yet written). Unset (always, in production) it costs one
//! environment lookup per step.

pub fn hit(point: &str) {
    let Ok(spec) = std::env::var("ROTOR_FAILPOINT") else {
        return;
    };
    for one in spec.split(',') {
        let Some((action, at)) = one.split_once('@') else {
            continue;
        };
        if at != point {
            continue;
        }
        match action {
            "kill" => {
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            }
            "pause" => {
                rotor_provider::warn_line(&format!("rotor: paused at {point}"));
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            }
            _ => {}
        }
    }
}
