//! Following every process's writes to the database, so that the answers this instance keeps
//! in memory are dropped when another instance (or any other writer) changes their data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use patgate_events::tasks::Alive;
use patgate_persistence::changes::Changes;
use patgate_persistence::Db;

/// How often, by default, the follower reads what was committed: another instance's write is
/// reflected in this instance's kept answers at most this long after its commit.
pub const DEFAULT_POLL_MS: u64 = 20;
/// How long to wait before connecting again after the follower's connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Stops the follower thread when dropped.
#[derive(Debug)]
pub struct Following {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    alive: Alive,
}

impl Following {
    /// Whether the thread still runs: not once it has panicked.
    pub fn alive(&self) -> Alive {
        self.alive.clone()
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts following on a thread of its own, polling every `interval`. Until it has connected,
/// and whenever its connection is lost, nothing is kept or served from memory.
pub fn start(db: Db, interval: Duration) -> std::io::Result<Following> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let (running, alive) = Alive::pair();
    let thread = std::thread::Builder::new()
        .name("patgate-changes".to_owned())
        .spawn(move || {
            let _running = running;
            follow(&db, &flag, interval);
        })?;
    Ok(Following {
        stop,
        thread: Some(thread),
        alive,
    })
}

fn follow(db: &Db, stop: &AtomicBool, interval: Duration) {
    let changes: &Changes = db.changes();
    let mut failing = false;
    while !stop.load(Ordering::SeqCst) {
        match db.follower() {
            Ok(mut follower) => {
                changes.set_following(true);
                if failing {
                    failing = false;
                    tracing::info!("following the database's changes again");
                }
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(interval);
                    match follower.poll() {
                        Ok(seen) => seen.into_iter().for_each(|c| c.apply(changes)),
                        Err(e) => {
                            changes.set_following(false);
                            failing = true;
                            tracing::warn!(error = %e, "lost the database's changes; answers are not kept until they are followed again");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                if !failing {
                    failing = true;
                    tracing::warn!(error = %e, "cannot follow the database's changes; answers are not kept until it can");
                }
            }
        }
        let retry = std::time::Instant::now() + RECONNECT_AFTER;
        while !stop.load(Ordering::SeqCst) && std::time::Instant::now() < retry {
            std::thread::sleep(interval.min(RECONNECT_AFTER));
        }
    }
    changes.set_following(false);
}
