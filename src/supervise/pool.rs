//! The worker pool: one thread at a time waits in `NOTIF_RECV` and answers
//! quick calls itself; before a call that may block, or when its handler
//! runs too long, it hands the receiving over to another thread.
//!
//! Why one receiver: every thread blocked in `NOTIF_RECV` is woken for
//! every notification (bench/README.md: 7 µs a round trip with one waiter,
//! 20 µs with four). So the receiver role is a token: exactly one thread
//! holds it, and only that thread calls RECV. A hand-off gives the token to
//! a parked standby thread (a futex wake), or starts a new thread when none
//! is parked. The old receiver finishes its call, then parks as a standby
//! or exits.
//!
//! Every call being handled is listed in the pool's table, so that the
//! watchdog (`watchdog.rs`) can see how long it has run, hand the receiving
//! over when the receiver itself is stuck, and interrupt a worker whose
//! caller died or has a signal to take.

use super::Shared;
use crate::sys::process;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Standby threads parked beyond this many exit: one is enough to make a
/// hand-off a single wake-up, two absorb a burst.
const MAX_STANDBY: usize = 2;

/// Descriptors one blocked call may hold at once (its resolved directory,
/// its own new descriptor, a socket copy and a passed descriptor or two),
/// used to size the pool to the descriptor limit.
const FDS_PER_CALL: u64 = 4;

/// Descriptors kept for everything else: the listener, caches, the report
/// log, the standard streams.
const RESERVED_FDS: u64 = 256;

/// An upper bound on threads, whatever the descriptor limit.
const MAX_THREADS: usize = 4096;

/// Why the watchdog interrupted a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The caller has a signal to take: answer as the kernel would for an
    /// interrupted call (EINTR, or a restart under SA_RESTART).
    Signal,
    /// The caller is gone (died, or left the call): nothing to answer.
    Gone,
}

/// One call in the hands of a worker.
#[derive(Debug)]
pub struct InFlight {
    /// The worker thread, for the interrupt signal.
    pub worker: i32,
    /// The notification.
    pub id: u64,
    /// The calling thread.
    pub caller: u32,
    /// When the worker received it.
    pub started: Instant,
    /// The worker still holds the receiver role.
    pub receiver: bool,
    /// When the watchdog looks at it next.
    pub next_check: Instant,
    /// Set by the watchdog once it has decided to interrupt the call.
    pub interrupt: Option<Interrupt>,
}

/// How a call ended, for its worker.
struct Finished {
    received_alone: bool,
    receiver: bool,
    interrupt: Option<Interrupt>,
}

/// The pool's shared state, under one lock.
#[derive(Debug, Default)]
pub struct State {
    /// The receiver role is free: the next standby to wake takes it.
    pub receiver_free: bool,
    /// Threads parked as standby.
    standby: usize,
    /// Threads alive (receiver, standby and busy ones).
    threads: usize,
    /// The listener is gone: every thread exits.
    pub done: bool,
    /// The watchdog sleeps until a call begins (nothing was in flight for
    /// a while): the next call to begin wakes it.
    pub watchdog_idle: bool,
    /// Calls being handled, by slot.
    pub calls: Vec<Option<InFlight>>,
    free_slots: Vec<usize>,
}

/// The worker pool.
#[derive(Debug)]
pub struct Pool {
    state: Mutex<State>,
    standby: Condvar,
    /// Where the watchdog sleeps between rounds.
    pub(super) watchdog: Condvar,
    /// The most threads at once, from the descriptor limit.
    max_threads: usize,
}

impl Pool {
    /// A pool sized for `nofile` descriptors.
    pub fn new(nofile: u64) -> Pool {
        let by_fds = nofile.saturating_sub(RESERVED_FDS) / FDS_PER_CALL;
        Pool {
            state: Mutex::new(State::default()),
            standby: Condvar::new(),
            watchdog: Condvar::new(),
            max_threads: (by_fds as usize).clamp(4, MAX_THREADS),
        }
    }

    /// The pool's state, locked.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the first receiver and one standby.
    pub fn start(shared: &Arc<Shared>) {
        let mut state = shared.pool.lock();
        for receiver in [true, false] {
            spawn_worker(shared, &mut state, receiver);
        }
    }

    /// Records a call as received by this worker, the receiver.
    fn begin(&self, worker: i32, id: u64, caller: u32, started: Instant) -> usize {
        let entry = InFlight {
            worker,
            id,
            caller,
            started,
            receiver: true,
            next_check: started + super::watchdog::FIRST_CHECK,
            interrupt: None,
        };
        let mut state = self.lock();
        if state.watchdog_idle {
            state.watchdog_idle = false;
            self.watchdog.notify_one();
        }
        match state.free_slots.pop() {
            Some(slot) => {
                state.calls[slot] = Some(entry);
                slot
            }
            None => {
                state.calls.push(Some(entry));
                state.calls.len() - 1
            }
        }
    }

