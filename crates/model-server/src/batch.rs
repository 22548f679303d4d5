//! Dynamic batching, as Triton's dynamic batcher and MLServer's adaptive
//! batching do: calls for one model that arrive together are run as one
//! call of the model (a Python model is entered once per batch, not once
//! per request), and each caller gets its own slice of the answer, in
//! order.
//!
//! A batch closes when it holds [`Batching::max_size`] inputs, when its
//! first call has waited [`Batching::max_wait`], or when no call has
//! joined it for [`Batching::gap`]: under load the requests answered by
//! one batch come back as a burst, and waiting out `max_wait` after the
//! burst only adds latency (measured: 2 ms waits held 16 clients to 4,600
//! requests/s; closing after a 100 µs lull, 10,700). A call larger than
//! the limit runs alone, whole. A batch whose model call fails is run again
//! call by call, so a request the model raises on fails alone, not the
//! requests that happened to share its batch.
//!
//! Callers block (they run on tokio's blocking pool, see
//! [`crate::api::run_prediction`]); one worker thread per loaded model runs
//! the batches, and stops when the model is dropped (after the calls it
//! has queued are answered).

use crate::kinds::Failure;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How calls are batched, and the counters `/metrics` shows of it.
#[derive(Debug, Clone)]
pub struct Batching {
    /// Most inputs (texts, rows) in one model call.
    pub max_size: usize,
    /// Longest a call waits for others to join its batch.
    pub max_wait: Duration,
    /// A batch also closes once no call has joined it for this long.
    pub gap: Duration,
    pub stats: BatchStats,
}

/// The default [`Batching::gap`]: longer than the spacing of a burst of
/// requests on one machine (tens of µs), short beside a model call.
pub const GAP: Duration = Duration::from_micros(100);

impl Default for Batching {
    fn default() -> Self {
        Batching::new(32, Duration::from_millis(2))
    }
}

impl Batching {
    /// These limits with a lull of `gap` (at most `max_wait`) closing a batch.
    pub fn with_gap(mut self, gap: Duration) -> Batching {
        self.gap = gap.min(self.max_wait);
        self
    }

    pub fn new(max_size: usize, max_wait: Duration) -> Batching {
        let stats = BatchStats::default();
        stats.max_size.set(max_size.max(1) as i64);
        stats.max_wait_seconds.set(max_wait.as_secs_f64());
        Batching {
            max_size: max_size.max(1),
            max_wait,
            gap: GAP.min(max_wait),
            stats,
        }
    }
}

/// What batching did (shared by clone, as Prometheus metrics are).
#[derive(Debug, Clone)]
pub struct BatchStats {
    pub batches: Counter,
    /// Inputs per model call.
    pub sizes: Histogram,
    /// Batches that failed and were run again call by call.
    pub split_after_failure: Counter,
    pub max_size: Gauge,
    pub max_wait_seconds: Gauge<f64, AtomicU64>,
}

impl Default for BatchStats {
    fn default() -> Self {
        BatchStats {
            batches: Counter::default(),
            sizes: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            split_after_failure: Counter::default(),
            max_size: Gauge::default(),
            max_wait_seconds: Gauge::default(),
        }
    }
}

/// Runs one batch: the inputs of every call in it, in order, and whether
/// any asked for probabilities; one answer per input.
pub type RunBatch<T, R> = Box<dyn Fn(&[T], bool) -> Result<Vec<R>, Failure> + Send>;

type Answer<R> = Result<Vec<R>, Failure>;

struct Call<T, R> {
    inputs: Vec<T>,
    probabilities: bool,
    arrived: Instant,
    answer: mpsc::SyncSender<Answer<R>>,
}

struct Queue<T, R> {
    calls: VecDeque<Call<T, R>>,
    inputs: usize,
    closed: bool,
}

struct Shared<T, R> {
    queue: Mutex<Queue<T, R>>,
    ready: Condvar,
}

