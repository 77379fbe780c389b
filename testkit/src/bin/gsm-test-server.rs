//! The Secret Manager test server as a process, for the benchmarks: listens on a free
//! loopback port, prints it, and serves until killed. Every token may do everything.
//! `GET /_calls` answers the API calls so far: `{"reads": n, "writes": n}`.

fn main() {
    let sm = rotor_testkit::gsm::SecretManager::start();
    sm.state.lock().unwrap().allow_any_token = true;
    println!("{}", sm.server.port);
    loop {
        std::thread::park();
    }
}
