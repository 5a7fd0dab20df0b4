//! The watchdog: one thread that looks at the calls in flight every few
//! milliseconds.
//!
//! - A receiver stuck in a handler (a slow file system, a call nobody
//!   foresaw blocking) hands the receiving over, so the other calls go on.
//! - A call whose caller is gone (`NOTIF_ID_VALID` fails: it died, or was
//!   killed) is abandoned: its worker is interrupted.
//! - A call whose caller has a signal to take is interrupted and answered
//!   with `ERESTARTSYS` (design decision 9). `WAIT_KILLABLE_RECV` keeps the
//!   caller waiting for our answer through anything but a fatal signal, so
//!   without this a handled signal would wait for the emulated call to end
//!   (an alarm around a blocking connect, make's SIGTERM handler).
//!
//! Interrupting a worker: the watchdog sends it [`interrupt_signal`], whose
//! handler does nothing and is installed without `SA_RESTART`, so the
//! worker's blocking system call fails with EINTR. The signal goes only to
//! a worker still listed with the call, under the pool's lock, and again on
//! every round until the call ends (the first may land just before the
//! worker enters its blocking call).

use super::Shared;
use super::pool::{self, Interrupt};
use crate::sys::process;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the watchdog looks.
const TICK: Duration = Duration::from_millis(5);

/// A call is first examined this long after it was received: quick calls
/// never are.
pub const FIRST_CHECK: Duration = Duration::from_millis(5);

/// The longest wait between two looks at one call: how late a signal can
/// be noticed for a call blocked for long. The interval grows with the
/// call's age, so hundreds of blocked calls cost little.
const MAX_INTERVAL: Duration = Duration::from_millis(100);

/// Rounds with nothing in flight after which the watchdog sleeps until a
/// call begins: an idle tree costs no wake-ups, and a busy one no more
/// than one wake-up per 100 ms pause.
const IDLE_ROUNDS: u32 = 20;

/// A receiver whose handler has run this long hands the receiving over.
const RECEIVER_STALL: Duration = Duration::from_millis(5);

/// The signal that interrupts a worker's blocking call.
pub fn interrupt_signal() -> i32 {
    libc::SIGRTMIN() + 1
}

/// Installs the interrupt handler and starts the watchdog.
pub fn start(shared: &Arc<Shared>) -> Result<(), crate::sys::Errno> {
    process::install_interrupt_handler(interrupt_signal())?;
    let shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name("stockade-watchdog".into())
        .stack_size(128 * 1024)
        .spawn(move || run(&shared))
        .map(drop)
        .map_err(|e| crate::sys::Errno(e.raw_os_error().unwrap_or(libc::EAGAIN)))
}

/// A call to examine outside the lock.
struct Due {
    slot: usize,
    id: u64,
    caller: u32,
}

fn run(shared: &Arc<Shared>) {
    let mut due = Vec::new();
    let mut empty_rounds = 0;
    loop {
        {
            let mut state = shared.pool.lock();
            if state.done {
                return;
            }
            if empty_rounds >= IDLE_ROUNDS {
                state.watchdog_idle = true;
                while state.watchdog_idle && !state.done {
                    state = shared
                        .pool
                        .watchdog
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                }
                empty_rounds = 0;
            }
            let (mut state, _) = shared
                .pool
                .watchdog
                .wait_timeout(state, TICK)
                .unwrap_or_else(|p| p.into_inner());
            if state.done {
                return;
            }
            if state.calls.iter().all(Option::is_none) {
                empty_rounds += 1;
            } else {
                empty_rounds = 0;
            }
            let now = Instant::now();
            let mut stuck = None;
            for (slot, call) in state.calls.iter_mut().enumerate() {
                let Some(call) = call else { continue };
                let age = now.saturating_duration_since(call.started);
                if call.receiver && age >= RECEIVER_STALL {
                    stuck = Some(slot);
                }
                if call.interrupt.is_some() {
                    let _ = process::thread_kill(call.worker, interrupt_signal());
                } else if now >= call.next_check {
                    call.next_check = now + (age / 2).clamp(TICK, MAX_INTERVAL);
                    due.push(Due {
                        slot,
                        id: call.id,
                        caller: call.caller,
                    });
                }
            }
            if let Some(slot) = stuck {
                if let Some(call) = state.calls[slot].as_mut() {
                    call.receiver = false;
                }
                // When no thread can take it, the role waits, free, for the
                // first worker to finish.
                let _ = pool::give_receiver_role(shared, &mut state);
            }
        }
        for d in due.drain(..) {
            let Some(reason) = examine(shared, d.id, d.caller) else {
                continue;
            };
            let mut state = shared.pool.lock();
            if let Some(call) = state.calls[d.slot].as_mut()
                && call.id == d.id
                && call.interrupt.is_none()
            {
                call.interrupt = Some(reason);
                let _ = process::thread_kill(call.worker, interrupt_signal());
            }
        }
    }
}