impl<T, R> Shared<T, R> {
    fn lock(&self) -> MutexGuard<'_, Queue<T, R>> {
        // A poisoned lock means a panic while the queue was edited, which
        // no code here can do (the model runs outside the lock).
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One model's batcher: [`Batcher::call`] from any number of threads.
pub struct Batcher<T, R> {
    shared: Arc<Shared<T, R>>,
    worker: Option<JoinHandle<()>>,
}

impl<T, R> std::fmt::Debug for Batcher<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Starts the worker thread (named after `name`) that runs batches
    /// with `run`.
    pub fn start(name: &str, batching: &Batching, run: RunBatch<T, R>) -> std::io::Result<Batcher<T, R>> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                calls: VecDeque::new(),
                inputs: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        });
        let worker = {
            let shared = shared.clone();
            let batching = batching.clone();
            std::thread::Builder::new()
                .name(format!("batch {name}"))
                .spawn(move || work(&shared, &batching, &run))?
        };
        Ok(Batcher {
            shared,
            worker: Some(worker),
        })
    }

    /// The answers for `inputs`, run in a batch with whatever other calls
    /// arrive meanwhile.
    pub fn call(&self, inputs: Vec<T>, probabilities: bool) -> Result<Vec<R>, Failure> {
        let (answer, answered) = mpsc::sync_channel(1);
        {
            let mut queue = self.shared.lock();
            queue.inputs += inputs.len();
            queue.calls.push_back(Call {
                inputs,
                probabilities,
                arrived: Instant::now(),
                answer,
            });
        }
        self.shared.ready.notify_one();
        answered
            .recv()
            .unwrap_or_else(|_| Err(Failure::Model("the model's batch worker stopped".into())))
    }
}

