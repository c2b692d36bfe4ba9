//! A barrier for the trainer's threads that spins instead of sleeping.
//!
//! Every batch ends with the threads waiting while one of them sums the
//! gradients and steps the optimizer (tens of microseconds). Rayon's
//! `join` puts an idle thread to sleep after a short spin, and waking it
//! again on every batch (a futex, and on a virtual machine an
//! inter-processor interrupt) cost about as much as that sequential step:
//! two threads trained at 1.3-1.6x one thread's speed. Waiting here spins
//! with `spin_loop` for a while, then yields the core to other processes
//! between checks, so the threads stay awake through the whole epoch.

use core::hint::spin_loop;
use core::sync::atomic::{
    AtomicBool, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// Spins before a waiting thread starts yielding its core (about 10-50 µs).
const SPINS: u32 = 1 << 12;

/// A reusable barrier for a fixed number of threads.
pub(super) struct SpinBarrier {
    threads: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
}

impl SpinBarrier {
    pub(super) fn new(threads: usize) -> Self {
        Self {
            threads,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Returns once all threads have called `wait` (as often as this one):
    /// what each wrote before is visible to all after. Panics if a thread
    /// of the crew has panicked (see [`SpinBarrier::guard`]), which would
    /// otherwise leave the others waiting for ever.
    pub(super) fn wait(&self) {
        let generation = self.generation.load(Acquire);
        if self.arrived.fetch_add(1, AcqRel) + 1 == self.threads {
            // Reset before releasing: a thread released can arrive at the
            // next wait only after it sees the new generation.
            self.arrived.store(0, Relaxed);
            self.generation.store(generation.wrapping_add(1), Release);
            return;
        }
        let mut spins = 0;
        while self.generation.load(Acquire) == generation {
            if self.poisoned.load(Relaxed) {
                panic!("another training thread panicked");
            }
            if spins < SPINS {
                spins += 1;
                spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Held by each thread while it takes part: if the thread panics, the
    /// others' waits panic instead of spinning for ever.
    pub(super) fn guard(&self) -> Guard<'_> {
        Guard(self)
    }
}

/// See [`SpinBarrier::guard`].
pub(super) struct Guard<'a>(&'a SpinBarrier);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SpinBarrier;
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// Each round, every thread adds to a counter, waits, and checks that
    /// all threads' additions are there; waits again before the next round.
    #[test]
    fn threads_meet_every_round() {
        const THREADS: usize = 3;
        const ROUNDS: usize = 200;
        let barrier = SpinBarrier::new(THREADS);
        let count = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    let _guard = barrier.guard();
                    for round in 1..=ROUNDS {
                        count.fetch_add(1, Relaxed);
                        barrier.wait();
                        assert_eq!(count.load(Relaxed), round * THREADS);
                        barrier.wait();
                    }
                });
            }
        });
    }

    /// A thread that panics makes the others' waits panic, not hang.
    #[test]
    fn a_panic_releases_the_others() {
        let barrier = SpinBarrier::new(2);
        let result = std::panic::catch_unwind(|| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    let _guard = barrier.guard();
                    panic!("worker fails");
                });
                s.spawn(|| {
                    let _guard = barrier.guard();
                    barrier.wait();
                });
            })
        });
        assert!(result.is_err());
    }
}