/// Whether the call must be interrupted, and why.
fn examine(shared: &Shared, id: u64, caller: u32) -> Option<Interrupt> {
    if !shared.listener.id_valid(id) {
        return Some(Interrupt::Gone);
    }
    let mut text = Vec::with_capacity(4096);
    if shared.callers.read_status(caller, &mut text).is_err() {
        return None;
    }
    // The thread may have died and its id been reused between the two
    // looks: the status read must be the caller's.
    if !shared.listener.id_valid(id) {
        return Some(Interrupt::Gone);
    }
    let signals = SignalState::parse(&text);
    (signals.deliverable(caller) != 0).then_some(Interrupt::Signal)
}

/// The signal fields of `/proc/TID/status`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SignalState {
    /// Thread group id.
    pub tgid: u32,
    /// Threads in the group.
    pub threads: u32,
    /// Pending for this thread (`SigPnd`).
    pub thread_pending: u64,
    /// Pending for the whole process (`ShdPnd`).
    pub shared_pending: u64,
    /// Blocked by this thread (`SigBlk`).
    pub blocked: u64,
    /// Ignored (`SigIgn`).
    pub ignored: u64,
}

impl SignalState {
    /// Parses the text of `/proc/TID/status`.
    pub fn parse(text: &[u8]) -> SignalState {
        let mut st = SignalState::default();
        for line in text.split(|&b| b == b'\n') {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let value = String::from_utf8_lossy(&line[colon + 1..]);
            let value = value.trim();
            let hex = || u64::from_str_radix(value, 16).unwrap_or(0);
            match &line[..colon] {
                b"Tgid" => st.tgid = value.parse().unwrap_or(0),
                b"Threads" => st.threads = value.parse().unwrap_or(0),
                b"SigPnd" => st.thread_pending = hex(),
                b"ShdPnd" => st.shared_pending = hex(),
                b"SigBlk" => st.blocked = hex(),
                b"SigIgn" => st.ignored = hex(),
                _ => {}
            }
        }
        st
    }

    /// The signals that thread `tid` would take now if it were not waiting
    /// for us: pending, not blocked, not ignored (caught ones run their
    /// handler, default ones stop or end it). A signal pending for the whole
    /// process counts when `tid` is its only thread or its leader, whom the
    /// kernel prefers (complete_signal in kernel/signal.c); in a process of
    /// several threads another one may take it, as the kernel may have it
    /// do, and replying ERESTARTSYS to a thread without the signal would
    /// hand it errno 512.
    pub fn deliverable(&self, tid: u32) -> u64 {
        let mut pending = self.thread_pending;
        if self.threads <= 1 || self.tgid == tid {
            pending |= self.shared_pending;
        }
        pending & !self.blocked & !self.ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &[u8] = b"Name:\tpython3\nTgid:\t40\nPid:\t41\nThreads:\t2\n\
SigQ:\t1/63413\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000002000\n\
SigBlk:\t0000000000000000\nSigIgn:\t0000000001001000\nSigCgt:\t0000000100002002\n";

    #[test]
    fn signal_state_parses_the_masks() {
        let st = SignalState::parse(STATUS);
        assert_eq!(st.tgid, 40);
        assert_eq!(st.threads, 2);
        assert_eq!(st.shared_pending, 1 << (libc::SIGALRM - 1));
        assert_eq!(st.ignored, 0x1001000);
    }

    #[test]
    fn a_process_signal_counts_for_the_leader_only() {
        let st = SignalState::parse(STATUS);
        assert_eq!(st.deliverable(40), 1 << (libc::SIGALRM - 1));
        assert_eq!(st.deliverable(41), 0);
    }

    #[test]
    fn blocked_and_ignored_signals_are_not_deliverable() {
        let mut st = SignalState::parse(STATUS);
        st.thread_pending = 1 << (libc::SIGUSR1 - 1);
        st.blocked = st.thread_pending;
        assert_eq!(st.deliverable(41), 0);
        st.blocked = 0;
        st.ignored |= st.thread_pending;
        assert_eq!(st.deliverable(41), 0);
        st.ignored = 0;
        assert_eq!(st.deliverable(41), 1 << (libc::SIGUSR1 - 1));
    }
}