impl<T, R> Drop for Batcher<T, R> {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn work<T, R>(shared: &Shared<T, R>, batching: &Batching, run: &RunBatch<T, R>) {
    loop {
        let mut queue = shared.lock();
        while queue.calls.is_empty() && !queue.closed {
            queue = shared.ready.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
        let Some(first) = queue.calls.front() else {
            return; // closed, and every call answered
        };
        let first_arrived = first.arrived;
        let deadline = first_arrived + batching.max_wait;
        while queue.inputs < batching.max_size && !queue.closed {
            let newest = queue.calls.back().map_or(first_arrived, |c| c.arrived);
            let until = deadline.min(newest + batching.gap);
            let now = Instant::now();
            if now >= until {
                break;
            }
            queue = shared
                .ready
                .wait_timeout(queue, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let mut batch = Vec::new();
        let mut size = 0;
        while let Some(call) = queue.calls.front() {
            if !batch.is_empty() && size + call.inputs.len() > batching.max_size {
                break;
            }
            size += call.inputs.len();
            queue.inputs -= call.inputs.len();
            batch.extend(queue.calls.pop_front());
        }
        drop(queue);
        answer(batch, size, batching, run);
    }
}

/// Runs `batch` (of `size` inputs) and answers each call; a failed batch
/// of several calls is run again call by call.
fn answer<T, R>(batch: Vec<Call<T, R>>, size: usize, batching: &Batching, run: &RunBatch<T, R>) {
    let probabilities = batch.iter().any(|c| c.probabilities);
    let mut inputs = Vec::with_capacity(size);
    let mut counts = Vec::with_capacity(batch.len());
    let mut answers = Vec::with_capacity(batch.len());
    for call in batch {
        counts.push(call.inputs.len());
        inputs.extend(call.inputs);
        answers.push(call.answer);
    }
    batching.stats.batches.inc();
    batching.stats.sizes.observe(size as f64);
    match run_checked(run, &inputs, probabilities) {
        Ok(results) => {
            let mut results = results.into_iter();
            for (n, answer) in counts.into_iter().zip(answers) {
                let _ = answer.send(Ok(results.by_ref().take(n).collect()));
            }
        }
        Err(e) if answers.len() == 1 => {
            let _ = answers[0].send(Err(e));
        }
        Err(_) => {
            batching.stats.split_after_failure.inc();
            let mut inputs = inputs.into_iter();
            for (n, answer) in counts.into_iter().zip(answers) {
                let own: Vec<T> = inputs.by_ref().take(n).collect();
                batching.stats.batches.inc();
                batching.stats.sizes.observe(n as f64);
                let _ = answer.send(run_checked(run, &own, probabilities));
            }
        }
    }
}

/// `run`, with a panic caught (the worker must outlive any model) and the
/// count of answers checked.
fn run_checked<T, R>(run: &RunBatch<T, R>, inputs: &[T], probabilities: bool) -> Answer<R> {
    let results = catch_unwind(AssertUnwindSafe(|| run(inputs, probabilities))).unwrap_or_else(|_| {
        Err(Failure::Model(
            "the model stopped on this batch (a panic, caught)".into(),
        ))
    })?;
    if results.len() != inputs.len() {
        return Err(Failure::Model(format!(
            "the model gave {} answers for {} inputs",
            results.len(),
            inputs.len()
        )));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oip::ProtocolError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Doubles each input; refuses 13 (a "bad request") and panics on 99.
    fn doubler(calls: Arc<Mutex<Vec<usize>>>) -> RunBatch<u32, u32> {
        Box::new(move |inputs: &[u32], _| {
            calls.lock().unwrap().push(inputs.len());
            if inputs.contains(&99) {
                panic!("99");
            }
            if inputs.contains(&13) {
                return Err(Failure::Request(ProtocolError("13 is refused".into())));
            }
            Ok(inputs.iter().map(|x| x * 2).collect())
        })
    }

    #[test]
    fn concurrent_calls_share_batches_and_each_gets_its_own_answers_in_order() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let batching = Batching::new(32, Duration::from_millis(50)).with_gap(Duration::from_millis(50));
        let batcher = Arc::new(Batcher::start("test", &batching, doubler(sizes.clone())).unwrap());
        let threads: Vec<_> = (0..16u32)
            .map(|t| {
                let batcher = batcher.clone();
                std::thread::spawn(move || {
                    let inputs: Vec<u32> = (0..t % 3 + 1).map(|i| t * 100 + i).collect();
                    let got = batcher.call(inputs.clone(), false).unwrap();
                    assert_eq!(got, inputs.iter().map(|x| x * 2).collect::<Vec<_>>());
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), (0..16).map(|t| t % 3 + 1).sum::<usize>());
        assert!(sizes.len() < 16, "16 calls in 50 ms were not batched: {sizes:?}");
        assert!(sizes.iter().all(|&s| s <= 32), "{sizes:?}");
    }

    #[test]
    fn a_failing_call_fails_alone_and_a_panic_does_not_stop_the_worker() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let batching = Batching::new(32, Duration::from_millis(100)).with_gap(Duration::from_millis(100));
        let batcher = Arc::new(Batcher::start("test", &batching, doubler(sizes)).unwrap());
        let ok = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for x in [1u32, 13, 2, 99, 3] {
                let (batcher, ok) = (&batcher, &ok);
                s.spawn(move || match (x, batcher.call(vec![x], false)) {
                    (13, Err(Failure::Request(e))) => assert!(e.0.contains("13 is refused")),
                    (99, Err(Failure::Model(e))) => assert!(e.contains("panic"), "{e}"),
                    (x, Ok(v)) => {
                        assert_eq!(v, vec![x * 2]);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    (x, other) => panic!("{x}: {other:?}"),
                });
            }
        });
        assert_eq!(ok.load(Ordering::Relaxed), 3);
        assert_eq!(batcher.call(vec![4], false).unwrap(), vec![8], "the worker still runs");
        assert!(batching.stats.split_after_failure.get() >= 1);
    }

    #[test]
    fn a_batch_closes_at_its_size_and_a_large_call_runs_whole() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let batching = Batching::new(4, Duration::from_secs(5));
        let batcher = Batcher::start("test", &batching, doubler(sizes.clone())).unwrap();
        let started = Instant::now();
        assert_eq!(batcher.call((0..10).collect(), false).unwrap().len(), 10);
        assert_eq!(batcher.call((0..4).collect(), false).unwrap().len(), 4);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a full batch waited out max_wait"
        );
        assert_eq!(sizes.lock().unwrap().clone(), vec![10, 4]);
        drop(batcher); // joins the worker
    }

    #[test]
    fn a_lone_call_waits_a_lull_not_the_longest_wait() {
        let batching = Batching::new(32, Duration::from_secs(5));
        assert_eq!(batching.gap, GAP);
        let batcher = Batcher::start("test", &batching, doubler(Arc::default())).unwrap();
        let started = Instant::now();
        assert_eq!(batcher.call(vec![1], false).unwrap(), vec![2]);
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }
}