    /// Removes a finished call. Returns whether this worker held the
    /// receiver role all through the call (no other thread received
    /// meanwhile), whether it holds it now (it takes it back when nobody
    /// else could), and whether the watchdog interrupted the call.
    fn finish(&self, slot: usize) -> Finished {
        let mut state = self.lock();
        let entry = state.calls[slot].take().expect("a call in flight");
        state.free_slots.push(slot);
        let mut receiver = entry.receiver;
        if !receiver && state.receiver_free {
            state.receiver_free = false;
            receiver = true;
        }
        Finished {
            received_alone: entry.receiver,
            receiver,
            interrupt: entry.interrupt,
        }
    }

    /// Whether the watchdog has decided to interrupt the call in `slot`.
    pub fn interrupted(&self, slot: usize) -> bool {
        self.lock().calls[slot]
            .as_ref()
            .is_some_and(|c| c.interrupt.is_some())
    }
}

/// Gives the receiver role of the call in `slot` to another thread, before
/// the call blocks. False when no thread can take it (the pool is full):
/// the caller must then not block.
pub fn hand_off(shared: &Arc<Shared>, slot: usize) -> bool {
    let mut state = shared.pool.lock();
    let holds = state.calls[slot].as_ref().is_some_and(|c| c.receiver);
    if !holds {
        return true;
    }
    if !give_receiver_role(shared, &mut state) {
        // Nobody can take it: keep receiving, and do not block.
        state.receiver_free = false;
        return false;
    }
    if let Some(call) = state.calls[slot].as_mut() {
        call.receiver = false;
    }
    true
}

/// Makes another thread the receiver: a standby if one is parked, else a
/// new thread. With neither (the pool is full, or no thread could start),
/// the role is left free for the first worker to finish its call, and the
/// result is false.
pub fn give_receiver_role(shared: &Arc<Shared>, state: &mut State) -> bool {
    if state.standby > 0 {
        state.receiver_free = true;
        shared.pool.standby.notify_one();
        true
    } else if state.threads < shared.pool.max_threads && spawn_worker(shared, state, true) {
        true
    } else {
        state.receiver_free = true;
        false
    }
}

fn spawn_worker(shared: &Arc<Shared>, state: &mut State, receiver: bool) -> bool {
    let worker_shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("stockade-worker".into())
        .stack_size(256 * 1024)
        .spawn(move || worker(worker_shared, receiver));
    if spawned.is_ok() {
        state.threads += 1;
    }
    spawned.is_ok()
}

fn worker(shared: Arc<Shared>, mut receiver: bool) {
    // A private umask and working directory for emulating the caller's.
    if process::unshare_fs().is_err() {
        let mut state = shared.pool.lock();
        state.threads -= 1;
        if receiver {
            state.receiver_free = true;
            shared.pool.standby.notify_one();
        }
        return;
    }
    let me = process::tid();
    loop {
        if !receiver && !park(&shared) {
            break;
        }
        receiver = true;
        // Only the holder of the role is here. Blocking in RECV itself is
        // the cheapest wait measured (bench/README.md): poll(2) or epoll
        // first adds a wake-up.
        let n = match shared.listener.receive() {
            Ok(n) => n,
            Err(e) if e.0 == libc::EINTR => continue,
            // ENOENT: the caller died before we took its call, or, when it
            // keeps coming, nobody uses the filter any more.
            Err(e) if e.0 == libc::ENOENT && !shared.listener.hung_up() => continue,
            Err(_) => {
                let mut state = shared.pool.lock();
                state.done = true;
                shared.pool.standby.notify_all();
                shared.pool.watchdog.notify_all();
                break;
            }
        };
        let started = Instant::now();
        let slot = shared.pool.begin(me, n.id, n.pid, started);
        let reply = super::dispatch(&shared, n, slot);
        let finished = shared.pool.finish(slot);
        receiver = finished.receiver;
        super::respond(
            &shared,
            n,
            reply,
            finished.interrupt,
            finished.received_alone,
            started,
        );
    }
    shared.pool.lock().threads -= 1;
}

/// Parks the calling thread as a standby until the receiver role is free.
/// False when it should exit instead.
fn park(shared: &Shared) -> bool {
    let mut state = shared.pool.lock();
    if state.standby >= MAX_STANDBY {
        return false;
    }
    state.standby += 1;
    while !state.receiver_free && !state.done {
        state = shared
            .pool
            .standby
            .wait(state)
            .unwrap_or_else(|p| p.into_inner());
    }
    state.standby -= 1;
    if state.done {
        return false;
    }
    state.receiver_free = false;
    true
}
